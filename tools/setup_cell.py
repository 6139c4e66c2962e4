#!/usr/bin/env python
"""The set-up cell that opens every lecture notebook and every assignment.

Where ``course_utils`` cannot be imported (Colab, a fresh Binder or JupyterHub kernel), the cell installs
the course from the repository and branch configured in ``pyproject.toml``, keeping the torch and
torchvision that are already there (Colab's come with CUDA); everywhere else it does nothing, at once.

Usage::

    .venv/bin/python tools/setup_cell.py          # check: exit 1 if a notebook's set-up cell is stale
    .venv/bin/python tools/setup_cell.py --apply  # write it into notebooks/ and solutions/ (then make release)

In the solutions the cell is a locked nbgrader cell (read-only, not graded), so the release carries it
and nbgrader's checksums cover it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_links import REPO_ROOT, CourseConfig, load_config  # noqa: E402

CELL_ID = "course-setup"
MARKER = "# Set-up: install the course where it is missing"


def setup_source(config: CourseConfig | None = None) -> str:
    """The cell's code, built from the configured repository and branch."""
    config = config or load_config()
    requirement = f"course-utils @ git+{config.public_repository}@{config.branch}"
    return f'''{MARKER} (Colab, a fresh kernel), keeping the torch that is there.
# In the course's own environment it does nothing.
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_utils") is None:
    from importlib.metadata import version
    keep = [f"{{name}}=={{version(name)}}" for name in ("torch", "torchvision") if importlib.util.find_spec(name)]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{requirement}", *keep], check=True)'''


def setup_cell(source: str, graded_source: bool) -> nbformat.NotebookNode:
    """A code cell holding ``source``; locked for nbgrader in an assignment's source notebook."""
    cell = nbformat.v4.new_code_cell(source)
    cell.id = CELL_ID
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False
    if graded_source:
        cell.metadata["nbgrader"] = {
            "grade": False, "solution": False, "locked": True, "task": False,
            "grade_id": CELL_ID, "schema_version": 3,
        }  # fmt: skip
    return cell


def first_code_cell(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)


def has_current_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    index = first_code_cell(nb)
    return index is not None and nb.cells[index].source == source


def apply(path: Path, source: str, graded_source: bool) -> bool:
    """Put the current set-up cell first among the code cells of ``path``; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    if has_current_cell(nb, source):
        return False
    index = first_code_cell(nb)
    if index is not None and nb.cells[index].source.startswith(MARKER):
        nb.cells[index] = setup_cell(source, graded_source)  # an older version of the cell
    else:
        nb.cells.insert(index if index is not None else len(nb.cells), setup_cell(source, graded_source))
    nbformat.write(nb, path)
    return True


def notebooks(root: Path = REPO_ROOT) -> list[tuple[Path, bool]]:
    """The lecture notebooks and the assignments' source notebooks, with whether each is an nbgrader source."""
    lectures = [(p, False) for p in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    return lectures + [(p, True) for p in sorted((root / "solutions").glob("*/*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="write the cell (else only check)")
    args = parser.parse_args(argv)
    source = setup_source()
    stale = []
    for path, graded in notebooks():
        if args.apply:
            if apply(path, source, graded):
                print(f"set-up cell written: {path.relative_to(REPO_ROOT)}")
        elif not has_current_cell(nbformat.read(path, as_version=4), source):
            stale.append(path.relative_to(REPO_ROOT))
    for path in stale:
        print(f"stale or missing set-up cell: {path} (run tools/setup_cell.py --apply, then make release)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
