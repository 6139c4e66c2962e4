"""The manual-grading path end to end: autograde, a grader's scores and comments, export, feedback.

In a throw-away copy of the course, one student (``ada``) submits assignment ``ASSIGNMENT`` with
every code task solved and every written answer filled in with her own words. ``tools/grade.py``
autogrades it (one autograde, ~10 s on a quiet machine): the tests give full marks, the written
answers get no score yet and wait for a grader, and the summary counts them and says how to grade
them. Then, as a grader in the Formgrader does, each answer gets a manual score and a comment
through ``nbgrader.api.Gradebook``; ``nbgrader export`` counts the manual points in the total;
``tools/feedback.py`` (``make feedback``) writes a page that shows the grader's comments and
scores and still no hidden test; and the gradebook no longer counts the answers as waiting.
``make rubric`` (tools/rubric.py) is checked on the same assignment's solutions (no grading).
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools import load_tool

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_convnet_recap"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
STUDENT = "ada"
COMMAND_TIMEOUT = 900
MARKERS = ("BEGIN SOLUTION", "END SOLUTION")


release = load_tool("release")
feedback = load_tool("feedback")


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer(cell) -> bool:
    return cell.cell_type == "markdown" and meta(cell).get("grade") and meta(cell).get("solution")


def student_answer(grade_id: str) -> str:
    return f"My own answer to {grade_id}: the softmax and the strides, in my words."


def grader_comment(grade_id: str) -> str:
    return f"Grader on {grade_id}: the first idea is right, the second is missing."


def manual_points(points: float) -> float:
    """What the grader gives an answer: half of its points (neither 0 nor full)."""
    return points / 2


def run_tool(tool: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "tools" / f"{tool}.py"), *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                          env=release.nbgrader_env(root))  # fmt: skip


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course copy after ``tools/grade.py``: its root, the grading run, and the answers' points."""
    root = release.prepare_course(tmp_path_factory.mktemp("manual") / "course", [ASSIGNMENT])
    release.generate(root, [ASSIGNMENT])
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {meta(c)["grade_id"]: float(meta(c)["points"]) for c in source.cells if is_answer(c)}
    assert answers, f"{ASSIGNMENT} has no written answer (a markdown cell graded by hand) to test with"
    by_id = {meta(c).get("grade_id"): c for c in source.cells if meta(c).get("solution")}
    nb = nbformat.read(root / "assignments" / ASSIGNMENT / NOTEBOOK, as_version=4)  # what the student got
    for cell in nb.cells:
        grade_id = meta(cell).get("grade_id")
        if is_answer(cell):
            cell.source = student_answer(grade_id)
        elif cell.cell_type == "code" and meta(cell).get("solution"):
            cell.source = "\n".join(line for line in by_id[grade_id].source.splitlines()
                                    if not any(m in line for m in MARKERS))  # fmt: skip
    folder = root / "submitted" / STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / NOTEBOOK)
    run = run_tool("grade", root, ASSIGNMENT, "--jobs", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    return {"root": root, "run": run, "answers": answers}


def gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", "convnet-viz")


@pytest.fixture(scope="module")
def graded_by_hand(course):
    """The grader's work: a manual score and a comment on every written answer."""
    with gradebook(course["root"]) as db:
        for grade_id, points in course["answers"].items():
            grade = db.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, STUDENT)
            grade.manual_score = manual_points(points)
            grade.needs_manual_grade = False  # what the Formgrader sets with a score
            comment = db.find_comment(grade_id, ASSIGNMENT, ASSIGNMENT, STUDENT)
            comment.manual_comment = grader_comment(grade_id)
        db.db.commit()
    return course


def test_autograde_leaves_the_written_answers_to_a_grader(course):
    with gradebook(course["root"]) as db:
        notebook = db.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT)
        grades = {g.name: g for g in notebook.grades}
        for grade_id, points in course["answers"].items():
            grade = grades[grade_id]
            assert grade.auto_score is None and grade.manual_score is None, f"{grade_id}: scored by autograde"
            assert grade.needs_manual_grade, f"{grade_id}: not flagged for a grader"
            assert grade.max_score == points
        tests = {name: g for name, g in grades.items() if name not in course["answers"]}
        assert tests and all(g.auto_score == g.max_score and not g.needs_manual_grade for g in tests.values()), \
            {name: (g.auto_score, g.max_score) for name, g in tests.items()}  # fmt: skip


def test_summary_counts_the_answers_and_says_how_to_grade_them(course):
    out = course["run"].stdout
    summary = out[out.index(f"\n{ASSIGNMENT}: 1 submission(s)") :]
    count = len(course["answers"])
    assert re.search(rf"^\s+1\s+with written answers waiting for a grader \({count} answer\(s\) in all\)$",
                     summary, re.M), summary  # fmt: skip
    assert f"{STUDENT}: {count} answer(s): {', '.join(sorted(course['answers']))}" in summary, summary
    assert f"make rubric ASSIGNMENT={ASSIGNMENT}" in summary and "Formgrader" in summary, summary
    assert "nbgrader formgrader" in summary and "Manual grading" in summary, summary
    assert re.search(r"^\s+0\s+with a near copy of the course's own code", summary, re.M), summary


def test_export_counts_the_manual_points(graded_by_hand):
    course = graded_by_hand
    root = course["root"]
    release.nbgrader(root, "export", "--to", str(root / "grades.csv"), timeout=COMMAND_TIMEOUT)
    with open(root / "grades.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["student_id"] == STUDENT]
    assert len(rows) == 1, rows
    with gradebook(root) as db:
        notebook = db.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT)
        tests = sum(g.max_score for g in notebook.grades if g.name not in course["answers"])
        total = sum(g.max_score for g in notebook.grades)
    manual = sum(manual_points(points) for points in course["answers"].values())
    assert float(rows[0]["raw_score"]) == pytest.approx(tests + manual), rows[0]
    assert float(rows[0]["max_score"]) == pytest.approx(total), rows[0]


def test_feedback_shows_the_graders_comments_and_scores(graded_by_hand):
    course = graded_by_hand
    root = course["root"]
    run = run_tool("feedback", root, ASSIGNMENT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "not graded yet" not in run.stdout, run.stdout
    page = feedback.html_text((root / "feedback" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    for grade_id, points in course["answers"].items():
        assert grader_comment(grade_id) in page, f"{grade_id}: the grader's comment is not in the feedback"
        assert student_answer(grade_id) in page, f"{grade_id}: the student's answer is not in the feedback"
        assert f"Score: {manual_points(points):.1f} / {points:.1f}" in page, f"{grade_id}: its manual score"
    assert not feedback.leaks(page, feedback.source_secrets(REPO / "solutions" / ASSIGNMENT)), "hidden tests shown"
    assert "hidden tests: not shown" in page


def test_graded_answers_no_longer_wait(course, graded_by_hand):
    """What the summary of a later ``make grade`` counts (read from the gradebook): nothing left."""
    grade = load_tool("grade")
    assert set(grade.waiting_answers(grade.Course.load(course["root"]), ASSIGNMENT)) == set(), "still waiting"


# --------------------------------------------------------------------------- #
# make rubric
# --------------------------------------------------------------------------- #
rubric = load_tool("rubric")


def test_rubric_prints_each_question_with_its_model_answer_and_rubric(tmp_path, capsys):
    out = tmp_path / "rubric.md"
    assert rubric.main([ASSIGNMENT, "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert out.read_text() in printed
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = [c for c in source.cells if is_answer(c)]
    assert answers and printed.count("**Model answer.**") == len(answers), printed
    for cell in answers:
        model, criteria = rubric.split_answer(cell.source)
        assert model and model in printed and criteria and criteria in printed, meta(cell)["grade_id"]
        assert f"## {meta(cell)['grade_id']} ({float(meta(cell)['points']):g} points" in printed
    found = rubric.questions(ASSIGNMENT)
    assert all(q.rubric_points == q.points for q in found), {q.grade_id: (q.rubric_points, q.points) for q in found}
    assert all(q.question.startswith("**Question") for q in found), "each answer follows its question"


def test_rubric_names_the_known_assignments_for_an_unknown_one(capsys):
    assert rubric.main(["99_nothing"]) == 2
    error = capsys.readouterr().err
    assert "unknown assignment '99_nothing'" in error and ASSIGNMENT in error


def test_rubric_points_that_disagree_with_the_cell_are_named(tmp_path, capsys):
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    cell = next(c for c in source.cells if is_answer(c))
    cell.source = re.sub(r"^- \d+(\.\d+)? points?:", "- 9 points:", cell.source, count=1, flags=re.M)
    assert "- 9 points:" in cell.source
    (tmp_path / "solutions" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source, tmp_path / "solutions" / ASSIGNMENT / NOTEBOOK)
    status = rubric.main([ASSIGNMENT, "--solutions", str(tmp_path / "solutions"), "--out", str(tmp_path / "r.md")])
    assert status == 1 and f"{meta(cell)['grade_id']}: its rubric gives" in capsys.readouterr().err
