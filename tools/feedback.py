#!/usr/bin/env python
"""Feedback for the students that keeps the hidden tests hidden.

Usage (normally through ``make feedback ASSIGNMENT=<ID>``)::

    .venv/bin/python tools/feedback.py <ID> [--student S ...] [--root COURSE]

writes ``feedback/<student>/<ID>/<notebook>.html`` for every graded submission of ``<ID>``
(every student with an autograded copy and a gradebook entry) with nbgrader's own
``generate_feedback``, to which the course adds one preprocessor, ``HideHiddenTests``
(registered in ``nbgrader_config.py`` as ``c.GenerateFeedback.preprocessors``, so the
Formgrader's feedback button and ``nbgrader generate_feedback`` use it too). In every test
cell of the feedback it

* replaces the code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` by one
  line, ``# (hidden tests: not shown)``;
* takes out of the error tracebacks every line that quotes a hidden test (IPython quotes the
  failing line and its neighbours), and keeps the error's type and message;
* starts the cell with its result: ``# Result: passed (3 of 3 points)`` or
  ``# Result: failed (0 of 2 points): AssertionError: ...``.

nbgrader's feedback page already shows each test cell's points, and each written answer's
manual points and the grader's comment; a submission whose written answers still wait for a
grader is named (its page shows them without points). After writing, every feedback
file is checked against the hidden tests of the source notebooks: a file that still quotes one
is deleted and named (exit status 1), so a hidden test cannot leave by mistake.
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import re
import sys
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

REPO_ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The start of a line IPython quotes from a cell: an optional arrow and the line number.
QUOTED = re.compile(r"^\s*(?:-*>)?\s*\d+\s?")
PLACEHOLDER = "# (hidden tests: not shown)"
BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def hidden_regions(source: str, begin: str = BEGIN, end: str = END) -> tuple[str, list[str]]:
    """``(source without its hidden regions, the hidden lines)``; each region becomes the
    placeholder line, at the indentation of its BEGIN line."""
    kept, hidden, inside = [], [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            kept.append(line[: len(line) - len(line.lstrip())] + PLACEHOLDER)
        elif end in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), hidden


def secret_lines(hidden: list[str], visible: list[str] = ()) -> set[str]:
    """The hidden lines worth keeping secret: stripped, not blank, not a bare comment, not a
    lone bracket, and not also a line of the visible code."""
    shown = {line.strip() for line in visible}
    return {
        line.strip() for line in hidden
        if line.strip() and not line.strip().startswith("#") and len(line.strip()) > 3 and line.strip() not in shown
    }  # fmt: skip


def scrub_traceback(traceback: list[str], secrets: set[str]) -> list[str]:
    """The traceback with each line that quotes a secret line replaced by a mark."""
    cleaned = []
    for entry in traceback:
        lines = []
        for line in entry.split("\n"):
            plain = ANSI.sub("", line)
            quoted = QUOTED.sub("", plain, count=1).strip()
            if quoted in secrets or plain.strip() in secrets or BEGIN in quoted or END in quoted:
                indent = plain[: len(plain) - len(plain.lstrip())]
                lines.append(f"{indent}   (a line of the hidden tests)")
            else:
                lines.append(line)
        cleaned.append("\n".join(lines))
    return cleaned


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback preprocessor: hides the hidden tests of the test cells (their source and the
    tracebacks' quotes of it) and starts each test cell with its result. Runs after nbgrader's
    ``GetGrades``, which puts each cell's score in its metadata."""

    begin_test_delimeter = Unicode(BEGIN, help="The line that starts hidden tests").tag(config=True)
    end_test_delimeter = Unicode(END, help="The line that ends hidden tests").tag(config=True)

    def preprocess(self, nb, resources):
        self._secrets = set()
        hidden, visible = [], []
        for cell in nb.cells:
            _, lines = hidden_regions(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
            hidden += lines
            visible += [line for line in cell.source.split("\n") if line not in lines]
        self._secrets = secret_lines(hidden, visible)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        is_test = utils.is_grade(cell) and not utils.is_solution(cell)
        if is_test:
            cell.source, _ = hidden_regions(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        for output in errors:
            output["traceback"] = scrub_traceback(list(output.get("traceback", [])), self._secrets)
            for key in ("ename", "evalue"):  # a message that quotes a hidden line loses it too
                if output.get(key, "").strip() in self._secrets:
                    output[key] = "(a line of the hidden tests)"
        if is_test:
            meta = cell.metadata.nbgrader
            score, points = meta.get("score"), meta.get("points")
            if score is not None and points is not None:
                passed = float(score) >= float(points)
                result = f"# Result: {'passed' if passed else 'failed'} ({float(score):g} of {float(points):g} points)"
                if errors:
                    message = f"{errors[0].get('ename', '')}: {errors[0].get('evalue', '')}".strip(": ")
                    result += f": {message.splitlines()[0][:200] if message else ''}"
                cell.source = result + "\n" + cell.source
        return cell, resources


# --------------------------------------------------------------------------- #
# make feedback
# --------------------------------------------------------------------------- #
def _grade_module():
    name = "course_grade"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / "grade.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def html_text(document: str) -> str:
    """The text of an HTML page: tags removed (syntax highlighting splits lines into spans),
    entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", document))


def source_secrets(source_dir: Path) -> set[str]:
    """The secret hidden-test lines of the instructor's notebooks in ``source_dir``."""
    import nbformat

    hidden, visible = [], []
    for path in sorted(source_dir.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            _, lines = hidden_regions(cell.source)
            hidden += lines
            visible += [line for line in cell.source.split("\n") if line not in lines]
    return secret_lines(hidden, visible)


def leaks(document: str, secrets: set[str]) -> list[str]:
    text = {line.strip() for line in html_text(document).splitlines()}
    text |= {QUOTED.sub("", line, count=1).strip() for line in text}
    return sorted(secrets & text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)
    grade = _grade_module()
    import os
    import warnings

    warnings.filterwarnings("ignore", message=".*not in session.*")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    try:
        course = grade.Course.load(args.root)
        recorded, sources = grade.known_assignments(course)
        if args.assignment not in recorded:
            known = ", ".join(recorded) or "none"
            raise grade.GradingError(f"no grades of {args.assignment!r} in {course.gradebook.name} (graded "
                                     f"assignments: {known}): run `make grade ASSIGNMENT={args.assignment}` first")  # fmt: skip
        students = sorted(grade.graded_students(course, args.assignment))
        students = [s for s in students if (course.autograded / s / args.assignment).is_dir()]
        if args.student:
            students = [s for s in students if s in args.student]
        if not students:
            raise grade.GradingError(f"no graded submission of {args.assignment}: run "
                                     f"`make grade ASSIGNMENT={args.assignment}` first")  # fmt: skip
    except grade.GradingError as error:
        print(f"feedback: {error}", file=sys.stderr)
        return 2

    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import GetGrades
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(str(course.root / "nbgrader_config.py")).load_config()
    config.CourseDirectory.root = str(course.root)
    # The course's config registers HideHiddenTests already; set it here too, so that a course
    # folder whose config lacks it still hides the hidden tests.
    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    secrets = source_secrets(course.source / args.assignment)
    feedback_dir = course.root / api.coursedir.feedback_directory
    written, failed, leaked = [], [], []
    for student in students:
        result = api.generate_feedback(args.assignment, student, force=True)
        files = sorted((feedback_dir / student / args.assignment).glob("*.html"))
        if not result.get("success") or not files:
            reason = grade._reason(result)
            failed.append(f"{student}: nbgrader generate_feedback failed: {reason[:300]}")
            continue
        for path in files:
            found = leaks(path.read_text(), secrets)
            if found:
                path.unlink()
                leaked.append(f"{student}: {path.name} quoted {len(found)} hidden-test line(s) and was deleted "
                              f"(e.g. {found[0][:80]!r}); check the preprocessors in nbgrader_config.py")  # fmt: skip
            else:
                written.append(path)
    print(f"{args.assignment}: feedback for {len(students)} graded submission(s) in "
          f"{feedback_dir.relative_to(course.root)}/<student>/{args.assignment}/: {len(written)} file(s) written, "
          "no hidden test in any")  # fmt: skip
    for line in failed + leaked:
        print(f"  {line}")
    waiting = {s: names for s, names in grade.waiting_answers(course, args.assignment).items() if s in students}
    if waiting:
        print(f"  note: {len(waiting)} submission(s) have written answers not graded yet (their pages show them "
              f"without points: {', '.join(sorted(waiting))}): grade them in the Formgrader (Manual grading), "
              f"then `make feedback ASSIGNMENT={args.assignment}` again")  # fmt: skip
    if failed or leaked:
        return 1
    print(f"  send them to the students, or on JupyterHub: nbgrader release_feedback {args.assignment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
