#!/usr/bin/env python
"""Class-scale grading benchmark: ``make grade`` on N generated submissions of one assignment.

Run by hand (not collected by pytest), in FAST and OFFLINE mode as the test suite grades::

    COURSE_FAST=1 COURSE_OFFLINE=1 .venv/bin/python benchmarks/grading_benchmark.py --n 20 --jobs 1 2

In a throw-away copy of the course it writes N submissions of ``--assignment`` (default
``01_convnet_recap``), a mix a real class produces (see ``MIX``): solved, delegating (each
graded function calls the course's own implementation: the reference guard fails its tests),
partly wrong (a function that misses its error check: visible tests pass, a hidden one fails),
raising (the first answer cell raises), an infinite loop (one function never returns: each test
cell that calls it stops it after the call time limit, ``--call-timeout``, and each other cell
that calls it waits the cell time limit, ``--cell-timeout``), a deleted test cell, a renamed
notebook, a corrupt file and the untouched release; every notebook but the release and one
kind ("no written answers") has its written answers filled in, left for a grader. It grades
them with ``tools/grade.py --jobs J`` for each J of ``--jobs`` (from scratch each time,
``--force``), and prints the wall time, seconds per submission, the scaling ratio and the
summary counts as a Markdown table, then where one submission's seconds go: the solved notebook
executed once with nbclient (kernel start, each cell's time) beside the worker's time for the
same submission (nbgrader's own steps). ``--record`` writes the result into RESULTS.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# One period of the class's mix (20 submissions): kind -> count.
# Every notebook but the untouched release and "no written answers" has its written answers filled
# in (they wait for a grader after autograde); "no written answers" leaves them as released (0).
# "delegating": every graded function calls the course's own implementation (tests/delegating/<ID>.py).
MIX = {"solved": 7, "delegating": 1, "no written answers": 1, "partly wrong": 3, "raising": 2, "infinite loop": 1,
       "deleted test cell": 1, "renamed notebook": 1, "corrupt file": 1, "untouched release": 2}  # fmt: skip


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = _load("course_release", REPO / "tools" / "release.py")


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def answer(cell) -> str:
    return "\n".join(line for line in cell.source.splitlines() if not any(m in line for m in MARKERS))


def delegating_cells(assignment: str) -> dict[str, str]:
    """The solution cells (by grade id) of a submission that delegates to the course: tests/delegating/<ID>.py."""
    path = REPO / "tests" / "delegating" / f"{assignment}.py"
    if not path.is_file():
        raise SystemExit(f"no delegating submission for {assignment}: write {path.relative_to(REPO)} (see tests/test_nbgrader.py)")
    return runpy.run_path(str(path))["CELLS"]


def make_submission(kind: str, source_nb, release_nb, assignment: str):
    """The notebook a student of ``kind`` submits (``None`` for kinds that are not a notebook)."""
    nb = nbformat.from_dict(release_nb)
    by_id = {meta(c).get("grade_id"): c for c in source_nb.cells}
    solution_cells = [c for c in nb.cells if meta(c).get("solution") and c.cell_type == "code"]
    if kind == "untouched release":
        return nb
    delegating = delegating_cells(assignment) if kind == "delegating" else {}
    for cell in solution_cells:
        cell.source = delegating.get(meta(cell)["grade_id"]) or answer(by_id[meta(cell)["grade_id"]])
    if kind != "no written answers":
        for cell in nb.cells:
            if cell.cell_type == "markdown" and meta(cell).get("grade") and meta(cell).get("solution"):
                cell.source = f"A student's answer to {meta(cell)['grade_id']}, in two to four sentences."
    functions = [c for c in solution_cells if re.search(r"^def \w+\(", c.source, re.M)]
    if kind == "partly wrong":  # the first function with a `raise ValueError` check loses it
        for cell in functions:
            lines = cell.source.splitlines()
            checks = [i for i, line in enumerate(lines) if line.strip().startswith("raise ValueError")]
            if checks:
                index = checks[0]
                del lines[index - 1 : index + 1]  # the `if` and its `raise`
                cell.source = "\n".join(lines)
                break
    elif kind == "raising":
        functions[0].source = 'raise RuntimeError("a bug in the student\'s code")\n' + functions[0].source
    elif kind == "infinite loop":  # the last function's body never returns
        cell = functions[-1]
        head = re.search(r"^def \w+\(.*?\):\n(?:\s+\"\"\"[\s\S]*?\"\"\"\n)?", cell.source, re.M)
        cell.source = cell.source[: head.end()] + "    while True:\n        pass\n"
    elif kind == "deleted test cell":
        tests = [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")]
        nb.cells.remove(tests[-1])
    return nb


def write_class(root: Path, assignment: str, n: int) -> dict[str, str]:
    """N submissions in ``root/submitted``; returns ``{student: kind}``."""
    name = f"{assignment}.ipynb"
    source_nb = nbformat.read(REPO / "solutions" / assignment / name, as_version=4)
    release_nb = nbformat.read(root / "assignments" / assignment / name, as_version=4)
    period = [kind for kind, count in MIX.items() for _ in range(count)]
    kinds = {f"student{i + 1:03d}": period[i % len(period)] for i in range(n)}
    for student, kind in kinds.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        if kind == "corrupt file":
            (folder / name).write_text(nbformat.writes(release_nb)[:1000])
        elif kind == "renamed notebook":
            nbformat.write(make_submission("solved", source_nb, release_nb, assignment), folder / f"{assignment} (1).ipynb")
        else:
            nbformat.write(make_submission(kind, source_nb, release_nb, assignment), folder / name)
    return kinds


def grade_once(root: Path, assignment: str, jobs: int) -> dict:
    for folder in ("autograded", ".grading"):
        shutil.rmtree(root / folder, ignore_errors=True)
    command = [sys.executable, str(REPO / "tools" / "grade.py"), assignment, "--jobs", str(jobs), "--force"]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=root, capture_output=True, text=True, env=release.nbgrader_env(root))
    wall = time.perf_counter() - start
    summary = json.loads(sorted((root / ".grading" / assignment).glob("*/summary.json"))[-1].read_text())
    return {"jobs": jobs, "wall": wall, "outcomes": summary, "stdout": run.stdout, "returncode": run.returncode}


def cell_times(root: Path, assignment: str) -> dict:
    """The solved notebook executed once with nbclient: kernel start and each cell's seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", shutdown_kernel="immediate", resources={"metadata": {"path": str(root)}})
    start = time.perf_counter()
    with client.setup_kernel():
        kernel = time.perf_counter() - start
        times = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t0 = time.perf_counter()
            client.execute_cell(cell, index)
            label = meta(cell).get("grade_id") or cell.source.strip().splitlines()[0][:50]
            times.append((index, label, time.perf_counter() - t0))
    return {"kernel": kernel, "cells": times, "total": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--assignment", default="01_convnet_recap")
    parser.add_argument("--cell-timeout", type=int, default=20, help="c.Execute.timeout of the benchmark course")
    parser.add_argument("--call-timeout", type=float, default=5,
                        help="COURSE_CALL_TIME_LIMIT of the benchmark course: seconds per call of a student's function in a test")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    parser.add_argument("--record", action="store_true", help="write the result into benchmarks/RESULTS.md")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="grading-bench-"))
    limits = release.limits_config(args.cell_timeout, args.call_timeout)
    root = release.prepare_course(base / "course", [args.assignment], extra_config=limits)
    release.generate(root, [args.assignment])
    kinds = write_class(root, args.assignment, args.n)
    print(f"{args.n} submissions of {args.assignment} in {root}: " +
          ", ".join(f"{sum(1 for k in kinds.values() if k == kind)} {kind}" for kind in MIX))  # fmt: skip
    print(f"COURSE_FAST={os.environ.get('COURSE_FAST', '')} cell timeout {args.cell_timeout} s, "
          f"call time limit {args.call_timeout:g} s, "
          f"{os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}")  # fmt: skip

    runs = []
    for jobs in args.jobs:
        run = grade_once(root, args.assignment, jobs)
        runs.append(run)
        counts = {}
        for outcome in run["outcomes"]:
            counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
        waiting = [o for o in run["outcomes"] if o.get("waiting")]
        print(f"JOBS={jobs}: {run['wall']:.1f} s wall, {run['wall'] / args.n:.2f} s per submission, "
              f"load average after: {os.getloadavg()[0]:.1f}, {counts}; {len(waiting)} with "
              f"{sum(len(o['waiting']) for o in waiting)} written answer(s) waiting for a grader")  # fmt: skip
    print("\n| jobs | wall (s) | s / submission | speed-up over JOBS=1 |")
    print("|---:|---:|---:|---:|")
    for run in runs:
        print(f"| {run['jobs']} | {run['wall']:.1f} | {run['wall'] / args.n:.2f} | {runs[0]['wall'] / run['wall']:.2f} |")

    print(f"\nPer kind (JOBS={runs[0]['jobs']} run): status, score, worker seconds, written answers to grade")
    for student, kind in kinds.items():
        outcome = next(o for o in runs[0]["outcomes"] if o["student"] == student)
        score = f"{outcome['score']:g}/{outcome['max_score']:g}" if outcome["score"] is not None else "-"
        waiting = f"{len(outcome.get('waiting', []))} answer(s) to grade" if outcome.get("waiting") else ""
        print(f"  {student} {kind:<18} {outcome['status']:<10} {score:>8} {outcome['seconds']:6.1f} s  {waiting}")

    times = cell_times(root, args.assignment)
    print(f"\nThe solved notebook executed once with nbclient: {times['total']:.1f} s in all, "
          f"kernel start {times['kernel']:.1f} s")  # fmt: skip
    for index, label, seconds in times["cells"]:
        print(f"  cell {index:>2} {label:<52} {seconds:6.2f} s")
    solved = [o["seconds"] for o in runs[0]["outcomes"]
              if kinds[o["student"]] == "solved" and o["status"] == "graded"]  # fmt: skip
    if solved:
        mean = sum(solved) / len(solved)
        print(f"worker time of a solved submission (JOBS={runs[0]['jobs']}): {mean:.1f} s, of which nbgrader's own steps "
              f"(sanitize, restore cells, gradebook, write) about {mean - times['total']:.1f} s")  # fmt: skip
    if args.record and len(runs) > 1:
        record(args, runs)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def record(args, runs: list[dict]) -> None:
    """One row of benchmarks/RESULTS.md: the wall times, seconds per submission and the speed-up."""
    conftest = _load("bench_conftest", REPO / "benchmarks" / "conftest.py")
    first, last = runs[0], runs[-1]
    mode = "FAST" if os.environ.get("COURSE_FAST") else "full"
    name = f"make grade: {args.n} submissions of {args.assignment} ({mode}, the class mix), JOBS={last['jobs']} vs {first['jobs']}"
    device = f"CPU ({os.cpu_count()} cores)"
    walls = ", ".join(f"JOBS={run['jobs']} {run['wall'] / 60:.1f} min ({run['wall'] / args.n:.2f} s each)" for run in runs)
    measured = f"{first['wall'] / last['wall']:.2f}x; {walls}; cell limit {args.cell_timeout} s, call limit {args.call_timeout:g} s"
    conftest.write_results({(name, device): [name, device, measured, ">= 1.8x, JOBS=2 <= 30 min"]})


if __name__ == "__main__":
    sys.exit(main())
