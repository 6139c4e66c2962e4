#!/usr/bin/env python
"""Render the executed lecture notebooks and the student releases into the course book.

Usage (``make run`` calls it after executing the notebooks)::

    .venv/bin/python tools/build_book.py [--executed build/executed] [--out build/site]

The book is built with Sphinx, MyST-NB and sphinx-book-theme (the Jupyter Book stack): a sidebar with
the fourteen topics, search, previous/next, the ``.ipynb`` to download and launch buttons (Colab,
Binder, and JupyterHub when one is configured), all built from the address in ``pyproject.toml``
(``tools/course_links.py``). Nothing is executed again (``nb_execution_mode = "off"``), and nothing is
loaded from the network: MathJax is served from the book's own folder and no widget script is fetched.

The front page says what the course is, who it is for and where each reader starts, and shows the
topics as cards, each with a figure of its executed notebook. Each assignment has a page rendered from
its student release in ``assignments/`` (no solutions, no hidden tests).
"""
from __future__ import annotations

import argparse
import base64
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_links import REPO_ROOT, CourseConfig, launch_links, load_config  # noqa: E402

COURSE_TITLE = "Understanding and visualizing convolutional networks"
CARD_TAG = "course-card"  # a code cell with this tag gives its figure to the topic's card
# Cards of one height: a tall figure shows its top part instead of stretching its card.
CARD_CSS = ".sd-card-img-top { height: 200px; object-fit: cover; object-position: top; }\n"
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?]\**)(\s|$)", re.DOTALL)


@dataclass
class Topic:
    number: str
    stem: str  # e.g. 07_saliency
    title: str
    summary: str
    figure: bytes | None
    assignment: Path | None  # the student release notebook, if there is one


# --------------------------------------------------------------------------- #
# Reading the notebooks
# --------------------------------------------------------------------------- #
def _markdown_title_and_summary(nb: nbformat.NotebookNode, fallback: str) -> tuple[str, str]:
    """The first ``# `` heading and the first sentence of the paragraph after it."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if not lines or not lines[0].startswith("# "):
            continue
        title = lines[0][2:].strip()
        paragraphs = [p for p in "\n".join(lines[1:]).split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
        summary = ""
        if paragraphs:
            text = " ".join(paragraphs[0].split())
            match = _FIRST_SENTENCE.match(text)
            summary = match.group(1) if match else text
        return title, summary
    return fallback, ""


def card_figure(nb: nbformat.NotebookNode) -> bytes | None:
    """The PNG for a topic's card: the figure of a cell tagged ``course-card``, else the largest figure."""
    tagged, largest = None, None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if not png:
                continue
            data = base64.b64decode(png)
            if tagged is None and CARD_TAG in cell.metadata.get("tags", []):
                tagged = data
            if largest is None or len(data) > len(largest):
                largest = data
    return tagged or largest


def read_topics(executed_dir: Path, assignments_dir: Path) -> list[Topic]:
    """One topic per executed lecture notebook ``NN_*.ipynb``, in order."""
    topics = []
    for path in sorted(Path(executed_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title, summary = _markdown_title_and_summary(nb, path.stem)
        release = Path(assignments_dir) / path.stem / f"{path.stem}.ipynb"
        topics.append(Topic(path.name[:2], path.stem, title, summary, card_figure(nb),
                            release if release.is_file() else None))
    return topics


# --------------------------------------------------------------------------- #
# Writing the book's sources
# --------------------------------------------------------------------------- #
def _launch_line(path: str, config: CourseConfig) -> str:
    return " · ".join(f"[{name}]({url})" for name, url in launch_links(path, config).items())


def _short_title(topic: Topic) -> str:
    return re.sub(rf"^{topic.number}\s*[·:.-]?\s*", "", topic.title)


def front_page(topics: list[Topic], config: CourseConfig) -> str:
    """The book's index: what the course is, who it is for, how each reader starts, the topic cards."""
    cards = []
    for topic in topics:
        lines = [f":::{{grid-item-card}} {topic.number} · {_short_title(topic)}"]
        if topic.figure is not None:
            lines.append(f":img-top: _static/cards/{topic.stem}.png")
            lines.append(f":img-alt: a figure of lecture {topic.number}")
        lines += ["", topic.summary, ""]
        links = [f"[Lecture](notebooks/{topic.stem}.ipynb)"]
        if topic.assignment is not None:
            links.append(f"[Assignment](assignments/{topic.stem}/{topic.stem}.ipynb)")
        lines.append(" · ".join(links) + " · " + _launch_line(f"notebooks/{topic.stem}.ipynb", config))
        lines.append(":::")
        cards.append("\n".join(lines))
    first = topics[0].stem if topics else ""
    return f"""# {COURSE_TITLE}

A course in fourteen Jupyter notebooks on what happens inside a convolutional network, and on the
techniques that make it visible: raw filters, maximally activating patches, the representation space,
occlusion, activations, saliency maps, deconvnets and guided backpropagation, class models, regularized
feature visualization, feature inversion, DeepDream, style transfer, and adversarial examples. Every
figure is computed by the course's own package, `course_utils`, which runs on a GPU when there is one
and on a laptop CPU otherwise, fully offline. Each topic comes with an autograded assignment.

It is for students of a deep-learning course who know what a convolution and backpropagation are
(PyTorch at the level of a first tutorial), for instructors who want a ready, tested set of
assignments, and for anyone studying the subject alone.

## Where to start

Self-study reader
: Read the lectures in order, starting with [01](notebooks/{first}.ipynb). Each page here is the executed
  notebook; the launch buttons at the top of a page (Colab, Binder) open it where you can run and change
  it. Online, with the ImageNet weights, the networks are the lecture's own; offline, small stand-in
  models trained on synthetic shapes show the same techniques, and each notebook says which one ran.

Student
: Work in the students' copy of the course (see its README): clone it, `make lab`, and open
  `assignments/NN_topic/NN_topic.ipynb`, or open an assignment from its page in this book. Run the
  visible tests as you go and validate before you submit.

Instructor
: The source of the assignments, their hidden tests and the grading commands are in the instructors'
  repository ({config.repository}); its README shows how to release, collect and grade with nbgrader,
  locally or on a JupyterHub.

## The fourteen topics

::::{{grid}} 1 2 2 3
:gutter: 3

{chr(10).join(cards)}
::::

```{{toctree}}
:hidden:
:caption: Lectures

{chr(10).join(f"notebooks/{t.stem}" for t in topics)}
```

```{{toctree}}
:hidden:
:caption: Assignments

{chr(10).join(f"assignments/{t.stem}/{t.stem}" for t in topics if t.assignment is not None)}
```
"""


def sphinx_conf(config: CourseConfig, mathjax: bool) -> str:
    """``conf.py`` of the book: MyST-NB without execution, the book theme, offline MathJax."""
    hub = f'"jupyterhub_url": "{config.jupyterhub}",' if config.jupyterhub else ""
    # MathJax 3 with SVG output, from the book's own folder: no CDN, and no web fonts to load (a browser
    # refuses fonts to a page opened from a file).
    mathjax_lines = 'mathjax_path = "mathjax/tex-svg.js"\n' if mathjax else ""
    return f'''# Generated by tools/build_book.py: edit that script, not this file.
project = "{COURSE_TITLE}"
html_title = project
extensions = ["myst_nb", "sphinx_design"]
exclude_patterns = ["_build"]
nb_execution_mode = "off"          # the notebooks were executed once, by make run
nb_ipywidgets_js = {{}}             # no widget scripts from a CDN: the saved pages show static pictures
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
{mathjax_lines}html_theme_options = {{
    "repository_url": "{config.public_repository}",
    "repository_branch": "{config.branch}",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {{
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        {hub}
        "notebook_interface": "jupyterlab",
    }},
    "show_navbar_depth": 1,
    "home_page_in_toc": True,
}}
'''


def write_sources(src: Path, topics: list[Topic], executed_dir: Path, config: CourseConfig) -> None:
    """Lay out the book's source folder: conf.py, index.md, the notebooks, the cards' figures."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "assignments").mkdir()
    (src / "_static" / "cards").mkdir(parents=True)
    mathjax = _copy_mathjax(src / "_static" / "mathjax")
    (src / "conf.py").write_text(sphinx_conf(config, mathjax), encoding="utf-8")
    (src / "_static" / "course.css").write_text(CARD_CSS, encoding="utf-8")
    (src / "index.md").write_text(front_page(topics, config), encoding="utf-8")
    for topic in topics:
        shutil.copy2(Path(executed_dir) / f"{topic.stem}.ipynb", src / "notebooks" / f"{topic.stem}.ipynb")
        if topic.figure is not None:
            (src / "_static" / "cards" / f"{topic.stem}.png").write_bytes(topic.figure)
        if topic.assignment is not None:
            (src / "assignments" / topic.stem).mkdir()
            shutil.copy2(topic.assignment, src / "assignments" / topic.stem / f"{topic.stem}.ipynb")


def _copy_mathjax(target: Path) -> bool:
    """Copy MathJax 3 (one file, SVG output; shipped by the django-static-mathjax package) into the book,
    so equations render offline."""
    try:
        import mathjax
    except ImportError:
        print("note: django-static-mathjax is missing: the book's equations need a network", file=sys.stderr)
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js", target / "tex-svg.js")
    return True


# --------------------------------------------------------------------------- #
# Building
# --------------------------------------------------------------------------- #
def build_book(executed_dir: Path, out_dir: Path, *, assignments_dir: Path = REPO_ROOT / "assignments",
               config: CourseConfig | None = None, quiet: bool = True) -> Path:
    """Build the book from the executed notebooks in ``executed_dir`` into ``out_dir``; return index.html.

    Raises:
        FileNotFoundError: when ``executed_dir`` holds no executed notebook (run ``make run`` first).
        RuntimeError: when Sphinx fails.
    """
    from sphinx.cmd.build import build_main

    executed_dir, out_dir = Path(executed_dir), Path(out_dir)
    topics = read_topics(executed_dir, assignments_dir)
    if not topics:
        raise FileNotFoundError(f"no executed notebooks NN_*.ipynb in {executed_dir}: run `make run` first")
    config = config or load_config()
    src = out_dir.parent / f"{out_dir.name}-src"
    write_sources(src, topics, executed_dir, config)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    args = ["-b", "html", "-j", "auto", "-d", str(src / "_doctrees")] + (["-q"] if quiet else [])
    status = build_main(args + [str(src), str(out_dir)])
    if status != 0:
        raise RuntimeError(f"sphinx-build failed with status {status} (sources in {src})")
    return out_dir / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=REPO_ROOT / "build" / "executed")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "site")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        index = build_book(args.executed, args.out)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"Book built in {time.perf_counter() - start:.0f} s: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
