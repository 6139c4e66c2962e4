#!/usr/bin/env python
"""The written questions of an assignment with their model answers and rubrics, for graders.

Usage (normally through ``make rubric ASSIGNMENT=<ID>``)::

    .venv/bin/python tools/rubric.py <ID> [--out FILE] [--solutions DIR]

reads the instructor's notebooks ``solutions/<ID>/*.ipynb`` and prints, as Markdown, each
written answer cell (a markdown cell graded by hand: nbgrader metadata ``grade`` and
``solution``) with the question before it, its points, the model answer and the rubric, in
notebook order. The same text is written to ``build/rubrics/<ID>.md`` (or ``--out``), to keep
open beside the Formgrader while grading. A rubric whose bullet points (``- 2 points: ...``)
do not add up to the cell's points is named at the end (exit status 1), so that a grader never
works from a rubric that disagrees with the gradebook. An unknown ``<ID>`` lists the known ones
(exit status 2).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
OUT_DIR = REPO_ROOT / "build" / "rubrics"
BULLET = re.compile(r"^\s*[-*]\s+(\d+(?:\.\d+)?)\s+points?\s*:", re.M)
RUBRIC_HEAD = re.compile(r"^\*\*Rubric\b.*$", re.M)
MODEL_HEAD = re.compile(r"^\*\*Model answer\.?\*\*\s*", re.M)


@dataclass
class Question:
    notebook: str
    grade_id: str
    points: float
    question: str  # the markdown cell before the answer cell
    model_answer: str
    rubric: str

    @property
    def rubric_points(self) -> float:
        return sum(float(n) for n in BULLET.findall(self.rubric))


def assignment_ids(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    if not solutions_dir.is_dir():
        return []
    return sorted(p.name for p in solutions_dir.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def is_answer(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def split_answer(source: str) -> tuple[str, str]:
    """``(model answer, rubric)`` of an answer cell of the solutions."""
    head = RUBRIC_HEAD.search(source)
    answer, rubric = (source[: head.start()], source[head.start():]) if head else (source, "")
    return MODEL_HEAD.sub("", answer, count=1).strip(), rubric.strip()


def questions(assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> list[Question]:
    import nbformat

    found = []
    for path in sorted((solutions_dir / assignment).glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            if not is_answer(cell):
                continue
            before = next((c.source for c in reversed(cells[:index]) if c.cell_type == "markdown"), "")
            meta = cell.metadata.nbgrader
            answer, rubric = split_answer(cell.source)
            found.append(Question(path.name, meta.get("grade_id", f"cell {index}"), float(meta.get("points", 0)),
                                  before.strip(), answer, rubric))  # fmt: skip
    return found


def markdown(assignment: str, found: list[Question]) -> str:
    total = sum(q.points for q in found)
    lines = [f"# {assignment}: written answers, for graders", ""]
    if not found:
        lines.append("This assignment has no written answer to grade by hand: autograde gives every point.")
        return "\n".join(lines) + "\n"
    lines += [
        f"{len(found)} written answer(s), {total:g} point(s) in all, graded by hand in the Formgrader "
        f"(`make lab`, then *Nbgrader → Formgrader*, *Manual grading*, {assignment}). An answer left as "
        "the release's \"YOUR ANSWER HERE\" was already given 0 by autograde.",
        "",
    ]
    for q in found:
        lines += [f"## {q.grade_id} ({q.points:g} point{'s' if q.points != 1 else ''}, {q.notebook})", ""]
        lines += ["".join(f"> {line}".rstrip() + "\n" for line in q.question.splitlines()).rstrip(), ""]
        lines += ["**Model answer.** " + q.model_answer if q.model_answer else "*(no model answer)*", ""]
        lines += [q.rubric if q.rubric else "*(no rubric)*", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--out", type=Path, help="the Markdown file to write (default: build/rubrics/<ID>.md)")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS_DIR, help="the instructor's notebooks' folder")
    args = parser.parse_args(argv)
    known = assignment_ids(args.solutions)
    if args.assignment not in known:
        print(f"rubric: unknown assignment {args.assignment!r}: the assignments are {', '.join(known) or 'none'} "
              f"(folders of {args.solutions})", file=sys.stderr)  # fmt: skip
        return 2
    found = questions(args.assignment, args.solutions)
    text = markdown(args.assignment, found)
    out = args.out or OUT_DIR / f"{args.assignment}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    shown = out.relative_to(Path.cwd()) if out.resolve().is_relative_to(Path.cwd()) else out
    print(f"(also written to {shown})", file=sys.stderr)
    wrong = [q for q in found if q.rubric and q.rubric_points != q.points]
    missing = [q for q in found if not q.rubric or not q.model_answer]
    for q in wrong:
        print(f"rubric: {q.grade_id}: its rubric gives {q.rubric_points:g} point(s), the cell {q.points:g}",
              file=sys.stderr)
    for q in missing:
        print(f"rubric: {q.grade_id}: no {'rubric' if not q.rubric else 'model answer'} in the solutions",
              file=sys.stderr)
    return 1 if wrong or missing else 0


if __name__ == "__main__":
    sys.exit(main())
