"""Write the students' copy of the course: what students clone, without the answers.

    python tools/student_repo.py DEST        (make student-repo DEST=<dir>)

``DEST`` (a folder outside this repository, new or empty) receives:

* ``notebooks/`` (the lecture notebooks), ``course_utils/`` (the reference package: the lecture
  notebooks need it; the assignments' tests switch off the parts an assignment asks for), and
  ``assignments/`` (the student releases that ``make release`` wrote, without its manifest);
* ``README.md``: the students' part of the course README (no instructors' section, no sentence
  about the solutions, the instructors' tools or the tests);
* ``pyproject.toml``, ``environment.yml``, a ``Makefile`` with the targets students use
  (``venv``, ``lab``, ``validate``), an ``nbgrader_config.py`` for ``nbgrader validate``, and a
  ``.gitignore``;
* a fresh git history: ``git init`` and one commit, with no remote and no object of this
  repository, so nothing in the copy's history can bring the solutions back.

Never copied: ``solutions/`` (solutions and hidden tests), ``tests/``, ``benchmarks/``, ``tools/``,
the gradebook and nbgrader's grading folders, build outputs, and anything git ignores.
Publish the copy by pushing it to a new, empty repository (``git remote add origin <url> && git
push -u origin main``); set ``students_repository`` under ``[tool.course]`` in ``pyproject.toml``
to its URL so that the course's launch links open it.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# What students get, relative to the repository root (folders are copied with what git tracks in them).
INCLUDE = ["notebooks", "course_utils", "assignments", "pyproject.toml", "environment.yml"]
EXCLUDE_FILES = {"assignments/.release-manifest.json"}
# README sections kept for students (the others are for instructors or describe their files).
README_SECTIONS = ("The fourteen topics", "Offline by design", "Modes", "Students")
# A README sentence or list item naming one of these is instructors' text: left out of the copy.
INSTRUCTOR_WORDS = ("solutions/", "tools/", "make release", "make run", "make test", "make bench", "gradebook",
                    "benchmarks/", "tests/")  # fmt: skip
COMMIT_MESSAGE = "The course: lecture notebooks, course_utils and the assignments"

STUDENT_MAKEFILE = """\
# The course's commands for students. `make venv` once, then `make lab`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_ARGS ?=

.PHONY: venv lab validate

# Create .venv and install the course (with JupyterLab and nbgrader) when missing or when pyproject changed.
$(STAMP): pyproject.toml
\t@test -x $(PY) || $(PYTHON) -m venv $(VENV)
\t@echo "Installing the course into $(VENV) (first time: a few minutes)..."
\t@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | {{ grep -v "is ignored" || true; }}; test $${{PIPESTATUS[0]}} -eq 0
\t@$(PY) -c "import course_utils, torch, torchvision, nbgrader" && touch $(STAMP)

## venv: install the course into .venv (once)
venv: $(STAMP)

## lab: JupyterLab on the course (open a notebook in notebooks/ or assignments/)
lab: $(STAMP)
\t$(PY) -m jupyterlab $(LAB_ARGS)

## validate: run the tests of an assignment you worked on, e.g. make validate ASSIGNMENT={example}
validate: $(STAMP)
\t@test -n "$(ASSIGNMENT)" || {{ echo "usage: make validate ASSIGNMENT=<ID> (a folder of assignments/)"; exit 2; }}
\t$(PY) -m nbgrader validate assignments/$(ASSIGNMENT)/$(ASSIGNMENT).ipynb
"""

STUDENT_NBGRADER_CONFIG = '''\
# nbgrader settings for `nbgrader validate` (and the notebook toolbar's Validate button) in this folder.
c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = {course_id!r}
c.Execute.kernel_name = "python3"
c.Execute.timeout = 120  # seconds per cell, as when the notebook is graded
c.Execute.interrupt_on_timeout = True
c.Execute.shutdown_kernel = "immediate"  # the outputs are in: do not wait for the kernel to exit

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

# When nbgrader runs the notebook on its own: no progress bars, and each call of your function in a
# test cell stops after 30 s (as when the notebook is graded), so that a loop that never ends fails
# its tests with a message saying so.
if not any(name in _sys.modules for name in ("jupyter_server.serverapp", "notebook.notebookapp")):
    _os.environ.setdefault("COURSE_PROGRESS", "0")
    _os.environ.setdefault("COURSE_CALL_TIME_LIMIT", "30")
'''

STUDENT_GITIGNORE = """\
.venv/
__pycache__/
*.pyc
*.egg-info/
build/
.ipynb_checkpoints/
feedback/
"""

README_HEADER = """\
{title}

{intro}

```bash
make venv    # once: installs the course and JupyterLab into .venv/
make lab     # JupyterLab on the course: lecture notebooks in notebooks/, assignments in assignments/
make validate ASSIGNMENT={example}   # the visible tests of an assignment you worked on
```

or, with conda: `conda env create -f environment.yml && conda activate convnet-viz`, then
`pip install -e .[dev]` if the environment file does not already do it, and `jupyter lab`.
"""


class ExportError(Exception):
    """The copy cannot be written; the message says why."""


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    """The files git tracks (what a clone holds), relative to ``root``, with ``/`` separators."""
    result = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    return [path for path in result.stdout.split("\0") if path]


def selected_files(root: Path = REPO_ROOT) -> list[str]:
    """The tracked files that go into the students' copy."""
    keep = []
    for path in tracked_files(root):
        if path in EXCLUDE_FILES or not (root / path).is_file():
            continue
        if any(path == item or path.startswith(item + "/") for item in INCLUDE):
            keep.append(path)
    return sorted(keep)


# --------------------------------------------------------------------------- #
# README
# --------------------------------------------------------------------------- #
def _sections(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first ``## `` heading, and ``{heading: body}`` of each ``## `` section."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return parts[0], {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _drop_instructor_text(body: str) -> str:
    """``body`` without its sentences and list items that name instructors' files or commands."""
    blocks, out = re.split(r"\n\s*\n", body.strip("\n")), []
    in_code = False
    for block in blocks:
        if block.lstrip().startswith("```") or in_code:
            in_code = block.count("```") % 2 == 1 if not in_code else block.count("```") % 2 == 0
            if not any(word in block for word in INSTRUCTOR_WORDS):
                out.append(block)
            continue
        lines = block.split("\n")
        if lines[0].lstrip().startswith(("* ", "- ", "|")):  # a list or a table: item by item
            items, current = [], []
            for line in lines:
                if line.lstrip().startswith(("* ", "- ", "|")) and len(line) - len(line.lstrip()) <= 2 and current:
                    items.append(current)
                    current = []
                current.append(line)
            items.append(current)
            kept = ["\n".join(item) for item in items if not any(word in "\n".join(item) for word in INSTRUCTOR_WORDS)]
            if kept:
                out.append("\n".join(kept))
            continue
        sentences = re.split(r"(?<=[.:!?])\s+(?=[A-Z*`(])", " ".join(line.strip() for line in lines))
        kept = [s for s in sentences if not any(word in s for word in INSTRUCTOR_WORDS)]
        if kept:
            out.append(" ".join(kept))
    return "\n\n".join(out)


def student_readme(readme: str, example: str) -> str:
    """The students' README: a header, then the course README's student sections without
    instructors' text."""
    head, sections = _sections(readme)
    title = next((line for line in head.splitlines() if line.startswith("# ")), "# The course")
    intro = re.split(r"\n\s*\n", head.split(title, 1)[1].strip())[0]
    text = README_HEADER.format(title=title, intro=intro, example=example)
    for name in README_SECTIONS:
        if name in sections:
            text += f"\n## {name}\n\n{_drop_instructor_text(sections[name])}\n"
    return text


# --------------------------------------------------------------------------- #
# Writing the copy
# --------------------------------------------------------------------------- #
def _course_id(root: Path) -> str:
    match = re.search(r"course_id\s*=\s*[\"']([^\"']+)", (root / "nbgrader_config.py").read_text())
    return match.group(1) if match else "course"


def _git(dest: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # The copy's one commit does not depend on who runs the export, nor on their git config.
    env.update(GIT_AUTHOR_NAME="Course staff", GIT_AUTHOR_EMAIL="course@example.invalid",
               GIT_COMMITTER_NAME="Course staff", GIT_COMMITTER_EMAIL="course@example.invalid",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)  # fmt: skip
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"):
        env.pop(key, None)
    return subprocess.run(["git", *args], cwd=dest, env=env, capture_output=True, text=True, check=True)


def export(dest: Path, root: Path = REPO_ROOT) -> list[str]:
    """Write the students' copy of the course in ``root`` to ``dest``; returns the files written."""
    dest = dest.resolve()
    if dest == root or root in dest.parents:
        raise ExportError(f"{dest} is inside the course repository: choose a folder outside {root}")
    if root == dest or dest in root.parents:
        raise ExportError(f"{dest} contains the course repository: choose a new, empty folder")
    if dest.exists() and any(dest.iterdir()):
        raise ExportError(f"{dest} is not empty: choose a new or empty folder")
    assignments = sorted(p.name for p in (root / "assignments").iterdir() if p.is_dir())
    example = assignments[0] if assignments else "01_convnet_recap"
    files = selected_files(root)
    if not any(path.startswith("assignments/") for path in files):
        raise ExportError("assignments/ holds no release: run `make release` first")
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target)
    generated = {
        "README.md": student_readme((root / "README.md").read_text(), example),
        "Makefile": STUDENT_MAKEFILE.format(example=example),
        "nbgrader_config.py": STUDENT_NBGRADER_CONFIG.format(course_id=_course_id(root)),
        ".gitignore": STUDENT_GITIGNORE,
    }
    for path, text in generated.items():
        (dest / path).write_text(text)
    written = sorted(files + list(generated))
    _git(dest, "init", "--quiet", "--initial-branch=main")
    _git(dest, "add", "--", *written)
    _git(dest, "commit", "--quiet", "--no-verify", "-m", COMMIT_MESSAGE)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="a new or empty folder outside this repository")
    args = parser.parse_args(argv)
    try:
        written = export(args.dest)
    except ExportError as error:
        print(f"student-repo: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"student-repo: `{' '.join(error.cmd)}` failed:\n{error.stderr}", file=sys.stderr)
        return 1
    print(f"student-repo: wrote {len(written)} files and one commit to {args.dest}")
    print("Publish it in a new, empty repository: git -C DEST remote add origin <url> && git -C DEST push -u origin main")
    return 0


if __name__ == "__main__":
    sys.exit(main())
