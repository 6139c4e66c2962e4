#!/usr/bin/env python
"""Execute the lecture notebooks in order and build a small static HTML site.

Usage (normally through ``make run``)::

    .venv/bin/python tools/build_site.py [--notebooks DIR] [--out DIR]
                                         [--only PATTERN] [--timeout S]

For each lecture notebook ``notebooks/NN_topic.ipynb`` (sorted by name):

* it is executed with nbclient (kernel ``python3``, working directory = the
  notebooks folder); the source notebook is never written to, the executed
  copy goes to ``<out>/executed/NN_topic.ipynb``;
* the executed copy is rendered to a self-contained page
  ``<out>/site/NN_topic.html`` (nbconvert's "lab" template, images embedded);

and finally ``<out>/site/index.html`` lists the pages.

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
import html
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_TITLE = "Understanding and visualizing convolutional networks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
DEFAULT_TIMEOUT = 1200

_HEADING_RE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BODY_RE = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


# --------------------------------------------------------------------------- #
# Finding notebooks and their titles
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


def notebook_number(path: Path) -> str:
    """Return the two-digit number that prefixes a lecture notebook's name."""
    return Path(path).name[:2]


def notebook_title(nb: nbformat.NotebookNode | Path, fallback: str | None = None) -> str:
    """Return the text of the first markdown ``# `` heading, else ``fallback``.

    ``nb`` is a notebook node or a path to one; for a path the fallback
    defaults to its stem.
    """
    if isinstance(nb, (str, Path)):
        path = Path(nb)
        fallback = fallback if fallback is not None else path.stem
        nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        in_fence = False
        for line in cell.get("source", "").splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            match = None if in_fence else _HEADING_RE.match(line.strip())
            if match:
                return match.group(1).strip()
    return fallback if fallback is not None else ""


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
# Rendering
# --------------------------------------------------------------------------- #
@dataclass
class Entry:
    """A lecture notebook as listed on the site."""

    number: str
    title: str
    page: str  # file name of its HTML page, relative to the site folder


def entry_for(path: Path, nb: nbformat.NotebookNode | None = None) -> Entry:
    """Return the site entry (number, title, page name) for a notebook path."""
    path = Path(path)
    title = notebook_title(nb, path.stem) if nb is not None else notebook_title(path)
    return Entry(notebook_number(path), title, path.stem + ".html")


def nav_html(prev: Entry | None, nxt: Entry | None) -> str:
    """Return the small "previous / index / next" navigation bar for a page."""
    parts = []
    if prev is not None:
        parts.append(
            f'<a href="{html.escape(prev.page)}">&larr; {html.escape(prev.number)} '
            f"{html.escape(prev.title)}</a>"
        )
    parts.append('<a href="index.html">Index</a>')
    if nxt is not None:
        parts.append(
            f'<a href="{html.escape(nxt.page)}">{html.escape(nxt.number)} '
            f"{html.escape(nxt.title)} &rarr;</a>"
        )
    sep = ' <span style="color:#999">|</span> '
    return (
        '\n<nav class="course-nav" style="font-family:system-ui,sans-serif;font-size:14px;'
        "padding:8px 16px;border-bottom:1px solid #ddd;background:#f7f7f7;"
        'position:sticky;top:0;z-index:1000">' + sep.join(parts) + "</nav>\n"
    )


def render_page(
    nb: nbformat.NotebookNode,
    page_path: Path,
    *,
    title: str,
    resources_path: Path | None = None,
    nav: str = "",
    mathjax_url: str | None = None,
) -> Path:
    """Render an executed notebook to a self-contained HTML page at ``page_path``.

    Output images are embedded as data URIs (nbconvert's default); images
    referenced from markdown are embedded too, resolved from ``resources_path``.
    ``nav`` is an HTML snippet inserted right after ``<body>``; ``mathjax_url`` replaces the
    default (online) MathJax, so equations render offline.
    """
    exporter = HTMLExporter(template_name="lab")
    exporter.embed_images = True
    if mathjax_url:
        exporter.mathjax_url = mathjax_url
    resources = {"metadata": {"name": title, "path": str(resources_path or "")}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if nav:
        match = _BODY_RE.search(body)
        if match:
            body = body[: match.end()] + nav + body[match.end() :]
        else:
            body = nav + body
    page_path = Path(page_path)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(body, encoding="utf-8")
    return page_path


def install_mathjax(site_dir: Path) -> str | None:
    """Copy MathJax (shipped by the jupyter-server-mathjax package) next to the pages.

    Returns the URL to give :func:`render_page`, or None when the package is missing (the
    pages then load MathJax from its CDN, which needs a network).
    """
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    target = Path(site_dir) / "mathjax"
    if not (target / "MathJax.js").exists():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", target, dirs_exist_ok=True)
    return "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def write_index(entries: list[Entry], index_path: Path, title: str = COURSE_TITLE) -> Path:
    """Write ``index.html``: the course title and an ordered list of linked notebooks."""
    def label(entry: Entry) -> str:
        number = "" if entry.title.startswith(entry.number) else f'<span class="num">{html.escape(entry.number)}</span> '
        return number + html.escape(entry.title)

    items = "\n".join(f'    <li><a href="{html.escape(e.page)}">{label(e)}</a></li>' for e in entries)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)}</title>
  <style>
    body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
           max-width: 760px; margin: 3em auto; padding: 0 1em; color: #222; line-height: 1.5; }}
    h1 {{ font-weight: 600; border-bottom: 1px solid #ddd; padding-bottom: .3em; }}
    ol {{ list-style: none; padding-left: 0; }}
    li {{ margin: .5em 0; }}
    a {{ color: #0b5cad; text-decoration: none; }}
    a:hover {{ text-decoration: underline; }}
    .num {{ display: inline-block; min-width: 2.2em; color: #777; font-variant-numeric: tabular-nums; }}
  </style>
</head>
<body>
  <h1>{html.escape(title)}</h1>
  <ol>
{items}
  </ol>
</body>
</html>
"""
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    index_path.write_text(page, encoding="utf-8")
    return index_path


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

    # Titles of every notebook, for the navigation bars and the index.
    entries = {p: entry_for(p) for p in all_notebooks}

    mathjax_url = install_mathjax(site_dir)
    total = len(selected)
    for i, path in enumerate(selected, start=1):
        print(f"[{i}/{total}] {path.stem} ... ", end="", flush=True)
        start = time.perf_counter()
        executed_path = executed_dir / path.name
        try:
            nb = execute_notebook(path, executed_path, timeout=args.timeout, cwd=notebooks_dir)
        except NotebookFailure as failure:
            print(f"FAILED after {time.perf_counter() - start:.1f} s", flush=True)
            _report_failure(path.name, failure, executed_path)
            return 1
        pos = all_notebooks.index(path)
        prev = entries[all_notebooks[pos - 1]] if pos > 0 else None
        nxt = entries[all_notebooks[pos + 1]] if pos + 1 < len(all_notebooks) else None
        render_page(
            nb,
            site_dir / entries[path].page,
            title=entries[path].title,
            resources_path=notebooks_dir,
            nav=nav_html(prev, nxt),
            mathjax_url=mathjax_url,
        )
        print(f"done in {time.perf_counter() - start:.1f} s", flush=True)

    # The index lists every lecture notebook that has a page (also from earlier --only runs).
    listed = [entries[p] for p in all_notebooks if (site_dir / entries[p].page).exists()]
    index_path = write_index(listed, site_dir / "index.html")
    print(f"Site: {index_path.resolve()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
