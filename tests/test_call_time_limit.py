"""The time limit of a guarded call (course_utils.grading): a student function that never returns
fails its test after the limit, with a message naming it, and leaves no timer or handler behind."""
import signal
import time

import pytest

from course_utils import grading
from course_utils.grading import CallTimeLimit, call_time_limit, guarded

GUARDED = "course_utils.synthesis.gram_matrix"  # any course function: the limit does not depend on it


def receptive_fields(layers):  # a student's function that never returns
    while True:
        pass


def forgiving(layers):  # one that catches the first alarm and loops on
    try:
        while True:
            pass
    except BaseException:
        pass
    while True:
        pass


def test_a_looping_function_fails_after_the_limit_with_its_name():
    start = time.perf_counter()
    with pytest.raises(CallTimeLimit, match=r"receptive_fields did not return within 0\.3 s.*loop that never ends"):
        guarded(receptive_fields, GUARDED, seconds=0.3)([])
    assert time.perf_counter() - start < 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "the timer must be cleared"


def test_the_previous_alarm_handler_is_restored_and_the_reference_enabled_again():
    from course_utils import synthesis
    import torch

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        with pytest.raises(CallTimeLimit):
            guarded(receptive_fields, GUARDED, seconds=0.2)([])
        assert signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert synthesis.gram_matrix(torch.ones(1, 2, 3, 3)).shape == (1, 2, 2), "the guard must re-enable the reference"


def test_catching_the_first_alarm_does_not_escape_the_limit():
    start = time.perf_counter()
    with pytest.raises(CallTimeLimit, match="forgiving"):
        guarded(forgiving, GUARDED, seconds=0.2)([])
    assert time.perf_counter() - start < 5


def test_a_quick_function_is_untouched_and_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_CALL_TIME_LIMIT", "0.5")
    assert call_time_limit() == 0.5
    assert guarded(lambda x: x + 1, GUARDED)(1) == 2
    time.sleep(0.7)  # no alarm left armed by the call
    with pytest.raises(CallTimeLimit, match="receptive_fields"):
        guarded(receptive_fields, GUARDED)([])
    monkeypatch.setenv("COURSE_CALL_TIME_LIMIT", "")
    assert call_time_limit() is None


@pytest.mark.parametrize("value", ["soon", "0", "-3", "inf", "nan"])
def test_a_bad_limit_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv("COURSE_CALL_TIME_LIMIT", value)
    with pytest.raises(ValueError, match="COURSE_CALL_TIME_LIMIT=.*number of seconds above 0"):
        call_time_limit()


def test_each_step_of_a_returned_generator_is_limited():
    def slow_steps():
        yield 1
        while True:
            pass

    steps = guarded(slow_steps, GUARDED, seconds=0.2)()
    assert next(steps) == 1
    with pytest.raises(CallTimeLimit, match="slow_steps"):
        next(steps)


def test_the_course_config_sets_a_limit_for_nbgrader_runs():
    from pathlib import Path

    config = (Path(grading.__file__).resolve().parent.parent / "nbgrader_config.py").read_text()
    assert 'setdefault("COURSE_CALL_TIME_LIMIT"' in config
    assert 'c.Execute.shutdown_kernel = "immediate"' in config
