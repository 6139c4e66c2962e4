#!/usr/bin/env python
"""Autograde every submission of an assignment in parallel, with nbgrader's own autograde.

Usage (normally through ``make grade ASSIGNMENT=<ID> [JOBS=N] [FORCE=1] [SHARD=k/n]``)::

    .venv/bin/python tools/grade.py <ID> [--jobs N] [--force] [--shard k/n] [--student S ...]
    .venv/bin/python tools/grade.py merge A.db [B.db ...] [--into gradebook.db]

``tools/grade.py <ID>`` grades every ``submitted/<student>/<ID>/`` of the course folder (the
repository root, or ``--root``):

* ``--jobs N`` worker processes (default: the number of CPUs). Each worker is one long-lived
  Python process that runs nbgrader's ``autograde`` (``nbgrader.apps.NbGraderAPI.autograde``,
  the same converter as ``nbgrader autograde <ID> --student <S>``, with the course's
  ``nbgrader_config.py``) on one submission after the other, into its own SQLite gradebook, so
  that workers never wait on each other's database lock and nbgrader is imported once per
  worker, not once per student. At the end the workers' gradebooks are merged into
  ``gradebook.db``: the same rows a serial ``nbgrader autograde <ID>`` writes (auto scores,
  the "needs manual grade" flags, auto comments, timestamps, late penalties); manual grades
  already in ``gradebook.db`` are kept, as nbgrader keeps them.
* a progress line (count, rate, time left) and, at the end, a summary: graded, failed to run,
  timed out (a cell ran past ``c.Execute.timeout`` and was interrupted, or a test stopped a
  student's function after ``COURSE_CALL_TIME_LIMIT`` seconds: graded, those tests score 0;
  or the whole submission ran past ``--timeout`` and was stopped), notebook missing or renamed,
  not a valid notebook; the written answers waiting for a grader (each student's, and how to
  grade them: the rubric, then the Formgrader), and the graded functions that are near
  copies of the course's own implementation (``course_utils.grading.similarity_to_reference``
  at least its threshold; no penalty, for the instructor to look at).
* one bad submission never stops the others; no file under ``submitted/`` is ever written.
* submissions already in ``gradebook.db`` (and in ``autograded/``) are skipped unless
  ``--force``.
* ``--shard k/n`` grades only the k-th of n slices of the students (sorted by id, every n-th
  one starting from the k-th), for classes graded on several machines: each machine grades
  its slice into its own copy of the course, then ``tools/grade.py merge`` puts their
  ``gradebook.db`` files together.

``tools/grade.py merge A.db B.db ...`` merges gradebooks (of several machines, or the worker
gradebooks a run left behind when ``gradebook.db`` was locked) into ``gradebook.db`` (or
``--into``): every autograded submission they hold, assignment by assignment; an assignment
that ``gradebook.db`` does not know is copied with its notebooks and cells, and one whose
graded cells differ (another version of the assignment) is refused.

Exit status: 0 when every submission was graded (or skipped as already graded), 1 when some
could not be graded (the summary says which and what to do), 2 when nothing could start
(no ``submitted/`` folder, an unknown assignment, ...).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ".grading"  # under the course folder: the workers' gradebooks and the last summary
RESULT_PREFIX = "@@grade-result "  # how a worker's result lines are told apart from stray output
STARTUP_TIMEOUT = 600  # seconds a worker may take to import nbgrader (minutes on a very busy machine)
# Errors of a cell stopped for time: nbgrader's interrupt after c.Execute.timeout, or a test's call of a
# student function stopped after COURSE_CALL_TIME_LIMIT (course_utils.grading.CallTimeLimit).
INTERRUPTED = {"KeyboardInterrupt", "CellTimeoutError", "TimeoutError", "DeadKernelError", "CallTimeLimit"}


def _release():
    """tools/release.py (its course helpers: nbgrader's environment, recording an assignment)."""
    name = "course_release"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / "release.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


class GradingError(Exception):
    """Grading cannot start; the message says why and what to do."""


# --------------------------------------------------------------------------- #
# The course folder
# --------------------------------------------------------------------------- #
@dataclass
class Course:
    root: Path
    course_id: str
    submitted: Path
    autograded: Path
    source: Path
    gradebook: Path  # the SQLite file of the course's gradebook

    @classmethod
    def load(cls, root: Path) -> "Course":
        from traitlets.config.loader import PyFileConfigLoader

        root = Path(root).resolve()
        config_file = root / "nbgrader_config.py"
        if not config_file.exists():
            raise GradingError(f"{config_file} does not exist: run this in the course folder (or give --root)")
        config = PyFileConfigLoader(str(config_file)).load_config()
        directory = config.get("CourseDirectory", {})
        if "root" in directory and Path(directory["root"]).resolve() != root:
            root = Path(directory["root"]).resolve()
        db_url = directory.get("db_url", f"sqlite:///{root / 'gradebook.db'}")
        if not db_url.startswith("sqlite:///"):
            raise GradingError(f"the course's gradebook is {db_url}: tools/grade.py merges SQLite gradebooks only")
        return cls(
            root=root,
            course_id=directory.get("course_id", "default_course"),
            submitted=root / directory.get("submitted_directory", "submitted"),
            autograded=root / directory.get("autograded_directory", "autograded"),
            source=root / directory.get("source_directory", "source"),
            gradebook=Path(db_url[len("sqlite:///"):]),
        )


def db_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def gradebook_locked(path: Path, wait: float = 0.0) -> bool:
    """Whether another process holds a lock on the SQLite file ``path`` (waiting up to ``wait`` s)."""
    if not Path(path).exists():
        return False
    connection = sqlite3.connect(str(path), timeout=wait)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
        return False
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return True
        raise
    finally:
        connection.close()


# --------------------------------------------------------------------------- #
# Gradebooks: copying an assignment, merging submissions
# --------------------------------------------------------------------------- #
def copy_assignment(src, dst, name: str) -> None:
    """Copy assignment ``name`` (notebooks, graded, solution, task and source cells) from
    gradebook ``src`` into gradebook ``dst`` (both ``nbgrader.api.Gradebook``)."""
    assignment = src.find_assignment(name)
    dst.update_or_create_assignment(name, duedate=assignment.duedate)
    for notebook in assignment.notebooks:
        dst.update_or_create_notebook(notebook.name, name, kernelspec=notebook.kernelspec)
        for cell in notebook.grade_cells:
            dst.update_or_create_grade_cell(cell.name, notebook.name, name, max_score=cell.max_score,
                                            cell_type=cell.cell_type)  # fmt: skip
        for cell in notebook.solution_cells:
            dst.update_or_create_solution_cell(cell.name, notebook.name, name)
        for cell in notebook.task_cells:
            dst.update_or_create_task_cell(cell.name, notebook.name, name, max_score=cell.max_score,
                                           cell_type=cell.cell_type)  # fmt: skip
        for cell in notebook.source_cells:
            dst.update_or_create_source_cell(cell.name, notebook.name, name, cell_type=cell.cell_type,
                                             locked=cell.locked, source=cell.source, checksum=cell.checksum)  # fmt: skip


def assignment_signature(gradebook, name: str) -> dict:
    """What must agree for two gradebooks' grades of ``name`` to be merged: the notebooks and
    their graded cells with points, and the checksums of the cells autograde restores."""
    assignment = gradebook.find_assignment(name)
    return {
        notebook.name: {
            "graded": sorted((c.name, float(c.max_score)) for c in notebook.grade_cells + notebook.task_cells),
            "locked": sorted((c.name, c.checksum) for c in notebook.source_cells if c.locked),
        }
        for notebook in assignment.notebooks
    }


def _autograded(submission) -> bool:
    """Whether a submission holds autograde results (not only the rows nbgrader creates first)."""
    grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
    return any(grade.auto_score is not None or grade.manual_score is not None for grade in grades) or any(
        not grade.needs_manual_grade for grade in grades
    )


def merge_gradebooks(into: Path, sources: list[Path], course_id: str, *, assignment: str | None = None,
                     students: set[str] | None = None) -> list[tuple[str, str]]:  # fmt: skip
    """Merge the autograded submissions of ``sources`` into the gradebook file ``into``.

    Only ``assignment`` and ``students`` when given. A submission already in ``into`` gets the
    source's auto scores, auto comments, timestamp and late penalty; its manual scores and
    comments stay (taken from the source only where ``into`` has none). Returns the
    ``(assignment, student)`` pairs merged.
    """
    from nbgrader.api import Gradebook, MissingEntry

    merged = []
    with Gradebook(db_url(into), course_id) as dst:
        for source in sources:
            source = Path(source)
            if not source.exists():
                raise GradingError(f"{source}: no such gradebook")
            with sqlite3.connect(str(source)) as connection:
                courses = [row[0] for row in connection.execute("SELECT id FROM course")]
            if courses and course_id not in courses:
                raise GradingError(f"{source} is a gradebook of course {courses[0]!r}, not {course_id!r}")
            with Gradebook(db_url(source), course_id) as src:
                names = [a.name for a in src.assignments if assignment in (None, a.name)]
                for name in names:
                    try:
                        dst.find_assignment(name)
                    except MissingEntry:
                        copy_assignment(src, dst, name)
                    if assignment_signature(src, name) != assignment_signature(dst, name):
                        raise GradingError(
                            f"{source}: assignment {name} differs from the one in {into} (other notebooks, "
                            "graded cells, points or tests): grade both with the same release of the assignment"
                        )
                    for submission in src.assignment_submissions(name):
                        student = submission.student
                        if (students is not None and student.id not in students) or not _autograded(submission):
                            continue
                        _merge_submission(dst, name, submission)
                        merged.append((name, student.id))
    return merged


def _merge_submission(dst, name: str, submission) -> None:
    student = submission.student
    details = {key: getattr(student, key) for key in ("first_name", "last_name", "email", "lms_user_id")}
    dst.update_or_create_student(student.id, **{k: v for k, v in details.items() if v is not None})
    extra = {"timestamp": submission.timestamp} if submission.timestamp is not None else {}
    dst.update_or_create_submission(name, student.id, **extra)
    for notebook in submission.notebooks:
        target = dst.find_submission_notebook(notebook.name, name, student.id)
        target.late_submission_penalty = notebook.late_submission_penalty
        target.flagged = bool(target.flagged or notebook.flagged)
        for grade in notebook.grades:
            mine = dst.find_grade(grade.name, notebook.name, name, student.id)
            mine.auto_score = grade.auto_score
            if mine.manual_score is None and grade.manual_score is not None:
                mine.manual_score, mine.needs_manual_grade = grade.manual_score, grade.needs_manual_grade
            else:  # what nbgrader's SaveAutoGrades decides
                mine.needs_manual_grade = mine.manual_score is not None or mine.auto_score is None
            if mine.extra_credit is None and grade.extra_credit is not None:
                mine.extra_credit = grade.extra_credit
        for comment in notebook.comments:
            mine = dst.find_comment(comment.name, notebook.name, name, student.id)
            mine.auto_comment = comment.auto_comment
            if not mine.manual_comment and comment.manual_comment:
                mine.manual_comment = comment.manual_comment
    dst.db.commit()


# --------------------------------------------------------------------------- #
# Looking at the submissions before grading
# --------------------------------------------------------------------------- #
@dataclass
class Outcome:
    """What happened to one student's submission."""

    student: str
    status: str  # graded | skipped | failed | timed out | missing | renamed | invalid
    detail: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    interrupted_cells: int = 0
    needs_manual: int = 0
    waiting: list[str] = field(default_factory=list)  # the written answers waiting for a grader (grade ids)
    near_copies: list[dict] = field(default_factory=list)  # graded functions close to the course's reference


def inspect_submission(course: Course, assignment: str, student: str, expected: list[str]) -> Outcome | None:
    """An ``Outcome`` when the submission cannot be graded as it is (no notebook, a renamed one,
    a file that is not a notebook); ``None`` when it can."""
    import nbformat

    folder = course.submitted / student / assignment
    shown = folder.relative_to(course.root)
    present = sorted(p.name for p in folder.glob("*.ipynb"))
    wanted = [f"{name}.ipynb" for name in expected]
    found = [name for name in wanted if name in present]
    others = [name for name in present if name not in wanted]
    if not found:
        if others:
            return Outcome(student, "renamed", f"{shown}/ holds {', '.join(others)}, not {', '.join(wanted)}: "
                           f"rename it to {wanted[0]} (e.g. `mv {shown}/{others[0]} {shown}/{wanted[0]}`), "
                           "or ask the student to submit again, then grade again")  # fmt: skip
        return Outcome(student, "missing", f"{shown}/ holds no notebook (expected {', '.join(wanted)}): "
                       "ask the student to submit it, then grade again")  # fmt: skip
    for name in found:
        try:
            nb = nbformat.read(folder / name, as_version=4)
            nbformat.validate(nb)
        except Exception as error:  # JSON or schema errors; nbformat raises several kinds
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return Outcome(student, "invalid", f"{shown}/{name} is not a valid notebook ({message[:160]}): "
                           "ask the student for a new copy (File > Download in JupyterLab), then grade again")  # fmt: skip
    return None


# --------------------------------------------------------------------------- #
# After grading: written answers for a grader, near copies of the course's code
# --------------------------------------------------------------------------- #
GUARDED = re.compile(r"\bguarded\(\s*(\w+)\s*,((?:\s*[\"'][\w.]+[\"']\s*,?)+)\s*\)")


def waiting_answers(course: Course, assignment: str) -> dict[str, list[str]]:
    """``{student: [grade id, ...]}``: the written answers (markdown cells graded by hand) of each
    autograded submission of ``assignment`` that wait for a grader in the course's gradebook,
    in the order of the notebooks' cells."""
    from nbgrader.api import Gradebook

    found: dict[str, list[str]] = {}
    with Gradebook(db_url(course.gradebook), course.course_id) as gradebook:
        order = {}
        for notebook in gradebook.find_assignment(assignment).notebooks:
            for cell in notebook.grade_cells:
                order[notebook.name, cell.name] = (cell.cell_type, len(order))
        for submission in gradebook.assignment_submissions(assignment):
            if not _autograded(submission):
                continue
            names = [(order.get((nb.name, g.name), ("", 0))[1], g.name) for nb in submission.notebooks
                     for g in nb.grades
                     if g.needs_manual_grade and order.get((nb.name, g.name), ("",))[0] == "markdown"]  # fmt: skip
            if names:
                found[submission.student.id] = [name for _, name in sorted(names)]
    return found


def guarded_references(notebooks: list) -> dict[str, list[str]]:
    """``{function name: [course function, ...]}``: what each graded test cell runs a student's
    function with switched off (its ``guarded(name, "course_utils....", ...)`` calls)."""
    found: dict[str, list[str]] = {}
    for nb in notebooks:
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            for match in GUARDED.finditer(cell.source):
                names = found.setdefault(match.group(1), [])
                names += [n for n in re.findall(r"[\"']([\w.]+)[\"']", match.group(2)) if n not in names]
    return found


def defined_functions(nb) -> dict[str, str]:
    """``{name: source}`` of the top-level functions a notebook's code cells define (the last
    definition of a name wins, as in the kernel); cells that do not parse are left out."""
    import ast

    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = ast.get_source_segment(source, node)
    return found


def near_copy_threshold() -> float:
    from course_utils import grading

    return float(grading.NEAR_COPY_THRESHOLD)


def near_copies(nb, references: dict[str, list[str]], threshold: float | None = None) -> list[dict]:
    """The graded functions of the notebook ``nb`` whose code is a near copy of a course function
    that their tests switch off: ``course_utils.grading.similarity_to_reference`` at least
    ``threshold``; each ``{"function", "reference", "similarity"}``, the closest reference."""
    from course_utils import grading

    threshold = near_copy_threshold() if threshold is None else threshold
    defined = defined_functions(nb)
    found = []
    for name, names in sorted(references.items()):
        if name not in defined:
            continue
        best = (0.0, "")
        for reference in names:
            try:
                functions = grading.resolve(reference)
            except Exception:  # a name the course no longer has: nothing to compare with
                continue
            for function in functions:
                if grading.syntax_size(function) < grading.NEAR_COPY_MIN_SIZE:
                    continue  # too short for a copy to say anything
                best = max(best, (grading.similarity_to_reference(defined[name], function), reference))
        if best[0] >= threshold:
            found.append({"function": name, "reference": best[1], "similarity": round(best[0], 3)})
    return found


def find_near_copies(course: Course, assignment: str, students: list[str]) -> dict[str, list[dict]]:
    """``{student: near copies}`` for the submitted notebooks of ``students`` (read only)."""
    import nbformat

    sources = [nbformat.read(path, as_version=4) for path in sorted((course.source / assignment).glob("*.ipynb"))]
    references = guarded_references(sources)
    found = {}
    if not references:
        return found
    threshold = near_copy_threshold()
    for student in students:
        copies = []
        for path in sorted((course.submitted / student / assignment).glob("*.ipynb")):
            try:
                copies += near_copies(nbformat.read(path, as_version=4), references, threshold)
            except Exception:  # an unreadable notebook is reported by the grading itself
                continue
        if copies:
            found[student] = copies
    return found


# --------------------------------------------------------------------------- #
# Workers
# --------------------------------------------------------------------------- #
def worker_main(root: str, db: str, assignment: str) -> int:
    """One worker process: reads student ids on stdin, autogrades each with nbgrader's API into
    the gradebook ``db``, and writes one result line per student on stdout."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(str(Path(root) / "nbgrader_config.py")).load_config()
    config.CourseDirectory.root = root
    config.CourseDirectory.db_url = db_url(Path(db))
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    course_id = api.coursedir.course_id
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever nbgrader or a kernel prints stays out of the result lines
    out.write(RESULT_PREFIX + json.dumps({"ready": True}) + "\n")  # imports done: --timeout starts now
    out.flush()
    for line in sys.stdin:
        student = line.strip()
        if not student:
            continue
        start = time.perf_counter()
        result = {"student": student}
        try:
            answer = api.autograde(assignment, student, force=True, create=True)
            result["success"] = bool(answer.get("success"))
            result["log"] = answer.get("log", "")[-20000:]
            result["error"] = answer.get("error", "")[-20000:]
            if not result["success"]:  # the whole log in the worker's log file
                sys.stderr.write(f"\n----- {student}: nbgrader autograde failed\n{answer.get('log', '')}\n"
                                 f"{answer.get('error', '')}\n")
            if result["success"]:
                with Gradebook(db_url(Path(db)), course_id) as gradebook:
                    submission = gradebook.find_submission(assignment, student)
                    result["score"], result["max_score"] = submission.score, submission.max_score
                    result["needs_manual"] = sum(
                        1 for nb in submission.notebooks for g in nb.grades if g.needs_manual_grade
                    )
                    result["waiting"] = [g.name for nb in submission.notebooks for g in nb.grades
                                         if g.needs_manual_grade and g.cell.cell_type == "markdown"]  # fmt: skip
                interrupted = 0
                for path in (Path(root) / api.coursedir.autograded_directory / student / assignment).glob("*.ipynb"):
                    graded = nbformat.read(path, as_version=4)
                    interrupted += sum(
                        1 for cell in graded.cells if cell.cell_type == "code"
                        for output in cell.get("outputs", [])
                        if output.get("output_type") == "error" and output.get("ename") in INTERRUPTED
                    )  # fmt: skip
                result["interrupted_cells"] = interrupted
        except Exception as error:  # nbgrader's API catches its own errors; this is a last resort
            result.update(success=False, error=f"{type(error).__name__}: {error}")
        result["seconds"] = time.perf_counter() - start
        out.write(RESULT_PREFIX + json.dumps(result) + "\n")
        out.flush()
    return 0


class Worker:
    """A worker process and the thread that feeds it students."""

    def __init__(self, course: Course, db: Path, assignment: str, log: Path, threads: int = 1):
        self.course, self.db, self.assignment, self.log_path = course, db, assignment, log
        self.threads = threads  # of each notebook's kernel (torch's intra-op threads)
        self.process = None
        self.results: queue.Queue = queue.Queue()

    def start(self) -> None:
        env = _release().nbgrader_env(self.course.root)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The kernels of all workers share the CPUs: more threads than cores only make them wait on each other.
        env.setdefault("OMP_NUM_THREADS", str(self.threads))
        command = [sys.executable, str(Path(__file__).resolve()), "_worker", str(self.course.root), str(self.db),
                   self.assignment]  # fmt: skip
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            command, cwd=self.course.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, start_new_session=True,  # its own process group: kernels included
        )  # fmt: skip
        self.results = queue.Queue()
        threading.Thread(target=self._read, args=(self.process, self.results), daemon=True).start()
        try:  # the worker says when nbgrader is imported, so that --timeout counts the grading only
            ready = self.results.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            ready = None
        if not (ready and ready.get("ready")):
            raise RuntimeError(f"the worker process did not start (see {self.log_path})")

    @staticmethod
    def _read(process, results) -> None:
        for line in process.stdout:
            if line.startswith(RESULT_PREFIX):
                results.put(json.loads(line[len(RESULT_PREFIX):]))
        results.put(None)  # the process ended

    def grade(self, student: str, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            try:
                self.start()
            except RuntimeError as error:
                self.stop()
                return {"student": student, "success": False, "error": f"RuntimeError: {error}"}
        try:
            self.process.stdin.write(student + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop()
            return {"student": student, "success": False, "error": "the worker process ended"}
        try:
            result = self.results.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            return {"student": student, "success": False, "killed": True,
                    "error": f"still running after {timeout:.0f} s (--timeout): stopped"}  # fmt: skip
        if result is None:
            self.stop()
            return {"student": student, "success": False, "error": f"the worker process died (see {self.log_path})"}
        return result

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError, BrokenPipeError):
                pass
        try:  # the worker, and a kernel it may have left behind (same process group)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.log.close()
        self.process = None


# --------------------------------------------------------------------------- #
# Progress and summary
# --------------------------------------------------------------------------- #
def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"  # fmt: skip


class Progress:
    """``[ 12/300] ####.....  4%  0.21/s  elapsed 0:57  left 22:51  bob: graded 9.0/12.0``: on a
    terminal one line redrawn in place; otherwise one line per finished submission."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.start, self.stream = total, 0, time.perf_counter(), stream
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def update(self, outcome: Outcome) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.perf_counter() - self.start
            rate = self.done / elapsed if elapsed > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            width = 20
            filled = int(width * self.done / max(self.total, 1))
            what = outcome.status + (f" {outcome.score:g}/{outcome.max_score:g}" if outcome.score is not None else "")
            line = (f"[{self.done:>{len(str(self.total))}}/{self.total}] {'#' * filled}{'.' * (width - filled)} "
                    f"{100 * self.done / max(self.total, 1):3.0f}%  {rate * 60:.1f}/min  elapsed {_clock(elapsed)}  "
                    f"left {_clock(left)}  {outcome.student}: {what}")  # fmt: skip
            if self.tty:
                self.stream.write("\r\033[K" + line + ("\n" if self.done == self.total else ""))
            else:
                self.stream.write(line + "\n")
            self.stream.flush()


def summary_text(assignment: str, outcomes: list[Outcome], seconds: float, jobs: int) -> str:
    by = lambda status: [o for o in outcomes if o.status == status]  # noqa: E731
    graded, timed = by("graded"), [o for o in outcomes if o.status == "timed out"]
    lines = [f"\n{assignment}: {len(outcomes)} submission(s) in {_clock(seconds)} with {jobs} job(s)"]
    ran = [o for o in outcomes if o.status in ("graded", "timed out") and o.seconds]
    if ran:
        lines[0] += f", {sum(o.seconds for o in ran) / len(ran):.1f} s of worker time per graded submission"
    labels = [
        ("graded", "graded"),
        ("skipped", "already graded, skipped (FORCE=1 grades them again)"),
        ("timed out", "timed out (a cell or a call stopped at its time limit, or the submission stopped)"),
        ("failed", "failed to run"),
        ("missing", "notebook missing"),
        ("renamed", "notebook renamed"),
        ("invalid", "not a valid notebook"),
    ]
    for status, label in labels:
        group = by(status)
        lines.append(f"  {len(group):>4}  {label}")
        if status in ("graded", "skipped"):
            continue
        for o in group:
            lines.append(f"          {o.student}: {o.detail}")
    waiting = [o for o in outcomes if o.waiting]
    answers = sum(len(o.waiting) for o in waiting)
    lines.append(f"  {len(waiting):>4}  with written answers waiting for a grader ({answers} answer(s) in all)")
    for o in waiting:
        lines.append(f"          {o.student}: {len(o.waiting)} answer(s): {', '.join(o.waiting)}")
    other = [o for o in graded + timed if o.needs_manual > len(o.waiting)]
    if other:
        lines.append(f"  {len(other):>4}  with other cells waiting for a manual grade")
        for o in other:
            lines.append(f"          {o.student}: {o.needs_manual - len(o.waiting)} cell(s)")
    if answers:
        lines.append(f"        to grade them: `make rubric ASSIGNMENT={assignment}` (each question's model answer and "
                     "rubric), then `make lab`,")  # fmt: skip
        lines.append("        Nbgrader -> Formgrader (or `nbgrader formgrader`) -> Manual grading; answers left as "
                     "released scored 0")  # fmt: skip
    copies = [o for o in outcomes if o.near_copies]
    lines.append(f"  {len(copies):>4}  with a near copy of the course's own code (no penalty: for you to look at)")
    for o in copies:
        found = ", ".join(f"{c['function']} ({c['similarity']:.2f} like {c['reference']})" for c in o.near_copies)
        lines.append(f"          {o.student}: {found}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Grading an assignment
# --------------------------------------------------------------------------- #
def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise GradingError(f"SHARD={text!r}: write k/n, e.g. SHARD=2/4 for the second of four slices") from None
    if not 1 <= k <= n:
        raise GradingError(f"SHARD={text!r}: k must be between 1 and n")
    return k, n


def known_assignments(course: Course) -> tuple[list[str], list[str]]:
    """The assignments in the gradebook, and the folders of the source directory."""
    from nbgrader.api import Gradebook

    recorded = []
    if course.gradebook.exists():
        with Gradebook(db_url(course.gradebook), course.course_id) as gradebook:
            recorded = sorted(a.name for a in gradebook.assignments)
    return recorded, _release().assignment_ids(course.source)


def record_assignment(course: Course, assignment: str) -> None:
    """Record ``assignment`` (from the source folder) in the course's gradebook, as
    ``tools/release.py --gradebook`` does."""
    release = _release()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        root = release.prepare_course(Path(tmp) / "course", [assignment], solutions_dir=course.source)
        release.generate(root, [assignment], gradebook=course.gradebook)


def graded_students(course: Course, assignment: str) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course.gradebook), course.course_id) as gradebook:
        return {s.student.id for s in gradebook.assignment_submissions(assignment) if _autograded(s)}


def grade(course: Course, assignment: str, *, jobs: int, force: bool = False, shard: tuple[int, int] | None = None,
          only: list[str] | None = None, timeout: float = 1800.0, lock_wait: float = 30.0,
          out=sys.stdout) -> tuple[int, list[Outcome]]:  # fmt: skip
    """Grade the submissions of ``assignment``; returns (exit status, outcomes)."""
    from nbgrader.api import Gradebook

    started = time.perf_counter()
    if not course.submitted.is_dir():
        raise GradingError(
            f"no {course.submitted.name}/ folder in {course.root}: put each submission in "
            f"{course.submitted.name}/<student>/{assignment}/{assignment}.ipynb (by hand, with "
            f"`nbgrader zip_collect {assignment}`, or on JupyterHub with `nbgrader collect {assignment}`)"
        )
    recorded, sources = known_assignments(course)
    if assignment not in recorded and assignment not in sources:
        raise GradingError(f"unknown assignment {assignment!r}: the assignments are "
                           f"{', '.join(sorted(set(recorded) | set(sources))) or 'none'} "
                           f"(folders of {course.source.name}/)")  # fmt: skip
    if gradebook_locked(course.gradebook, wait=lock_wait):
        locked_at_start = True
        print(f"warning: {course.gradebook.name} is locked by another process (the Formgrader, another nbgrader "
              "command?); grading goes on into separate gradebooks, merged at the end once it is free", file=out)  # fmt: skip
    else:
        locked_at_start = False
    if assignment not in recorded:
        if locked_at_start:
            raise GradingError(f"{course.gradebook.name} is locked by another process and does not know "
                               f"{assignment} yet: close that process, then grade again")  # fmt: skip
        print(f"recording {assignment} in {course.gradebook.name} (as `tools/release.py --gradebook` does)", file=out)
        record_assignment(course, assignment)

    students = sorted(p.parent.name for p in course.submitted.glob(f"*/{assignment}") if p.is_dir())
    if only:
        unknown = [s for s in only if s not in students]
        if unknown:
            raise GradingError(f"no submission of {assignment} for {', '.join(unknown)} in {course.submitted}")
        students = [s for s in students if s in only]
    if shard:
        k, n = shard
        students = students[k - 1 :: n]
    if not students:
        raise GradingError(f"no submission of {assignment} in {course.submitted}/ (expected "
                           f"{course.submitted.name}/<student>/{assignment}/{assignment}.ipynb)")  # fmt: skip

    with Gradebook(db_url(course.gradebook), course.course_id) as gradebook:
        expected = [nb.name for nb in gradebook.find_assignment(assignment).notebooks]
    already = graded_students(course, assignment) if not force else set()
    outcomes: dict[str, Outcome] = {}
    todo = []
    for student in students:
        if student in already and (course.autograded / student / assignment).is_dir():
            outcomes[student] = Outcome(student, "skipped")
            continue
        problem = inspect_submission(course, assignment, student, expected)
        if problem:
            outcomes[student] = problem
        else:
            todo.append(student)
    jobs = max(1, min(jobs, len(todo))) if todo else 1
    shard_text = f", slice {shard[0]}/{shard[1]}" if shard else ""
    print(f"{assignment}: {len(students)} submission(s){shard_text}; {len(todo)} to grade with {jobs} job(s), "
          f"{len(outcomes)} skipped or not gradable", file=out)  # fmt: skip

    work = course.root / WORK_DIR / assignment / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    for outcome in outcomes.values():
        if outcome.status != "skipped":
            print(f"  {outcome.student}: {outcome.status}: {outcome.detail}", file=out)
    progress = Progress(len(todo))
    worker_dbs = []
    if todo:
        template = work / "template.db"
        with Gradebook(db_url(course.gradebook), course.course_id) as src, \
                Gradebook(db_url(template), course.course_id) as dst:  # fmt: skip
            copy_assignment(src, dst, assignment)
        pending: queue.Queue = queue.Queue()
        for student in todo:
            pending.put(student)
        lock = threading.Lock()

        def run(index: int) -> None:
            db = work / f"worker-{index}.db"
            shutil.copyfile(template, db)
            worker = Worker(course, db, assignment, work / f"worker-{index}.log",
                            threads=max(1, (os.cpu_count() or 1) // jobs))
            worker_dbs.append(db)
            try:
                while True:
                    try:
                        student = pending.get_nowait()
                    except queue.Empty:
                        return
                    outcome = _outcome(student, worker.grade(student, timeout), course, assignment)
                    with lock:
                        outcomes[student] = outcome
                    progress.update(outcome)
            finally:
                worker.stop()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    status = 0
    graded_ok = {s for s, o in outcomes.items() if o.status in ("graded", "timed out") and s in todo}
    if graded_ok:
        if gradebook_locked(course.gradebook, wait=lock_wait):
            parts = " ".join(str(p.relative_to(course.root)) for p in sorted(worker_dbs))
            print(f"\n{course.gradebook.name} is still locked by another process: the grades of "
                  f"{len(graded_ok)} submission(s) are kept in {parts}. Close that process, then run "
                  f"`{Path(sys.executable).name} tools/grade.py merge {parts}` (or grade again)", file=out)  # fmt: skip
            status = 1
        else:
            merge_gradebooks(course.gradebook, sorted(worker_dbs), course.course_id, assignment=assignment,
                             students=graded_ok)  # fmt: skip
            for db in worker_dbs:
                db.unlink(missing_ok=True)
            (work / "template.db").unlink(missing_ok=True)
    listed = [outcomes[s] for s in students]
    if status == 0 or not graded_ok:  # the gradebook holds this run's grades (and a grader's since)
        waiting = waiting_answers(course, assignment)
        for outcome in listed:
            if outcome.status in ("graded", "timed out", "skipped"):
                outcome.waiting = waiting.get(outcome.student, [])
    gradable = [o.student for o in listed if o.status in ("graded", "timed out", "skipped")]
    try:
        for student, copies in find_near_copies(course, assignment, gradable).items():
            outcomes[student].near_copies = copies
    except Exception as error:  # the comparison is advice: it never stops the grading
        print(f"note: near copies not checked ({type(error).__name__}: {error})", file=out)
    print(summary_text(assignment, listed, time.perf_counter() - started, jobs), file=out)
    (work / "summary.json").write_text(json.dumps([asdict(o) for o in listed], indent=1) + "\n")
    if any(o.status not in ("graded", "skipped", "timed out") for o in listed):
        status = 1
    return status, listed


def _reason(result: dict) -> str:
    """The most telling line of a failed autograde: the last exception raised below nbgrader's own
    "see the above traceback" one."""
    import re

    text = f"{result.get('log') or ''}\n{result.get('error') or ''}"
    found = [m.group(1) for m in re.finditer(r"^\s*(?:[\w]+\.)*(\w+(?:Error|Exception|Interrupt): .*)$", text, re.M)]
    found = [line for line in found if not line.startswith("NbGraderException")]
    if found:
        return found[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _outcome(student: str, result: dict, course: Course, assignment: str) -> Outcome:
    seconds = float(result.get("seconds", 0.0))
    if result.get("killed"):
        return Outcome(student, "timed out", f"{result['error']}; nothing recorded: look at the notebook, or grade "
                       "it again with a larger --timeout", seconds=seconds)  # fmt: skip
    if not result.get("success"):
        reason = _reason(result)
        fix = (f"the kernel answered too late (a busy machine?): grade it again with fewer jobs, "
               f"`make grade ASSIGNMENT={assignment} FORCE=1 JOBS=1`" if "CellTimeoutError" in reason else
               f"fix the submission, then `make grade ASSIGNMENT={assignment} FORCE=1`")  # fmt: skip
        return Outcome(student, "failed", f"nbgrader autograde failed: {reason[:300]} (full log: "
                       f"{WORK_DIR}/{assignment}/*/worker-*.log); {fix}", seconds=seconds)  # fmt: skip
    interrupted = int(result.get("interrupted_cells", 0))
    outcome = Outcome(student, "graded", score=result.get("score"), max_score=result.get("max_score"),
                      seconds=seconds, interrupted_cells=interrupted,
                      needs_manual=int(result.get("needs_manual", 0)),
                      waiting=list(result.get("waiting", [])))  # fmt: skip
    if interrupted:
        outcome.status = "timed out"
        outcome.detail = (f"{interrupted} cell(s) stopped at the cell or call time limit; graded "
                          f"{outcome.score:g}/{outcome.max_score:g} (the tests that waited on them score 0)")  # fmt: skip
    return outcome


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import warnings

    # nbgrader's gradebook triggers SQLAlchemy's "not in session" warnings on every new submission.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    # nbgrader runs `alembic` (the gradebook's migrations) from PATH: the virtual environment's
    # bin/ first, even when it is not activated (make calls .venv/bin/python).
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if argv[:1] == ["_worker"]:
        return worker_main(*argv[1:4])
    if argv[:1] == ["merge"]:
        parser = argparse.ArgumentParser(prog="tools/grade.py merge", description="Merge gradebooks into the course's.")
        parser.add_argument("gradebooks", nargs="+", type=Path, metavar="DB")
        parser.add_argument("--into", type=Path, help="the gradebook to merge into (default: the course's gradebook.db)")
        parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
        parser.add_argument("--assignment", help="merge only this assignment")
        args = parser.parse_args(argv[1:])
        try:
            course = Course.load(args.root)
            into = args.into or course.gradebook
            if gradebook_locked(into, wait=30):
                raise GradingError(f"{into} is locked by another process: close it (the Formgrader, another "
                                   "nbgrader command), then merge again")  # fmt: skip
            merged = merge_gradebooks(into, args.gradebooks, course.course_id, assignment=args.assignment)
        except GradingError as error:
            print(f"merge: {error}", file=sys.stderr)
            return 2
        print(f"merged {len(merged)} submission(s) into {into}")
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment id (a folder of the source)")
    parser.add_argument("--jobs", "-j", type=int, default=0, help="worker processes (default: the number of CPUs)")
    parser.add_argument("--force", action="store_true", help="grade again the submissions already graded")
    parser.add_argument("--shard", help="k/n: grade only the k-th of n slices of the students")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds one submission may take in all before it is stopped (default 1800; each "
                        "cell is also limited by c.Execute.timeout)")  # fmt: skip
    parser.add_argument("--lock-wait", type=float, default=30.0,
                        help="seconds to wait for gradebook.db when another process holds it (default 30)")  # fmt: skip
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)
    jobs = args.jobs if args.jobs and args.jobs > 0 else (os.cpu_count() or 1)
    try:
        course = Course.load(args.root)
        status, _ = grade(course, args.assignment, jobs=jobs, force=args.force, shard=parse_shard(args.shard),
                          only=args.student, timeout=args.timeout, lock_wait=args.lock_wait)  # fmt: skip
    except GradingError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
