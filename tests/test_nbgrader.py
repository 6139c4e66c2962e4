"""The nbgrader pipeline, for every assignment folder under solutions/.

* the committed release (assignments/) is exactly what ``make release`` writes, and hides the
  solutions and the hidden tests;
* ``tools/release.py`` refuses to overwrite a notebook a student edited;
* grading round trip with nbgrader's own commands, in throw-away copies of the course: for every
  assignment, the untouched release scores 0 and the solutions full marks (the autograde of the
  solutions is the one run of the solution notebooks in the suite); a submission whose every graded
  function only calls the course's own implementation (``DELEGATING``) scores 0, each failed test
  saying why (the reference guard of ``course_utils.grading``);
* pipeline properties, on one assignment (``PIPELINE``): a submission whose cell raises or loops
  forever loses only the points of the tests that use that cell's function; the exchange flow
  (release, fetch, submit, collect, autograde, feedback); ``nbgrader validate`` passes the
  solutions and ``--invert`` fails every test of the release.

Every heavy nbgrader command runs once, in a session fixture, and the suite prints how long the
autograde of each assignment's solutions took (each should stay within 20 s in FAST mode). A
new assignment under solutions/ is picked up without editing this file, if its graded test
cells call the functions they test by name.
"""
from __future__ import annotations

import hashlib
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from traitlets.config.loader import PyFileConfigLoader

from course_tools import load_tool

REPO = Path(__file__).resolve().parent.parent
release = load_tool("release")

# COURSE_ASSIGNMENTS=05_occlusion,09_class_models checks only those (while writing an assignment);
# the pipeline tests need PIPELINE among them and are skipped otherwise.
ASSIGNMENTS = [a for a in release.assignment_ids()
               if not os.environ.get("COURSE_ASSIGNMENTS") or a in os.environ["COURSE_ASSIGNMENTS"].split(",")]
COURSE_ID = PyFileConfigLoader(str(release.COURSE_CONFIG)).load_config().CourseDirectory.course_id
CELL_TIMEOUT = 15  # seconds per cell in the test courses: the infinite loop costs this per cell it holds
CALL_TIME_LIMIT = 5  # seconds per call of a student's function in a test cell (COURSE_CALL_TIME_LIMIT)
CALL_TIME_LIMIT_MESSAGE = "did not return within"
COMMAND_TIMEOUT = 300  # seconds per nbgrader command, so that a hung command fails the test

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME",
           "END MARK SCHEME")  # fmt: skip
WIDGET = "application/vnd.jupyter.widget-view+json"  # a widget's output (a progress bar, a slider)
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"}
# The assignment on which the pipeline's robustness, the exchange flow and validation are checked.
PIPELINE = "01_convnet_recap"
# Graded submissions of the round trip: student id -> how the notebook is made. Every assignment
# gets the first three; only PIPELINE gets the broken ones.
STUDENTS = ("untouched", "solutions", "delegates", "raises", "loops")
needs_pipeline = pytest.mark.skipif(PIPELINE not in ASSIGNMENTS, reason=f"COURSE_ASSIGNMENTS leaves out {PIPELINE}")


# --------------------------------------------------------------------------- #
# Notebook helpers
# --------------------------------------------------------------------------- #
def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and nbgrader_meta(cell).get("solution", False)


def is_answer(cell) -> bool:
    """A written answer: a markdown cell graded by hand (nbgrader's "manually graded answer")."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "markdown" and meta.get("solution", False) and meta.get("grade", False)


def graded_cells(nb) -> list:
    return [cell for cell in nb.cells if nbgrader_meta(cell).get("grade", False)]


def notebooks(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.ipynb"))


def source_notebook(assignment: str, name: str):
    return nbformat.read(REPO / "solutions" / assignment / name, as_version=4)


def regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Lines inside ``### BEGIN ... / ### END ...`` regions, and the lines outside them."""
    inside, outside, depth = [], [], 0
    for line in source.splitlines():
        if begin in line:
            depth += 1
        elif end in line:
            depth -= 1
        else:
            (inside if depth else outside).append(line)
    return inside, outside


def solved_source(cell) -> str:
    """A source cell's code as a student who solved it would write it (markers removed)."""
    return "\n".join(line for line in cell.source.splitlines() if not any(m in line for m in MARKERS))


def looping_source(cell) -> str:
    """The source cell's code with its solution replaced by an infinite loop."""
    lines, out, inside = cell.source.splitlines(), [], False
    for line in lines:
        if "BEGIN SOLUTION" in line:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}while True:", f"{indent}    pass"]
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def defined_functions(source: str) -> list[str]:
    return re.findall(r"^def (\w+)\(", source, flags=re.M)


def uses(source: str, names: list[str]) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", source) for name in names)


@dataclass
class Sabotage:
    """One solution cell of a notebook broken on purpose, and the test cells that depend on it."""

    grade_id: str  # of the broken solution cell
    functions: list[str]  # the functions it defines
    dependents: list[str]  # grade ids of the graded cells that call them


def function_cells(nb) -> list[Sabotage]:
    """The solution cells that define functions, with the graded cells that call them."""
    found = []
    for index, cell in enumerate(nb.cells):
        names = defined_functions(cell.source) if is_solution(cell) else []
        if names:
            later = [c for c in nb.cells[index + 1 :] if nbgrader_meta(c).get("grade", False)]
            dependents = [nbgrader_meta(c)["grade_id"] for c in later if uses(c.source, names)]
            found.append(Sabotage(nbgrader_meta(cell)["grade_id"], names, dependents))
    return found


def cells_calling(nb, names: list[str]) -> int:
    code = [cell for cell in nb.cells if cell.cell_type == "code" and not is_solution(cell)]
    return sum(1 for cell in code if uses(cell.source, names))


def submission(release_nb, source_nb, *, raises: str | None = None, loops: str | None = None):
    """The release notebook filled in with the solutions, as a student submits it; the solution
    cell with grade id ``raises`` fails at once, the one with grade id ``loops`` never ends."""
    by_id = {nbgrader_meta(cell).get("grade_id"): cell for cell in source_nb.cells}
    nb = nbformat.from_dict(release_nb)  # a copy
    for cell in nb.cells:
        if is_solution(cell):
            grade_id = nbgrader_meta(cell)["grade_id"]
            source = by_id[grade_id]
            cell.source = looping_source(source) if grade_id == loops else solved_source(source)
            if grade_id == raises:
                cell.source = 'raise RuntimeError("a bug in the student\'s code")\n' + cell.source
        elif is_answer(cell):
            cell.source = by_id[nbgrader_meta(cell)["grade_id"]].source  # the model answer
    return nb


def points(nb) -> dict[str, float]:
    return {nbgrader_meta(cell)["grade_id"]: float(nbgrader_meta(cell)["points"]) for cell in graded_cells(nb)}


def solved_scores(nb) -> dict[str, float | None]:
    """What autograde gives a solved notebook: full points on every test cell, and no score yet
    (``None``: waiting for a grader) on every written answer."""
    return {grade_id: None if grade_id in answer_ids(nb) else value for grade_id, value in points(nb).items()}


def answer_ids(nb) -> set[str]:
    return {nbgrader_meta(cell)["grade_id"] for cell in nb.cells if is_answer(cell)}


# --------------------------------------------------------------------------- #
# Submissions that delegate every graded function to the course's own implementation
# --------------------------------------------------------------------------- #
# What a student who calls the answer key writes, one solution cell (by grade id) at a time, reaching
# the reference by every route the guard must close: the module attribute, a ``from ... import ... as``
# alias, an alias saved earlier, ``importlib``, and a public function that wraps the reference.
# One file per assignment, tests/delegating/<assignment>.py, holds its CELLS.
DELEGATING = {path.stem: runpy.run_path(str(path))["CELLS"] for path in sorted((REPO / "tests" / "delegating").glob("*.py"))}
# And what a student who solved it differently writes (other operations, only the checks the docstrings
# promise): tests/alternatives/<assignment>.py. It must keep full marks on every test cell.
ALTERNATIVES = {path.stem: runpy.run_path(str(path))["CELLS"] for path in sorted((REPO / "tests" / "alternatives").glob("*.py"))}
GUARD_MESSAGE = "write this function yourself: it "  # "... it called <name>" or "... it is <name>"


def replaced_submission(release_nb, cells: dict[str, str]):
    """The release notebook with every code solution cell replaced by ``cells[grade_id]``."""
    nb = nbformat.from_dict(release_nb)  # a copy
    for cell in nb.cells:
        if is_solution(cell):
            cell.source = cells[nbgrader_meta(cell)["grade_id"]].strip("\n")
    return nb


def delegating_submission(release_nb, assignment: str):
    """The release notebook with every solution cell replaced by a delegation to the course."""
    return replaced_submission(release_nb, DELEGATING[assignment])


# --------------------------------------------------------------------------- #
# Running nbgrader in throw-away courses
# --------------------------------------------------------------------------- #
def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in folder ``root``; fails the test (with nbgrader's log) on an error."""
    result = release.nbgrader(root, *args, check=False, timeout=COMMAND_TIMEOUT)
    log = f"{result.stdout}{result.stderr}"
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed in {root}:\n{log}"
    return result


def copy_course(course: Path, to: Path) -> Path:
    shutil.copytree(course, to, symlinks=True)
    config = to / "nbgrader_config.py"
    config.write_text(config.read_text().replace(repr(str(course)), repr(str(to))))
    return to


def read_grades(root: Path, assignment: str, students, notebook_names) -> dict:
    """``{(student, notebook): {grade_id: (score, max_score)}}`` from the course's gradebook."""
    from nbgrader.api import Gradebook

    grades = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gradebook:
        for student in students:
            for name in notebook_names:
                notebook = gradebook.find_submission_notebook(Path(name).stem, assignment, student)
                # Grade.score reads 0 for a grade no one has given yet: None for an answer waiting for a grader
                grades[student, name] = {g.name: (g.manual_score if g.manual_score is not None else g.auto_score,
                                                  g.max_score) for g in notebook.grades}
    return grades


def write_submissions(root: Path, assignment: str, students) -> tuple[list[str], dict]:
    """Put the submissions of ``students`` for ``assignment`` in ``root/submitted``; returns the
    notebook names and, per notebook, the solution cells broken for "raises" and "loops"."""
    names, sabotages = notebooks(root / "assignments" / assignment), {}
    for name in names:
        release_nb = nbformat.read(root / "assignments" / assignment / name, as_version=4)
        source_nb = source_notebook(assignment, name)
        functions = function_cells(source_nb)
        assert functions, f"{assignment}/{name}: no solution cell defines a function"
        raises = functions[0]
        # Loop in the function called by the fewest cells: each call waits CELL_TIMEOUT.
        loops = min(reversed(functions), key=lambda s: cells_calling(source_nb, s.functions))
        sabotages[name] = {"raises": raises, "loops": loops}
        made = {
            "untouched": lambda: release_nb,
            "solutions": lambda: source_nb,  # the instructor's notebook itself, markers and all
            "raises": lambda: submission(release_nb, source_nb, raises=raises.grade_id),
            "loops": lambda: submission(release_nb, source_nb, loops=loops.grade_id),
            "delegates": lambda: delegating_submission(release_nb, assignment),
            "alternative": lambda: replaced_submission(release_nb, ALTERNATIVES[assignment]),
        }
        for student in students:
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(made[student](), folder / name)
    return names, sabotages


def cell_output_text(cell) -> str:
    """The text a cell printed or raised (tracebacks included)."""
    parts = []
    for output in cell.get("outputs", []):
        parts += [output.get("text", ""), output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
        parts += [str(value) for key, value in output.get("data", {}).items() if key.startswith("text/")]
    return "\n".join(parts)


def grading_job(root: Path, plan: dict[str, tuple[str, ...]]) -> dict:
    """Autograde, in course ``root``, the submissions ``plan`` lists: ``{assignment: students}``.

    One ``nbgrader autograde`` per assignment, the solutions (when planned) in one of their own, whose
    wall time is recorded (``seconds``).
    """
    grades, sabotages, autograded_sources, outputs, seconds, widgets = {}, {}, {}, {}, {}, {}
    for assignment, students in plan.items():
        names, sabotages[assignment] = write_submissions(root, assignment, students)
        if "solutions" in students:
            start = time.perf_counter()
            run_nbgrader(root, "autograde", assignment, "--create", "--force", "--student", "solutions")
            seconds[assignment] = time.perf_counter() - start
        if set(students) - {"solutions"}:
            run_nbgrader(root, "autograde", assignment, "--create", "--force", "--CourseDirectory.student_id_exclude=solutions")
        for key, value in read_grades(root, assignment, students, names).items():
            grades[(assignment, *key)] = value
        if "untouched" in students:
            for name in names:
                autograded = nbformat.read(root / "autograded" / "untouched" / assignment / name, as_version=4)
                sources = {nbgrader_meta(c)["grade_id"]: c.source for c in graded_cells(autograded) if not is_answer(c)}
                autograded_sources[assignment, name] = sources
        if "solutions" in students:
            for name in names:
                autograded = nbformat.read(root / "autograded" / "solutions" / assignment / name, as_version=4)
                widgets[assignment, name] = [nbgrader_meta(c).get("grade_id") or c.source[:40] for c in autograded.cells
                                             if any(WIDGET in o.get("data", {}) for o in c.get("outputs", []))]
        for student in {"delegates", "loops"} & set(students):
            for name in names:
                autograded = nbformat.read(root / "autograded" / student / assignment / name, as_version=4)
                key = (assignment, name) if student == "delegates" else (assignment, name, student)
                outputs[key] = {nbgrader_meta(c)["grade_id"]: cell_output_text(c)
                                for c in graded_cells(autograded) if c.cell_type == "code"}
    return {"grades": grades, "sabotages": sabotages, "autograded_sources": autograded_sources,
            "outputs": outputs, "seconds": seconds, "widgets": widgets}  # fmt: skip


def exchange_job(base: Path, course: Path) -> dict:
    """The JupyterHub flow through a temporary exchange folder, for the PIPELINE assignment.

    Instructor: release_assignment; student: fetch_assignment, solve, submit; instructor:
    collect, autograde, generate_feedback, release_feedback; student: fetch_feedback.
    """
    from nbgrader.utils import get_username

    exchange_root = base / "exchange"
    exchange_root.mkdir()
    exchange_root.chmod(0o777)  # nbgrader wants a world-writable exchange (students write to inbound/)
    settings = f"c.Exchange.root = {str(exchange_root)!r}\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
    instructor = copy_course(course, base / "instructor")
    with (instructor / "nbgrader_config.py").open("a") as config:
        config.write(settings)
    student = base / "student"
    student.mkdir()
    (student / "nbgrader_config.py").write_text(f"c = get_config()  # noqa: F821\n{settings}")

    username = get_username()
    results = {}
    for assignment in [PIPELINE]:
        run_nbgrader(instructor, "release_assignment", assignment)
        run_nbgrader(student, "fetch_assignment", assignment)
        names = notebooks(student / assignment)
        for name in names:  # the student solves the assignment in the fetched notebook
            fetched = nbformat.read(student / assignment / name, as_version=4)
            nbformat.write(submission(fetched, source_notebook(assignment, name)), student / assignment / name)
        run_nbgrader(student, "submit", assignment)
        run_nbgrader(instructor, "collect", assignment)
        run_nbgrader(instructor, "autograde", assignment, "--create")
        run_nbgrader(instructor, "generate_feedback", assignment)
        run_nbgrader(instructor, "release_feedback", assignment)
        run_nbgrader(student, "fetch_feedback", assignment)
        feedback = sorted((student / assignment / "feedback").glob("*/*.html"))
        results[assignment] = {
            "names": names,
            "collected": notebooks(instructor / "submitted" / username / assignment),
            "feedback": {path.name: path.read_text() for path in feedback},
            "grades": read_grades(instructor, assignment, [username], names),
            "username": username,
        }
    return results


def validate_job(root: Path) -> dict:
    """``nbgrader validate`` on the solutions, ``--invert`` on the release, of the PIPELINE
    assignment (for the others, the autograde of the solutions and of the untouched release
    checks the same)."""
    results = {}
    for assignment in [PIPELINE]:
        sources = [str(REPO / "solutions" / assignment / n) for n in notebooks(REPO / "solutions" / assignment)]
        release_dir = root / "assignments" / assignment
        stubs = [str(release_dir / n) for n in notebooks(release_dir)]
        results[assignment] = {
            "solutions": (len(sources), run_nbgrader(root, "validate", *sources).stdout),
            "release": (len(stubs), run_nbgrader(root, "validate", "--invert", *stubs).stdout),
        }
    return results


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A throw-away copy of the course with every assignment generated (and in its gradebook)."""
    root = release.prepare_course(
        tmp_path_factory.mktemp("course") / "course", ASSIGNMENTS,
        extra_config=release.limits_config(CELL_TIMEOUT, CALL_TIME_LIMIT),
    )  # fmt: skip
    files = release.generate(root, ASSIGNMENTS)
    return root, files


@pytest.fixture(scope="session")
def jobs(course, tmp_path_factory):
    """The nbgrader flows, each in its own copy of the course, two at a time: the solutions of
    every assignment in one; the untouched releases (and PIPELINE's broken submissions), the
    exchange flow and validation in the other (they mostly wait on kernels and timeouts)."""
    root = course[0]
    copies = {name: copy_course(root, tmp_path_factory.mktemp(name) / "course") for name in ("solved", "stubs", "validate")}
    exchange_base = tmp_path_factory.mktemp("exchange")
    solved_plan = {a: ("solutions",) for a in ASSIGNMENTS}
    stubs_plan = {a: ("untouched", "delegates", "raises", "loops") if a == PIPELINE else ("untouched", "delegates")
                  for a in ASSIGNMENTS}  # fmt: skip
    for assignment in set(ASSIGNMENTS) & set(ALTERNATIVES):  # the other flow also runs exchange and validation
        solved_plan[assignment] += ("alternative",)

    def second_worker():
        return {
            "stubs": grading_job(copies["stubs"], stubs_plan),
            "exchange": exchange_job(exchange_base, root) if PIPELINE in ASSIGNMENTS else None,
            "validate": validate_job(copies["validate"]) if PIPELINE in ASSIGNMENTS else None,
        }

    # nbgrader's kernels get the environment a grader's has: without the suite's COURSE_PROGRESS=0, so
    # that the course's own config must keep them headless (test_autograded_notebooks_hold_no_progress_bars).
    progress = os.environ.pop("COURSE_PROGRESS", None)
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # two grading flows at once on the CPUs, as `make grade JOBS=2` does
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            solved, others = pool.submit(grading_job, copies["solved"], solved_plan), pool.submit(second_worker)
            yield {"solved": solved, "others": others}
    finally:
        if progress is not None:
            os.environ["COURSE_PROGRESS"] = progress
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads


@pytest.fixture(scope="session")
def graded(jobs):
    solved, stubs = jobs["solved"].result(), jobs["others"].result()["stubs"]
    merged = {key: {**stubs[key], **solved[key]} for key in ("grades", "sabotages", "autograded_sources", "outputs")}
    merged["seconds"] = solved["seconds"]  # the time of the solutions alone
    merged["widgets"] = solved["widgets"]
    return merged


@pytest.fixture(scope="session")
def exchange(jobs):
    return jobs["others"].result()["exchange"]


@pytest.fixture(scope="session")
def validated(jobs):
    return jobs["others"].result()["validate"]


# --------------------------------------------------------------------------- #
# The release
# --------------------------------------------------------------------------- #
@needs_pipeline
def test_course_has_assignments():
    assert PIPELINE in ASSIGNMENTS
    assert (REPO / "assignments" / release.MANIFEST_NAME).exists(), "run `make release`"


@pytest.mark.skipif(bool(os.environ.get("COURSE_ASSIGNMENTS")), reason="checks every assignment")
def test_release_manifest_matches_a_fresh_release(course):
    _, files = course
    expected = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    assert release.read_manifest() == expected, "assignments/ is out of date: run `make release`"
    manifest = (REPO / "assignments" / release.MANIFEST_NAME).read_bytes()
    assert manifest == release.manifest_bytes(expected), "the manifest is not byte-for-byte reproducible"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_equals_a_fresh_release(course, assignment):
    _, files = course
    ours = {path: data for path, data in files.items() if path.startswith(f"{assignment}/")}
    assert ours, f"nothing generated for {assignment}"
    for path, data in ours.items():
        committed = REPO / "assignments" / path
        assert committed.exists(), f"{committed} is missing: run `make release`"
        assert committed.read_bytes() == data, f"{committed} differs from a fresh release: run `make release`"
    committed_notebooks = {f"{assignment}/{n}" for n in notebooks(REPO / "assignments" / assignment)}
    assert committed_notebooks <= set(ours), "assignments/ holds notebooks that solutions/ no longer releases"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_hides_solutions_and_hidden_tests(course, assignment):
    """In the fresh release and in the committed one (when it exists)."""
    root, _ = course
    releases = [root / "assignments" / assignment / name for name in notebooks(REPO / "solutions" / assignment)]
    releases += [REPO / "assignments" / path.relative_to(root / "assignments") for path in releases]
    for path in filter(Path.exists, releases):
        name = path.name
        source = source_notebook(assignment, name)
        released = nbformat.read(path, as_version=4)
        text = path.read_text()
        for marker in MARKERS:
            assert marker not in text, f"{name}: the release contains {marker!r}"
        released_lines = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
        source_text = "\n".join(cell.source for cell in source.cells)
        for begin, end in (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            inside, outside = regions(source_text, begin, end)
            assert inside, f"{name}: no {begin} region in the source"
            # Lines that only occur inside the regions (and are not the stub) must not be released.
            secret = {line.strip() for line in inside} - {line.strip() for line in outside} - STUB_LINES - {""}
            secret = {line for line in secret if not line.startswith("#")}
            leaked = sorted(secret & released_lines)
            assert not leaked, f"{name}: the release contains lines of the {begin} regions: {leaked}"
        for cell in released.cells:
            if is_solution(cell):
                assert "raise NotImplementedError()" in cell.source, f"{name}: a solution cell has no stub"
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name}: the release has outputs"
        assert points(released) == points(source) and sum(points(source).values()) > 0
        hidden = [c for c in graded_cells(source) if "BEGIN HIDDEN TESTS" in c.source]
        assert hidden, f"{name}: no graded cell has hidden tests"


def test_release_refuses_to_overwrite_a_student_edit(tmp_path, monkeypatch, capsys):
    """tools/release.py: edited files stop the release (nothing written) unless --force."""
    committed = {path: path.read_bytes() for path in (REPO / "assignments").rglob("*") if path.is_file()}
    fresh = {"01_a/01_a.ipynb": b"version 1\n", "01_a/data.txt": b"data\n"}
    monkeypatch.setattr(release, "ASSIGNMENTS_DIR", tmp_path)
    monkeypatch.setattr(release, "assignment_ids", lambda: ["01_a"])
    monkeypatch.setattr(release, "fresh_release", lambda ids, gradebook=None: dict(fresh))
    notebook = tmp_path / "01_a" / "01_a.ipynb"

    assert release.main([]) == 0 and notebook.read_bytes() == b"version 1\n"
    assert release.main(["--check"]) == 0
    (tmp_path / "01_a" / "notes.txt").write_text("a student's own file")
    fresh["01_a/01_a.ipynb"] = b"version 2\n"
    assert release.main(["--check"]) == 1
    assert release.main([]) == 0 and notebook.read_bytes() == b"version 2\n", "an unedited file is updated"

    notebook.write_bytes(b"version 2, with the student's answers\n")
    fresh["01_a/01_a.ipynb"] = b"version 3\n"
    del fresh["01_a/data.txt"]
    capsys.readouterr()
    assert release.main([]) == 1
    message = capsys.readouterr().err
    assert "01_a/01_a.ipynb" in message and "make release FORCE=1" in message
    assert notebook.read_bytes() == b"version 2, with the student's answers\n", "the student's work is lost"
    assert (tmp_path / "01_a" / "data.txt").exists(), "a refused release must write nothing"
    assert release.main(["--check"]) == 1

    assert release.main(["--force"]) == 0
    assert notebook.read_bytes() == b"version 3\n" and not (tmp_path / "01_a" / "data.txt").exists()
    assert (tmp_path / "01_a" / "notes.txt").exists(), "files a release never wrote stay"
    assert release.main(["--check"]) == 0
    assert committed == {p: p.read_bytes() for p in (REPO / "assignments").rglob("*") if p.is_file()}, "repo touched"


# --------------------------------------------------------------------------- #
# Grading
# --------------------------------------------------------------------------- #
def _grades(graded, assignment, student) -> dict[str, dict[str, tuple[float, float]]]:
    grades = graded["grades"]
    return {name: cells for (a, s, name), cells in grades.items() if a == assignment and s == student}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_untouched_release_scores_zero_and_solutions_full_marks(graded, assignment):
    for name, cells in _grades(graded, assignment, "untouched").items():
        expected = points(source_notebook(assignment, name))
        assert set(cells) == set(expected), f"{name}: the gradebook lacks graded cells"
        assert {g: score for g, (score, _) in cells.items()} == dict.fromkeys(expected, 0.0), name
        assert {g: maximum for g, (_, maximum) in cells.items()} == expected, name
    for name, cells in _grades(graded, assignment, "solutions").items():
        expected = solved_scores(source_notebook(assignment, name))
        assert {g: score for g, (score, _) in cells.items()} == expected, f"{name}: the solutions lose points"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograded_notebooks_hold_no_progress_bars(graded, assignment):
    """Run by nbgrader, the notebooks are headless (nbgrader_config.py): no widget outputs, such as
    progress bars, that the feedback would show stuck at 0 %."""
    for (a, name), cells in graded["widgets"].items():
        if a == assignment:
            assert not cells, f"{name}: widget outputs in the autograded notebook, cells {cells}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_delegating_submission_covers_every_solution_cell(assignment):
    """The delegating submission replaces every solution cell (a new one needs its delegation)."""
    for name in notebooks(REPO / "solutions" / assignment):
        ids = {nbgrader_meta(c)["grade_id"] for c in source_notebook(assignment, name).cells if is_solution(c)}
        assert ids == set(DELEGATING.get(assignment, {})), f"{assignment}: write DELEGATING[{assignment!r}] for {sorted(ids)}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_delegating_submission_scores_zero(graded, assignment):
    """Every graded function only calls the course's own implementation: every test fails, and
    says why (the reference guard), so the points measure the student's own work."""
    grades = _grades(graded, assignment, "delegates")
    assert grades, "no delegating submission was graded"
    for name, cells in grades.items():
        expected = points(source_notebook(assignment, name))
        assert {g: score for g, (score, _) in cells.items()} == dict.fromkeys(expected, 0.0), f"{name}: delegation scores"
        for grade_id, text in graded["outputs"][assignment, name].items():
            assert GUARD_MESSAGE in text, f"{name}: {grade_id} failed without the guard's message:\n{text[-2000:]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_alternative_solution_keeps_full_marks(graded, assignment):
    """Fairness: a correct implementation that differs from the solutions (tests/alternatives/) gets
    every test cell's points; its written answers are left blank (0)."""
    if assignment not in ALTERNATIVES:
        pytest.skip(f"no tests/alternatives/{assignment}.py")
    grades = _grades(graded, assignment, "alternative")
    assert grades, "no alternative submission was graded"
    for name, cells in grades.items():
        source = source_notebook(assignment, name)
        expected = {g: 0.0 if g in answer_ids(source) else value for g, value in points(source).items()}
        assert {g: score for g, (score, _) in cells.items()} == expected, f"{name}: the alternative solution loses points"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_alternative_covers_every_solution_cell(assignment):
    if assignment not in ALTERNATIVES:
        pytest.skip(f"no tests/alternatives/{assignment}.py")
    for name in notebooks(REPO / "solutions" / assignment):
        ids = {nbgrader_meta(c)["grade_id"] for c in source_notebook(assignment, name).cells if is_solution(c)}
        assert ids == set(ALTERNATIVES[assignment]), f"{assignment}: tests/alternatives/{assignment}.py needs {sorted(ids)}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_runs_the_hidden_tests(graded, assignment):
    """autograde restores the instructor's test cells, hidden tests included, before running them
    (the written answers stay the student's)."""
    for name in notebooks(REPO / "solutions" / assignment):
        cells = [cell for cell in graded_cells(source_notebook(assignment, name)) if not is_answer(cell)]
        source = {nbgrader_meta(c)["grade_id"]: c.source for c in cells}
        assert graded["autograded_sources"][assignment, name] == source


@needs_pipeline
@pytest.mark.parametrize("student", ["raises", "loops"])
def test_autograde_broken_cell_loses_only_its_tests(graded, student):
    """A cell that raises, or whose function loops forever (stopped by the call time limit in the
    test cells, interrupted after the cell timeout elsewhere), costs the tests that call its
    functions; the other tests keep their points."""
    sabotages = graded["sabotages"][PIPELINE]
    grades = _grades(graded, PIPELINE, student)
    assert grades, f"no {student} submission was graded"
    for name, cells in grades.items():
        expected = solved_scores(source_notebook(PIPELINE, name))
        broken = sabotages[name][student]
        assert broken.dependents, f"{name}: no graded cell calls {broken.functions}"
        expected.update(dict.fromkeys(broken.dependents, 0.0))
        scores = {g: score for g, (score, _) in cells.items()}
        assert scores == expected, f"{name}: {student} in {broken.grade_id}"
        assert sum(value or 0 for value in expected.values()) > 0
        if student == "loops":  # the test cells stopped the looping function themselves, and said so
            texts = graded["outputs"][PIPELINE, name, student]
            stopped = [g for g in broken.dependents if CALL_TIME_LIMIT_MESSAGE in texts.get(g, "")]
            assert stopped, f"{name}: no test cell of {broken.dependents} stopped the loop after {CALL_TIME_LIMIT} s"


@needs_pipeline
def test_exchange_round_trip(exchange):
    result = exchange[PIPELINE]
    assert result["names"] == notebooks(REPO / "assignments" / PIPELINE), "fetch_assignment"
    assert result["collected"] == result["names"], "submit + collect"
    for name in result["names"]:
        expected = solved_scores(source_notebook(PIPELINE, name))
        cells = result["grades"][result["username"], name]
        assert {g: score for g, (score, _) in cells.items()} == expected, f"{name}: autograde after collect"
        feedback = result["feedback"][Path(name).with_suffix(".html").name]  # release + fetch_feedback
        scored = round(float(sum(value or 0 for value in expected.values())), 2)
        total = round(float(sum(points(source_notebook(PIPELINE, name)).values())), 2)
        assert f"(Score: {scored} / {total})" in feedback, "the feedback shows the autograded score"


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
@needs_pipeline
def test_validate_solutions_pass_and_stubs_fail_every_test(validated):
    count, output = validated[PIPELINE]["solutions"]
    assert output.count("Success! Your notebook passes all the tests.") == count, output
    count, output = validated[PIPELINE]["release"]
    assert output.count("Success! The notebook does not pass any tests.") == count, output


def test_report_autograde_time_per_assignment(graded, capsys):
    """Not a speed test: prints the seconds each assignment's solutions took to autograde (the
    budget is 20 s per assignment in FAST mode on 2 cores), shown at the end of the run."""
    seconds = graded["seconds"]
    assert set(ASSIGNMENTS) <= set(seconds)
    with capsys.disabled():
        print("\nautograde wall time of each assignment's solutions:")
        for assignment in ASSIGNMENTS:
            print(f"  {assignment:<32}{seconds[assignment]:6.1f} s")
