#!/usr/bin/env python
"""Execute the lecture notebooks in order, then build the course book from the executed copies.

Usage (normally through ``make run``)::

    .venv/bin/python tools/build_site.py [--notebooks DIR] [--out DIR]
                                         [--only PATTERN] [--timeout S] [--no-book]

Each lecture notebook ``notebooks/NN_topic.ipynb`` (sorted by name) is executed with nbclient (kernel
``python3``, working directory = the notebooks folder); the source notebook is never written to, the
executed copy goes to ``<out>/executed/NN_topic.ipynb``. Then ``tools/build_book.py`` renders every
executed copy, without running it again, into the book ``<out>/site/index.html`` (Sphinx, MyST-NB,
sphinx-book-theme). With ``--only`` (one notebook, while writing it) the book is skipped unless all
fourteen executed copies are there.

If a cell fails or times out, the run stops with exit status 1 after writing
the partially executed notebook to ``<out>/executed/`` and printing the
notebook's name, the failing cell's index and the error to stderr.

The environment (e.g. ``COURSE_FAST``, ``COURSE_OFFLINE``) is passed through
to the kernels, with two defaults for a saved copy: ``COURSE_PROGRESS=0`` (a progress bar saved in a
notebook stays frozen at its first frame) and ``COURSE_WIDGETS=static`` (an explorer also leaves a
picture of its initial view, since a saved page has no live kernel behind its widgets).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_book import build_book  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
DEFAULT_TIMEOUT = 1200

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# --------------------------------------------------------------------------- #
# Finding notebooks
# --------------------------------------------------------------------------- #
def find_notebooks(notebooks_dir: Path, only: str | None = None) -> list[Path]:
    """Return the lecture notebooks ``NN_*.ipynb`` in ``notebooks_dir``, sorted by name.

    With ``only``, keep those whose file name contains that substring.
    """
    paths = sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB), key=lambda p: p.name)
    paths = [p for p in paths if p.is_file()]
    if only:
        paths = [p for p in paths if only in p.name]
    return paths

# --------------------------------------------------------------------------- #
# Execution
# --------------------------------------------------------------------------- #
class NotebookFailure(Exception):
    """A notebook failed to execute: carries the failing cell's index and the error."""

    def __init__(self, cell_index: int | None, ename: str, evalue: str, traceback: str):
        super().__init__(f"{ename}: {evalue}")
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback

class _TrackingClient(NotebookClient):
    """NotebookClient that remembers the index of the cell being executed."""

    current_index: int | None = None

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        self.current_index = cell_index
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

def execute_notebook(
    source: Path,
    executed_path: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: Path | None = None,
    kernel_name: str = KERNEL_NAME,
) -> nbformat.NotebookNode:
    """Execute ``source`` in memory and write the result to ``executed_path``.

    The source file is only read. The (possibly partial) executed notebook is
    always written to ``executed_path``; on a cell error, a timeout or a dead
    kernel, :class:`NotebookFailure` is raised afterwards.
    """
    source = Path(source)
    nb = nbformat.read(source, as_version=4)
    workdir = Path(cwd) if cwd is not None else source.parent
    client = _TrackingClient(
        nb,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up warnings in the progress
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
    )
    failure: NotebookFailure | None = None
    try:
        client.execute()
    except CellExecutionError as err:
        failure = NotebookFailure(client.current_index, err.ename, err.evalue, err.traceback)
    except CellTimeoutError as err:
        failure = NotebookFailure(
            client.current_index, "CellTimeoutError", f"cell timed out after {timeout} s", str(err)
        )
    except DeadKernelError as err:
        failure = NotebookFailure(client.current_index, "DeadKernelError", str(err), "")
    finally:
        executed_path = Path(executed_path)
        executed_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_path)
    if failure is not None:
        raise failure
    return nb

# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command-line options."""
    parser = argparse.ArgumentParser(
        description="Execute the lecture notebooks in order and build the HTML site."
    )
    parser.add_argument(
        "--notebooks", type=Path, default=REPO_ROOT / "notebooks",
        help="folder with the NN_*.ipynb lecture notebooks (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "build",
        help="output folder; executed/ and site/ go inside (default: %(default)s)",
    )
    parser.add_argument(
        "--only", metavar="PATTERN", default=None,
        help="only run the notebooks whose file name contains PATTERN (e.g. 01)",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT,
        help="per-cell timeout in seconds (default: %(default)s)",
    )
    parser.add_argument("--no-book", action="store_true", help="execute only; do not build the book")
    return parser.parse_args(argv)

def _report_failure(name: str, failure: NotebookFailure, executed_path: Path) -> None:
    """Print a notebook failure to stderr."""
    tb = failure.traceback or ""
    if not sys.stderr.isatty():
        tb = _ANSI_RE.sub("", tb)
    where = f"cell {failure.cell_index}" if failure.cell_index is not None else "an unknown cell"
    lines = [
        "",
        f"ERROR: notebook {name} failed at {where} (0-based index among all cells)",
        f"{failure.ename}: {failure.evalue}",
    ]
    if tb.strip():
        lines += ["", tb.rstrip()]
    lines += ["", f"The partially executed notebook was written to {executed_path}"]
    print("\n".join(lines), file=sys.stderr, flush=True)

def main(argv: list[str] | None = None) -> int:
    """Run the build; return the process exit status (0 ok, 1 failure, 2 no notebooks)."""
    args = parse_args(argv)
    os.environ.setdefault("COURSE_PROGRESS", "0")
    os.environ.setdefault("COURSE_WIDGETS", "static")
    notebooks_dir = args.notebooks.resolve()
    out_dir = args.out.resolve()
    executed_dir = out_dir / "executed"
    site_dir = out_dir / "site"

    all_notebooks = find_notebooks(notebooks_dir)
    selected = find_notebooks(notebooks_dir, args.only)
    if not selected:
        what = f" matching {args.only!r}" if args.only else ""
        print(f"No lecture notebooks{what} found in {notebooks_dir}", file=sys.stderr)
        return 2

    total = len(selected)
    for i, path in enumerate(selected, start=1):
        print(f"[{i}/{total}] {path.stem} ... ", end="", flush=True)
        start = time.perf_counter()
        executed_path = executed_dir / path.name
        try:
            execute_notebook(path, executed_path, timeout=args.timeout, cwd=notebooks_dir)
        except NotebookFailure as failure:
            print(f"FAILED after {time.perf_counter() - start:.1f} s", flush=True)
            _report_failure(path.name, failure, executed_path)
            return 1
        print(f"done in {time.perf_counter() - start:.1f} s", flush=True)

    missing = [p.name for p in all_notebooks if not (executed_dir / p.name).exists()]
    if args.no_book or missing:
        why = "--no-book" if args.no_book else f"not executed yet: {', '.join(missing)}"
        print(f"Executed copies in {executed_dir}; the book is not built ({why}).", flush=True)
        return 0
    print("Building the course book ... ", end="", flush=True)
    start = time.perf_counter()
    try:
        index_path = build_book(executed_dir, site_dir, assignments_dir=notebooks_dir.parent / "assignments")
    except (FileNotFoundError, RuntimeError) as error:
        print("FAILED", flush=True)
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    print(f"Site: {index_path.resolve()}", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
