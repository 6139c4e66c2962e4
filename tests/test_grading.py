"""Grading at class scale: ``make grade`` (tools/grade.py) and ``make feedback`` (tools/feedback.py).

On the cheapest assignment (``ASSIGNMENT``), in a throw-away copy of the course, six
submissions: ``correct`` (the instructor's notebook), ``release`` (the untouched release),
``wrong`` (solved, except that ``conv_output_size`` never raises: the visible tests pass, a
hidden one fails), ``corrupt`` (not JSON), ``renamed`` (``Untitled.ipynb``) and ``empty`` (no
notebook). They are graded once with ``tools/grade.py --jobs 2`` while a serial
``nbgrader autograde`` grades ``correct`` and ``wrong`` in a second copy; the tests compare the
two gradebooks cell by cell, read the summary, and check that nothing under ``submitted/``
changed. Three submissions are autograded in parallel, two serially and one more under a lock:
about six autogrades (~10 s each on a quiet machine).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_tools import load_tool

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_convnet_recap"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COMMAND_TIMEOUT = 900
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


release = load_tool("release")
grade = load_tool("grade")
feedback = load_tool("feedback")


# --------------------------------------------------------------------------- #
# The submissions
# --------------------------------------------------------------------------- #
def solved(source_nb, *, break_conv_output_size: bool = False):
    """The instructor's notebook as a student who solved it submits it (markers removed);
    optionally with ``conv_output_size``'s check of the kernel size removed."""
    nb = nbformat.from_dict(source_nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if not any(m in line for m in MARKERS)]
            if break_conv_output_size and "def conv_output_size" in cell.source:
                index = next(i for i, line in enumerate(lines) if line.strip().startswith("if span >"))
                del lines[index : index + 2]  # the `if` and its `raise ValueError(...)`
            cell.source = "\n".join(lines)
    return nb


def source_notebook():
    return nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)


def answer_ids() -> dict[str, float]:
    """``{grade id: points}`` of the written answers (markdown cells graded by hand)."""
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"]) for c in source_notebook().cells
            if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
            and c.metadata.nbgrader.get("solution")}  # fmt: skip


def code_points() -> float:
    return sum(float(c.metadata.nbgrader["points"]) for c in source_notebook().cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))  # fmt: skip


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def copy_course(course: Path, to: Path) -> Path:
    shutil.copytree(course, to, symlinks=True, ignore=shutil.ignore_patterns(".tmp"))
    config = to / "nbgrader_config.py"
    config.write_text(config.read_text().replace(repr(str(course)), repr(str(to))))
    return to


def run_tool(tool: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    """``tools/<tool>.py ARGS`` in course ``root``, as ``make`` runs it."""
    command = [sys.executable, str(REPO / "tools" / f"{tool}.py"), *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                          env=release.nbgrader_env(root))  # fmt: skip


def read_grades(root: Path, students) -> dict:
    """``{student: {grade_id: (auto_score, max_score, needs_manual_grade)}}`` from ``root``'s gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "convnet-viz") as gradebook:
        found = {}
        for student in students:
            notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            found[student] = {g.name: (g.auto_score, g.max_score, g.needs_manual_grade) for g in notebook.grades}
        return found


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """The parallel course (graded with tools/grade.py --jobs 2) and the serial one (graded with
    ``nbgrader autograde``), with the hashes of ``submitted/`` taken before grading."""
    base = tmp_path_factory.mktemp("grading")
    root = release.prepare_course(base / "parallel", [ASSIGNMENT])
    release.generate(root, [ASSIGNMENT])  # the release in root/assignments, recorded in root/gradebook.db
    source_nb = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release_nb = root / "assignments" / ASSIGNMENT / NOTEBOOK
    submitted = root / "submitted"
    made = {
        "correct": lambda path: shutil.copyfile(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, path),
        "release": lambda path: shutil.copyfile(release_nb, path),
        "wrong": lambda path: nbformat.write(solved(source_nb, break_conv_output_size=True), path),
        "corrupt": lambda path: path.write_text(release_nb.read_text()[:500]),  # cut short: not JSON
        "renamed": lambda path: shutil.copyfile(release_nb, path.with_name("Untitled.ipynb")),
        "empty": lambda path: None,
    }
    for student, make in made.items():
        folder = submitted / student / ASSIGNMENT
        folder.mkdir(parents=True)
        make(folder / NOTEBOOK)
    serial = copy_course(root, base / "serial")
    for student in ("release", "corrupt", "renamed", "empty"):
        shutil.rmtree(serial / "submitted" / student)
    before = tree_hashes(submitted)

    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel_run = pool.submit(run_tool, "grade", root, ASSIGNMENT, "--jobs", "2")
        serial_run = pool.submit(release.nbgrader, serial, "autograde", ASSIGNMENT, "--create", "--force",
                                 check=False, timeout=COMMAND_TIMEOUT)  # fmt: skip
        parallel, serial_result = parallel_run.result(), serial_run.result()
    assert serial_result.returncode == 0, f"serial autograde failed:\n{serial_result.stdout}{serial_result.stderr}"
    return {"root": root, "serial": serial, "run": parallel, "before": before, "base": base}


# --------------------------------------------------------------------------- #
# make grade
# --------------------------------------------------------------------------- #
def test_parallel_grades_equal_serial_autograde(courses):
    run = courses["run"]
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    parallel = read_grades(courses["root"], ["correct", "wrong"])
    serial = read_grades(courses["serial"], ["correct", "wrong"])
    assert parallel == serial, "tools/grade.py --jobs 2 and nbgrader autograde disagree"
    answers = answer_ids()
    expected = {name: None if name in answers else maximum for name, (_, maximum, _) in parallel["correct"].items()}
    assert {name: score for name, (score, _, _) in parallel["correct"].items()} == expected, "the solutions lose points"
    assert all(parallel["correct"][name][2] for name in answers), "written answers wait for a grader"
    lost = {name for name, (score, maximum, _) in parallel["wrong"].items() if score != maximum and name not in answers}
    assert lost == {"test_conv_output_size"}, f"the broken conv_output_size should cost its test only: {lost}"
    release_scores = read_grades(courses["root"], ["release"])["release"]
    assert all(score == 0 for score, _, _ in release_scores.values()), release_scores


def test_summary_names_each_bad_submission_and_its_fix(courses):
    run = courses["run"]
    out = run.stdout
    assert run.returncode == 1, f"some submissions could not be graded: exit status 1\n{out}{run.stderr}"
    summary = out[out.index(f"\n{ASSIGNMENT}: 6 submission(s)") :]
    assert re.search(r"^\s+3\s+graded$", summary, re.M), summary
    assert re.search(r"corrupt: .*corrupt/01_convnet_recap/01_convnet_recap.ipynb is not a valid notebook.*"
                     r"ask the student for a new copy", summary), summary  # fmt: skip
    assert re.search(r"renamed: .*holds Untitled.ipynb, not 01_convnet_recap.ipynb: rename it", summary), summary
    assert re.search(r"empty: .*holds no notebook.*ask the student to submit it", summary), summary
    # The instructor's notebook and the partly wrong one hold the model answers: they wait for a
    # grader; the untouched release's answers were scored 0 by autograde.
    waiting = 2 if answer_ids() else 0
    assert re.search(rf"^\s+{waiting}\s+with written answers waiting for a grader", summary, re.M), summary
    assert ("release: " not in summary.split("waiting for a grader")[1]), summary
    assert re.search(r"^\s+0\s+with a near copy of the course's own code", summary, re.M), summary
    assert re.search(r"\[3/3\] #+ 100% .*/min .*left 0:00", run.stderr), "the progress line"


def test_submitted_files_are_never_modified(courses):
    assert tree_hashes(courses["root"] / "submitted") == courses["before"]


def test_graded_submissions_are_skipped_unless_forced(courses):
    run = run_tool("grade", courses["root"], ASSIGNMENT, "--student", "correct", "--student", "wrong")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^\s+2\s+already graded, skipped", run.stdout, re.M), run.stdout
    assert "0 to grade" in run.stdout


def test_shard_grades_its_slice_of_the_students(courses):
    # Students sorted: correct corrupt empty release renamed wrong; slice 2 of 3 = corrupt, renamed.
    run = run_tool("grade", courses["root"], ASSIGNMENT, "--shard", "2/3")
    assert "2 submission(s), slice 2/3" in run.stdout, run.stdout
    summary = run.stdout.split("\n\n")[-1]
    assert "corrupt:" in summary and "renamed:" in summary and "correct:" not in summary, summary
    run = run_tool("grade", courses["root"], ASSIGNMENT, "--shard", "4/3")
    assert run.returncode == 2 and "SHARD='4/3'" in run.stderr


def test_merge_takes_gradebooks_of_other_machines(courses, monkeypatch):
    from nbgrader.api import Gradebook

    # A new gradebook runs `alembic` from PATH: the virtual environment's, even when not activated.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

    target = courses["base"] / "merged.db"
    with Gradebook(f"sqlite:///{courses['root'] / 'gradebook.db'}", "convnet-viz") as src, \
            Gradebook(f"sqlite:///{target}", "convnet-viz") as dst:  # fmt: skip
        grade.copy_assignment(src, dst, ASSIGNMENT)
    run = run_tool("grade", courses["root"], "merge", str(courses["serial"] / "gradebook.db"), "--into", str(target))
    assert run.returncode == 0 and "merged 2 submission(s)" in run.stdout, run.stdout + run.stderr
    merged_dir = courses["base"] / "merged"
    merged_dir.mkdir()
    shutil.copyfile(target, merged_dir / "gradebook.db")
    assert read_grades(merged_dir, ["correct", "wrong"]) == read_grades(courses["serial"], ["correct", "wrong"])


def test_locked_gradebook_keeps_the_grades_for_a_later_merge(courses):
    root = courses["root"]
    holder = sqlite3.connect(str(root / "gradebook.db"))
    holder.execute("BEGIN IMMEDIATE")  # another process writing (the Formgrader, an nbgrader command)
    try:
        run = run_tool("grade", root, ASSIGNMENT, "--student", "release", "--force", "--jobs", "1",
                       "--lock-wait", "1")  # fmt: skip
    finally:
        holder.rollback()
        holder.close()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "is locked by another process" in run.stdout
    parts = re.search(r"kept in (\S+\.db)\. Close that process, then run `\S+ tools/grade.py merge", run.stdout)
    assert parts, run.stdout
    merge = run_tool("grade", root, "merge", parts.group(1))
    assert merge.returncode == 0 and "merged 1 submission(s)" in merge.stdout, merge.stdout + merge.stderr
    assert all(score == 0 for score, _, _ in read_grades(root, ["release"])["release"].values())
    assert tree_hashes(root / "submitted") == courses["before"]


def test_no_submitted_folder_or_unknown_assignment_stop_with_a_message(courses, tmp_path, capsys):
    bare = copy_course(courses["root"], tmp_path / "bare")
    shutil.rmtree(bare / "submitted")
    assert grade.main([ASSIGNMENT, "--root", str(bare)]) == 2
    error = capsys.readouterr().err
    assert "no submitted/ folder" in error and f"submitted/<student>/{ASSIGNMENT}/{NOTEBOOK}" in error
    assert grade.main(["99_nothing", "--root", str(courses["root"])]) == 2
    error = capsys.readouterr().err
    assert "unknown assignment '99_nothing'" in error and ASSIGNMENT in error


# --------------------------------------------------------------------------- #
# make feedback
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def feedback_run(courses):
    run = run_tool("feedback", courses["root"], ASSIGNMENT)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture(scope="module")
def feedback_files(courses, feedback_run):
    files = {p.parts[-3]: p.read_text() for p in sorted((courses["root"] / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))}
    return files


def test_feedback_for_every_graded_submission_without_hidden_tests(feedback_files):
    assert set(feedback_files) == {"correct", "release", "wrong"}
    secrets = feedback.source_secrets(REPO / "solutions" / ASSIGNMENT)
    assert len(secrets) > 20, "the assignment's hidden tests"
    for student, document in feedback_files.items():
        assert not feedback.leaks(document, secrets), f"{student}'s feedback shows hidden tests"
        assert "BEGIN HIDDEN TESTS" not in document and "hidden tests: not shown" in document


def test_feedback_names_the_submissions_whose_answers_wait(feedback_run):
    if not answer_ids():
        assert "not graded yet" not in feedback_run.stdout, feedback_run.stdout
        return
    assert re.search(r"note: 2 submission\(s\) have written answers not graded yet .*: correct, wrong\)",
                     feedback_run.stdout), feedback_run.stdout  # fmt: skip


def test_feedback_shows_points_results_and_the_failing_message(feedback_files):
    wrong = feedback.html_text(feedback_files["wrong"])
    assert "Result: failed (0 of 2 points): AssertionError: conv_output_size(" in wrong
    assert "should raise ValueError" in wrong, "the hidden test's message"
    assert "Score: 0.0 / 2.0" in wrong and "Result: passed (3 of 3 points)" in wrong
    correct = feedback.html_text(feedback_files["correct"])
    tests, total = code_points(), code_points() + sum(answer_ids().values())
    assert "Result: failed" not in correct and f"(Score: {tests:.1f} / {total:.1f})" in correct, "the solutions' score"


def test_the_leak_check_catches_nbgraders_plain_feedback(courses):
    """Without the course's preprocessor, nbgrader's page shows the hidden tests (nbgrader #917):
    the check that guards make feedback finds them."""
    from nbconvert import HTMLExporter

    autograded = courses["root"] / "autograded" / "wrong" / ASSIGNMENT / NOTEBOOK
    document, _ = HTMLExporter().from_filename(str(autograded))
    assert feedback.leaks(document, feedback.source_secrets(REPO / "solutions" / ASSIGNMENT))


def test_nbgrader_generate_feedback_uses_the_course_preprocessor(courses, feedback_files):
    root = courses["root"]
    result = release.nbgrader(root, "generate_feedback", ASSIGNMENT, "--student=wrong", "--force",
                              timeout=COMMAND_TIMEOUT)  # fmt: skip
    document = (root / "feedback" / "wrong" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert not feedback.leaks(document, feedback.source_secrets(REPO / "solutions" / ASSIGNMENT)), result.stdout
    assert "hidden tests: not shown" in document


def test_scrub_traceback_removes_quoted_hidden_lines():
    secrets = {"assert secret_function(3) == 9, 'nine'"}
    traceback = ["\x1b[0;31mAssertionError\x1b[0m   Traceback", "Cell In[4], line 7\n      5 visible = 1\n"
                 "\x1b[0;32m----> 7\x1b[0m assert secret_function(3) == 9, 'nine'\n", "AssertionError: nine"]  # fmt: skip
    cleaned = "\n".join(feedback.scrub_traceback(traceback, secrets))
    assert "secret_function" not in cleaned and "visible = 1" in cleaned and "AssertionError: nine" in cleaned


# --------------------------------------------------------------------------- #
# Near copies of the course's own code
# --------------------------------------------------------------------------- #
RENAMES = {"topk_predictions": "topk_classes", "classes": "labels", "probabilities": "probs", "top_p": "best_p",
           "top_i": "best_i", "row_i": "idx_row", "row_p": "prob_row", "images": "batch", "device": "where"}  # fmt: skip


def copied_reference() -> str:
    """``course_utils.models.topk_predictions``'s source, its variables renamed, as ``topk_classes``."""
    import inspect

    from course_utils import models

    source = inspect.getsource(inspect.unwrap(models.topk_predictions))
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    return source


def test_near_copy_of_the_reference_is_flagged_and_the_solutions_are_not(tmp_path):
    source = source_notebook()
    references = grade.guarded_references([source])
    assert "course_utils.models.topk_predictions" in references["topk_classes"], references
    assert grade.near_copies(source, references) == [], "the solutions are not near copies of the course's code"
    copied = nbformat.from_dict(source)
    cell = next(c for c in copied.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "topk_classes")
    cell.source = copied_reference()
    found = grade.near_copies(copied, references)
    assert [(c["function"], c["reference"]) for c in found] == [("topk_classes", "course_utils.models.topk_predictions")]
    assert found[0]["similarity"] >= grade.near_copy_threshold()

    # In a course folder: the submitted notebook is read, and the summary lists the copy, without penalty.
    course = grade.Course(root=tmp_path, course_id="convnet-viz", submitted=tmp_path / "submitted",
                          autograded=tmp_path / "autograded", source=REPO / "solutions",
                          gradebook=tmp_path / "gradebook.db")  # fmt: skip
    for student, nb in (("copier", copied), ("honest", source)):
        (course.submitted / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course.submitted / student / ASSIGNMENT / NOTEBOOK)
    copies = grade.find_near_copies(course, ASSIGNMENT, ["copier", "honest"])
    assert list(copies) == ["copier"], copies
    outcomes = [grade.Outcome("copier", "graded", score=3.0, max_score=12.0, near_copies=copies["copier"]),
                grade.Outcome("honest", "graded", score=12.0, max_score=12.0)]  # fmt: skip
    summary = grade.summary_text(ASSIGNMENT, outcomes, 1.0, 1)
    assert re.search(r"^\s+1\s+with a near copy of the course's own code \(no penalty", summary, re.M), summary
    assert re.search(r"copier: topk_classes \(\d\.\d\d like course_utils\.models\.topk_predictions\)", summary), summary
    assert "honest:" not in summary
