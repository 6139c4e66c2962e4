"""What every assignment's source notebook (solutions/) promises a student and a grader, read
statically (no kernel): these run in a second.

* **Written questions**: one to three, each a locked question cell ``**Question K (P points).**``
  followed by a hand-graded answer cell worth P points, whose source holds a model answer and a
  rubric for graders (bullets ``- N point(s): ...`` summing to P); the release shows the stub only.
* **The introduction** gives the points (code and written), the parts, and how to validate.
* **A task with a choice**: a solution cell ``choose_*`` whose test checks a property of the outcome.
* **Tests that explain themselves**: every ``assert`` of a graded cell has a text message, and every
  graded cell ends by printing one line, so that a passing cell says so.
* **Hints that do not dictate**: no solution line of 30 characters or more appears verbatim in a
  release.

``COURSE_ASSIGNMENTS=05_occlusion,...`` restricts the checks, as for tests/test_nbgrader.py.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
ALL_ASSIGNMENTS = sorted(path.name for path in (REPO / "solutions").iterdir() if list(path.glob("*.ipynb")))
ASSIGNMENTS = [a for a in ALL_ASSIGNMENTS
               if not os.environ.get("COURSE_ASSIGNMENTS") or a in os.environ["COURSE_ASSIGNMENTS"].split(",")]
QUESTION = re.compile(r"^\*\*Question (\d+) \((\d+) points?\)\.\*\*")
RUBRIC = re.compile(r"^\*\*Rubric \((\d+) points?, for graders\)\.\*\*", flags=re.M)
RUBRIC_LINE = re.compile(r"^- (\d+) points?: \S", flags=re.M)
POINTS_SENTENCE = re.compile(
    r"There are (\d+) points in all: (\d+) for code, checked automatically, and (\d+) for written answers, graded by hand\.")
ANSWER_STUB = "YOUR ANSWER HERE"
MIN_LENGTH = 30  # characters of a solution line that must never appear verbatim in a release


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def source(assignment: str):
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def released(assignment: str):
    return nbformat.read(REPO / "assignments" / assignment / f"{assignment}.ipynb", as_version=4)


def answers(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "markdown" and meta(c).get("grade") and meta(c).get("solution")]


def graded_code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and meta(c).get("grade")]


def solution_lines(nb) -> list[str]:
    """The lines inside BEGIN/END SOLUTION regions of code cells, stripped (comments left out)."""
    lines, inside = [], False
    for cell in nb.cells:
        if cell.cell_type != "code" or not meta(cell).get("solution"):
            continue
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and not line.strip().startswith(("#", "import ", "from ")):  # an import is no answer
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_written_questions_with_rubric(assignment):
    nb = source(assignment)
    cells = nb.cells
    found = answers(nb)
    assert 1 <= len(found) <= 3, f"{assignment}: {len(found)} written answer cells; write one to three"
    for k, answer in enumerate(found, start=1):
        index = cells.index(answer)
        question = cells[index - 1]
        assert question.cell_type == "markdown" and meta(question).get("locked"), \
            f"{assignment}: answer {meta(answer).get('grade_id')} must follow its locked question cell"
        match = QUESTION.match(question.source)
        assert match, f"{assignment}: question cell must start with '**Question {k} (P points).**', got {question.source[:60]!r}"
        assert int(match.group(1)) == k, f"{assignment}: questions are numbered 1, 2, 3 in order; found {match.group(1)} at {k}"
        points = float(meta(answer)["points"])
        assert points == int(match.group(2)), f"{assignment}: question {k} says {match.group(2)} points, its answer cell gives {points}"
        assert answer.source.startswith("**Model answer.**"), f"{assignment}: answer {k} starts with '**Model answer.**'"
        rubric = RUBRIC.search(answer.source)
        assert rubric, f"{assignment}: answer {k} has no '**Rubric (P points, for graders).**' line"
        assert int(rubric.group(1)) == points, f"{assignment}: the rubric of answer {k} counts {rubric.group(1)} points, the cell {points}"
        bullets = [int(n) for n in RUBRIC_LINE.findall(answer.source[rubric.end():])]
        assert sum(bullets) == points, f"{assignment}: answer {k}'s rubric lines give {bullets}, which do not sum to {points}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_shows_only_the_answer_stub(assignment):
    ours = answers(source(assignment))
    theirs = answers(released(assignment))
    assert len(theirs) == len(ours), f"{assignment}: the release has {len(theirs)} answer cells, the source {len(ours)}: run `make release`"
    release_text = "\n".join(cell.source for cell in released(assignment).cells)
    for cell in theirs:
        assert cell.source.strip() == ANSWER_STUB, f"{assignment}: a released answer cell holds {cell.source[:80]!r}"
    for cell in ours:
        for line in cell.source.splitlines():
            if len(line.strip()) >= MIN_LENGTH:
                assert line.strip() not in release_text, f"{assignment}: the release shows the model answer or rubric: {line!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_introduction_gives_points_parts_and_validation(assignment):
    nb = source(assignment)
    intro = nb.cells[0].source
    match = POINTS_SENTENCE.search(" ".join(intro.split()))
    assert match, (f"{assignment}: the introduction needs 'There are N points in all: A for code, checked "
                   "automatically, and W for written answers, graded by hand.'")
    total, code, written = (int(n) for n in match.groups())
    auto = sum(float(meta(c)["points"]) for c in graded_code(nb))
    manual = sum(float(meta(c)["points"]) for c in answers(nb))
    assert (total, code, written) == (auto + manual, auto, manual), \
        f"{assignment}: the introduction says {total} = {code} + {written} points, the cells give {auto + manual} = {auto} + {manual}"
    assert re.search(r"^\s*1\. ", intro, flags=re.M), f"{assignment}: the introduction lists the parts (1. ..., 2. ...)"
    assert f"nbgrader validate {assignment}.ipynb" in intro, f"{assignment}: the introduction says `nbgrader validate {assignment}.ipynb`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_task_asks_for_a_choice_checked_by_its_outcome(assignment):
    nb = source(assignment)
    choices = [c for c in nb.cells if c.cell_type == "code" and meta(c).get("solution")
               and meta(c).get("grade_id", "").startswith("choose_")]  # fmt: skip
    assert choices, f"{assignment}: no solution cell 'choose_*' (a task where the student chooses)"
    for choice in choices:
        names = re.findall(r"^([A-Za-z_]\w*)\s*=", choice.source, flags=re.M)
        later = nb.cells[nb.cells.index(choice) + 1:]
        tests = [c for c in later if c in graded_code(nb) and any(re.search(rf"\b{n}\b", c.source) for n in names)]
        assert tests, f"{assignment}: no graded cell uses the choice {names} of {meta(choice)['grade_id']}"
        assert any("guarded(" in c.source for c in tests), f"{assignment}: the choice's test must run the student's own (guarded) functions"


def _message_is_text(node: ast.Assert) -> bool:
    message = node.msg
    if isinstance(message, ast.JoinedStr) or (isinstance(message, ast.Constant) and isinstance(message.value, str)):
        return True
    return isinstance(message, ast.BinOp) and any(
        isinstance(side, ast.JoinedStr) or (isinstance(side, ast.Constant) and isinstance(side.value, str))
        for side in (message.left, message.right))  # fmt: skip


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_says_what_failed_and_that_it_passed(assignment):
    for cell in graded_code(source(assignment)):
        grade_id = meta(cell)["grade_id"]
        tree = ast.parse(cell.source)
        bare = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert) and not _message_is_text(node)]
        assert not bare, f"{assignment}/{grade_id}: the asserts on lines {bare} need a text message (what differs, what was expected)"
        last = tree.body[-1] if tree.body else None
        printed = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                   and getattr(last.value.func, "id", None) == "print")  # fmt: skip
        assert printed, f"{assignment}/{grade_id}: end the test cell with one print(...) saying the tests passed"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_line_appears_in_a_release(assignment):
    releases = "\n".join(" ".join(cell.source.split()) for a in ALL_ASSIGNMENTS for cell in released(a).cells)
    long_lines = {" ".join(line.split()) for line in solution_lines(source(assignment)) if len(line) >= MIN_LENGTH}
    leaked = sorted(line for line in long_lines if line in releases)
    assert not leaked, f"{assignment}: solution lines appear verbatim in a release (a hint dictates them): {leaked}"
