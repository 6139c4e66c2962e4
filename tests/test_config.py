import torch

from course_utils import config


def test_modes_follow_environment(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.fast_mode() and config.pick("fast", "full") == "fast"
    monkeypatch.setenv("COURSE_FAST", "0")
    assert not config.fast_mode() and config.pick("fast", "full") == "full"
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    assert not config.offline_mode()
    monkeypatch.setenv("COURSE_OFFLINE", "true")
    assert config.offline_mode()


def test_seed_everything_repeats_draws():
    config.seed_everything(7)
    first = torch.rand(3)
    config.seed_everything(7)
    assert torch.equal(first, torch.rand(3))


def test_default_device_is_usable():
    device = config.default_device()
    assert torch.zeros(1, device=device).device.type == device.type


def test_seeded_repeats_draws_and_gives_the_callers_stream_back():
    torch.manual_seed(3)
    expected = torch.rand(4)  # what the caller's stream gives next, untouched
    torch.manual_seed(3)
    with config.seeded(11):
        inside = torch.rand(2)
    with config.seeded(11):
        assert torch.equal(torch.rand(2), inside)
    assert torch.equal(torch.rand(4), expected)
    with config.seeded(None):  # no seed: the block draws from the caller's stream
        torch.rand(1)
    assert not torch.equal(torch.rand(4), expected)
