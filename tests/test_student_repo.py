"""The students' copy of the course (``make student-repo DEST=<dir>``, tools/student_repo.py).

One export, in a temporary folder, checked for:

* what students need: the lecture notebooks, ``course_utils``, every assignment's release, the
  README's student part, the environment files, a Makefile and an nbgrader config;
* what they must not get: no ``solutions/``, tests, tools, benchmarks or gradebook, no line of a
  solution (outside ``course_utils``, the reference package students get by design) and no line
  of a hidden test anywhere, no nbgrader marker;
* its own history: one commit, no remote, no object of the instructor's repository (no commit,
  no blob of ``solutions/``), so nothing in the copy can bring the solutions back;
* that it works: ``make venv``, ``make lab`` (the server starts and answers) and ``nbgrader
  validate`` (a solved notebook passes, the untouched release fails every test) run in the copy.

``make venv`` runs for real in the copy, kept fast and offline: the copy's ``.venv`` is a new
virtual environment that sees the course's installed packages through a ``.pth`` file naming
the instructor's ``.venv`` site-packages, and pip runs with ``PIP_NO_INDEX=1`` and without build
isolation (pip and setuptools come from the course's packages too: the venv is made ``--without-pip``), so the only thing it installs is the copy's own ``course_utils`` (editable).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from course_tools import load_tool

REPO = Path(__file__).resolve().parent.parent
student_repo = load_tool("student_repo")

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME",
           "END MARK SCHEME")  # fmt: skip
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"}
EXAMPLE = "01_convnet_recap"
MIN_LINE = 20  # characters of a solution or hidden-test line that the export must not hold
LEFT_OUT = ("solutions", "tests", "tools", "benchmarks", "build", "gradebook.db", "submitted", "autograded",
            "feedback", "assignments/.release-manifest.json")  # fmt: skip


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("students") / "convnet-viz"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "student_repo.py"), str(dest)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dest


def _text_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue  # model weights and other binary files


def _region_lines(source: str, begin: str, end: str) -> tuple[set[str], set[str]]:
    inside, outside, depth = set(), set(), 0
    for line in source.splitlines():
        if begin in line:
            depth += 1
        elif end in line:
            depth -= 1
        else:
            (inside if depth else outside).add(line.strip())
    return inside, outside


def _secret_lines(begin: str, end: str) -> dict[str, set[str]]:
    """Per solution notebook, the lines found only inside its ``begin``/``end`` regions."""
    secrets = {}
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        inside, outside = _region_lines("\n".join(cell.source for cell in nb.cells), begin, end)
        # Lines long enough to be the notebook's own (``continue`` or ``return rows`` are anybody's).
        lines = {line for line in inside - outside - STUB_LINES if len(line) >= MIN_LINE and not line.startswith("#")}
        secrets[path.name] = lines
    return secrets


# --------------------------------------------------------------------------- #
# Contents
# --------------------------------------------------------------------------- #
def test_copy_holds_what_students_need(copy):
    for name in ("README.md", "Makefile", "pyproject.toml", "environment.yml", "nbgrader_config.py", ".gitignore"):
        assert (copy / name).is_file(), f"{name} is missing from the students' copy"
    lectures = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert lectures and sorted(p.name for p in (copy / "notebooks").glob("*.ipynb")) == lectures
    releases = sorted(p.relative_to(REPO / "assignments") for p in (REPO / "assignments").glob("*/*.ipynb"))
    assert releases and sorted(p.relative_to(copy / "assignments") for p in (copy / "assignments").glob("*/*.ipynb")) == releases
    for path in releases:
        assert (copy / "assignments" / path).read_bytes() == (REPO / "assignments" / path).read_bytes(), path
    assert (copy / "course_utils" / "grading.py").is_file(), "the assignments' tests need course_utils.grading"
    assert (copy / "course_utils" / "models" / "weights" / "shapenet.pt").is_file(), "the offline model's weights"
    readme = (copy / "README.md").read_text()
    assert "## Students" in readme and "make venv" in readme and "make lab" in readme


def test_copy_leaves_out_instructors_files(copy):
    for name in LEFT_OUT:
        assert not (copy / name).exists(), f"the students' copy holds {name}"
    readme = (copy / "README.md").read_text()
    assert "## Instructors" not in readme and "## Layout" not in readme
    for word in student_repo.INSTRUCTOR_WORDS:
        assert word not in readme, f"the students' README mentions {word!r}"
    makefile = (copy / "Makefile").read_text()
    assert "release" not in makefile and "tools/" not in makefile and "solutions" not in makefile


def test_copy_holds_no_solution_line_and_no_hidden_test(copy):
    files = list(_text_files(copy))
    assert files
    for path, text in files:
        for marker in MARKERS:
            assert marker not in text, f"{path.relative_to(copy)} holds the nbgrader marker {marker!r}"
    lines_of = {path: {line.strip() for line in text.splitlines()} for path, text in files}
    for begin, end, outside_package_only in (("BEGIN SOLUTION", "END SOLUTION", True),
                                             ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", False)):  # fmt: skip
        secrets = _secret_lines(begin, end)
        assert any(secrets.values()), f"no {begin} region found in solutions/"
        for notebook, secret in secrets.items():
            for path, lines in lines_of.items():
                relative = path.relative_to(copy)
                candidates = secret
                if relative.parts[0] == "course_utils":
                    if outside_package_only:
                        continue  # the reference package implements the same techniques, by design
                    # Code lines such as ``with torch.no_grad():`` are everybody's: a hidden test is its asserts.
                    candidates = {line for line in secret if line.startswith("assert")}
                leaked = sorted(candidates & lines)
                assert not leaked, f"{relative} holds lines of the {begin} regions of {notebook}: {leaked[:5]}"


def test_copy_has_its_own_history(copy):
    assert _git(copy, "rev-list", "--count", "HEAD").stdout.strip() == "1", "one commit"
    assert _git(copy, "remote").stdout.strip() == "", "no remote"
    assert not (copy / ".git" / "objects" / "info" / "alternates").exists(), "no borrowed objects"
    assert _git(copy, "status", "--porcelain").stdout == "", "everything written is committed"
    instructors = _git(REPO, "rev-list", "--max-count=50", "HEAD").stdout.split()
    blobs = [line.split()[1] for line in _git(REPO, "ls-files", "-s", "--", "solutions").stdout.splitlines()]
    assert instructors and blobs
    for sha in instructors + blobs:
        assert _git(copy, "cat-file", "-e", sha, check=False).returncode != 0, f"the copy holds {sha} of the course"
    tracked = set(_git(copy, "ls-files").stdout.split())
    assert not any(path.startswith(("solutions/", "tests/", "tools/")) for path in tracked)


def test_export_refuses_a_folder_inside_the_repository_or_not_empty(tmp_path):
    with pytest.raises(student_repo.ExportError, match="inside the course repository"):
        student_repo.export(REPO / "build" / "students-copy")
    (tmp_path / "notes.txt").write_text("something")
    with pytest.raises(student_repo.ExportError, match="not empty"):
        student_repo.export(tmp_path)


# --------------------------------------------------------------------------- #
# It works: make venv, make lab, nbgrader validate
# --------------------------------------------------------------------------- #
def _environment(copy: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               JUPYTER_NO_CONFIG="1", JUPYTER_CONFIG_DIR=str(copy / ".jupyter"),
               JUPYTER_DATA_DIR=str(copy / ".jupyter" / "data"), JUPYTER_RUNTIME_DIR=str(copy / ".jupyter" / "runtime"),
               TMPDIR=str(copy / ".tmp"), COURSE_OFFLINE="1", COURSE_FAST="1", COURSE_PROGRESS="0")  # fmt: skip
    (copy / ".tmp").mkdir(exist_ok=True)
    return env


@pytest.fixture(scope="module")
def installed(copy) -> Path:
    """``make venv`` in the copy, offline, on a new venv that sees the course's packages."""
    venv = copy / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    (site / "zz_course_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(["make", "venv"], cwd=copy, env=_environment(copy), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"make venv failed in the students' copy:\n{result.stdout}{result.stderr}"
    assert (venv / ".installed").exists()
    return venv


def test_make_venv_installs_the_copys_own_course_utils(copy, installed):
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import course_utils; print(course_utils.__file__)"],
                           cwd=copy.parent, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert Path(where).resolve().is_relative_to(copy.resolve()), f"course_utils comes from {where}"
    again = subprocess.run(["make", "venv"], cwd=copy, env=_environment(copy), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "Installing" not in again.stdout, "a second make venv does nothing"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_lab_starts_jupyterlab(copy, installed):
    dry = subprocess.run(["make", "-n", "lab"], cwd=copy, env=_environment(copy), capture_output=True, text=True)
    assert dry.returncode == 0 and "-m jupyterlab" in dry.stdout, dry.stdout + dry.stderr
    port = _free_port()
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token=course-test"
    args += " --allow-root" if os.geteuid() == 0 else ""  # (a container's root)
    log_file = copy / ".tmp" / "lab.log"
    with log_file.open("w") as out:
        server = subprocess.Popen(["make", "lab", f"LAB_ARGS={args}"], cwd=copy, env=_environment(copy),
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline, log = time.monotonic() + 120, ""
        while time.monotonic() < deadline and server.poll() is None:
            log = log_file.read_text()
            if f":{port}/" in log and "running at" in log.lower():
                break
            time.sleep(0.5)
        assert server.poll() is None, f"make lab exited:\n{log}"
        assert f":{port}/" in log, f"JupyterLab did not start within 120 s:\n{log}"
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=course-test", timeout=30) as response:
            assert response.status == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # the process group this test started (make and its server)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def test_nbgrader_validate_works_in_the_copy(copy, installed):
    """The untouched release fails every test; the notebook solved passes them all (run with the
    copy's course_utils, the reference guard included)."""
    env = _environment(copy)
    notebook = copy / "assignments" / EXAMPLE / f"{EXAMPLE}.ipynb"
    untouched = subprocess.run([str(installed / "bin" / "python"), "-m", "nbgrader", "validate", "--invert", str(notebook)],
                               cwd=copy, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert "Success! The notebook does not pass any tests." in untouched.stdout, untouched.stdout + untouched.stderr
    solved = nbformat.read(REPO / "solutions" / EXAMPLE / f"{EXAMPLE}.ipynb", as_version=4)
    for cell in solved.cells:  # the notebook as a student who solved it hands it in
        cell.source = "\n".join(line for line in cell.source.splitlines() if not any(m in line for m in MARKERS))
    nbformat.write(solved, notebook)
    passed = subprocess.run(["make", "validate", f"ASSIGNMENT={EXAMPLE}"], cwd=copy, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert "Success! Your notebook passes all the tests." in passed.stdout, passed.stdout + passed.stderr
