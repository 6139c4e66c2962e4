"""Tests for tools/build_site.py (the `make run` site builder).

Each test uses tiny generated notebooks; each kernel start costs ~2 s, so the
tests execute as few notebooks as possible.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "tools" / "build_site.py"


@pytest.fixture(scope="module")
def build_book():
    """tools/build_book.py as a module (it imports tools/course_links.py)."""
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    import build_book as module

    yield module


@pytest.fixture(scope="module")
def build_site():
    """Import tools/build_site.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_site", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_site"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("build_site", None)


def _write_nb(path: Path, cells) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _plot_cell():
    return new_code_cell(
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2])\n"
        "plt.show()"
    )


# --------------------------------------------------------------------------- #
# Fast unit tests (no kernel)
# --------------------------------------------------------------------------- #
def test_find_notebooks_sorted_and_filtered(build_site, tmp_path):
    for name in ["10_ten.ipynb", "02_two.ipynb", "01_one.ipynb", "scratch.ipynb", "1_bad.ipynb"]:
        _write_nb(tmp_path / name, [])
    found = [p.name for p in build_site.find_notebooks(tmp_path)]
    assert found == ["01_one.ipynb", "02_two.ipynb", "10_ten.ipynb"]
    assert [p.name for p in build_site.find_notebooks(tmp_path, "02")] == ["02_two.ipynb"]


def test_front_page_and_conf_are_built_from_the_configured_repository(build_book, tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# 07 · Saliency maps\n\nFirst **sentence?** Second one.")])
    nb.cells.append(new_code_cell("plot()"))
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    (tmp_path / "07_saliency.ipynb").write_text(nbformat.writes(nb))
    topics = build_book.read_topics(tmp_path, tmp_path / "no-assignments")
    assert [(t.number, t.title, t.summary) for t in topics] == [("07", "07 · Saliency maps", "First **sentence?**")]
    config = build_book.CourseConfig("https://github.com/someone/a-fork", "term-2")
    page = build_book.front_page(topics, config)
    assert ":img-top: _static/cards/07_saliency.png" in page and "[Lecture](notebooks/07_saliency.ipynb)" in page
    assert "https://colab.research.google.com/github/someone/a-fork/blob/term-2/notebooks/07_saliency.ipynb" in page
    assert "https://mybinder.org/v2/gh/someone/a-fork/term-2?labpath=notebooks/07_saliency.ipynb" in page
    conf = build_book.sphinx_conf(config, mathjax=True)
    assert '"repository_url": "https://github.com/someone/a-fork"' in conf and '"repository_branch": "term-2"' in conf
    assert 'nb_execution_mode = "off"' in conf and "nb_ipywidgets_js = {}" in conf


def test_launch_links_follow_the_one_configured_address(build_book, tmp_path):
    import course_links

    (tmp_path / "pyproject.toml").write_text(
        '[project.urls]\nRepository = "https://github.com/o/n"\n'
        '[tool.course]\nbranch = "b"\njupyterhub = "https://hub.example.edu"\n'
        'students_repository = "https://github.com/o/n-students"\n'
    )
    config = course_links.load_config(tmp_path)
    links = course_links.launch_links("notebooks/01_x.ipynb", config)
    assert links["Colab"] == "https://colab.research.google.com/github/o/n-students/blob/b/notebooks/01_x.ipynb"
    assert links["JupyterHub"].startswith("https://hub.example.edu/hub/user-redirect/git-pull?repo=")
    assert "n-students" in links["JupyterHub"] and "branch=b" in links["JupyterHub"]
    with pytest.raises(ValueError, match="GitHub URL"):
        course_links.launch_links("x.ipynb", course_links.CourseConfig("https://example.org/x", "main"))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(ValueError, match="Repository"):
        course_links.load_config(tmp_path)


# --------------------------------------------------------------------------- #
# End-to-end runs (start kernels)
# --------------------------------------------------------------------------- #
def test_build_site_success(build_site, tmp_path, capsys):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    # The kernel's working directory must be the notebooks folder.
    (nb_dir / "data.txt").write_text("hello from data\n")
    sources = [
        _write_nb(
            nb_dir / "01_first.ipynb",
            [
                new_markdown_cell("# Title one\n\nSome text."),
                new_code_cell("print(open('data.txt').read().strip())"),
                _plot_cell(),
            ],
        ),
        _write_nb(
            nb_dir / "02_second.ipynb",
            [
                new_markdown_cell("# Title two"),
                new_code_cell("print('second ran')"),
                _plot_cell(),
            ],
        ),
    ]
    before = {p: p.read_bytes() for p in sources}
    out = tmp_path / "build"

    rc = build_site.main(["--notebooks", str(nb_dir), "--out", str(out), "--timeout", "120"])
    captured = capsys.readouterr()

    assert rc == 0, captured.err
    # Sources untouched.
    assert {p: p.read_bytes() for p in sources} == before
    # Progress and the final index path.
    assert "[1/2] 01_first ... done in" in captured.out
    assert "[2/2] 02_second ... done in" in captured.out
    index = (out / "site" / "index.html").resolve()
    assert str(index) in captured.out.strip().splitlines()[-1]

    # The book: a page per notebook, both titles in the sidebar in order, figures as files beside it.
    text = index.read_text(encoding="utf-8")
    assert "Understanding and visualizing convolutional networks" in text
    assert text.index("Title one") < text.index("Title two")
    for name in ["01_first", "02_second"]:
        page = (out / "site" / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        images = re.findall(r'<img[^>]+src="([^"]+)"', page)
        assert images and all((out / "site" / "notebooks" / src).is_file() for src in images), images
    # Executed copies carry outputs; the page shows them, with previous/next links.
    executed = nbformat.read(out / "executed" / "01_first.ipynb", as_version=4)
    assert "hello from data" in executed.cells[1].outputs[0]["text"]
    page1 = (out / "site" / "notebooks" / "01_first.html").read_text(encoding="utf-8")
    assert "hello from data" in page1 and 'href="02_second.html"' in page1
    # Nothing is loaded from a CDN: MathJax comes from the book's own folder.
    assert not re.search(r'<script[^>]+src="https?://', page1)
    assert (out / "site" / "_static" / "mathjax" / "tex-svg.js").is_file()


def test_build_site_failure_stops(build_site, tmp_path, capsys):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    bad = _write_nb(
        nb_dir / "01_bad.ipynb",
        [
            new_code_cell("x = 1"),
            new_code_cell("raise ValueError('boom')"),
            new_code_cell("print('never')"),
        ],
    )
    _write_nb(nb_dir / "02_later.ipynb", [new_code_cell("print('later')")])
    before = bad.read_bytes()
    out = tmp_path / "build"

    rc = build_site.main(["--notebooks", str(nb_dir), "--out", str(out), "--timeout", "120"])
    captured = capsys.readouterr()

    assert rc == 1
    assert "01_bad" in captured.err
    assert "boom" in captured.err
    assert "ValueError" in captured.err
    assert "cell 1" in captured.err
    assert bad.read_bytes() == before
    # The partial notebook is kept for inspection; later notebooks are not run.
    partial = nbformat.read(out / "executed" / "01_bad.ipynb", as_version=4)
    assert partial.cells[1].outputs[0]["output_type"] == "error"
    assert not (out / "executed" / "02_later.ipynb").exists()
    assert not (out / "site" / "index.html").exists()
    assert "[2/2]" not in captured.out


# --------------------------------------------------------------------------- #
# The site in a real browser
# --------------------------------------------------------------------------- #
def _browser() -> str | None:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no Chromium here (.ci/run installs it): apt-get install chromium")
def test_book_reads_offline_in_chromium(build_book, tmp_path):
    """Headless Chromium, with no network, reads a small book: MathJax typesets the equations from the
    book's own copy, the figure and every internal link resolve, the card has its picture, search finds a
    phrase of the text, and the launch links name the configured repository."""
    import base64
    import io

    import check_book
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(2, 2))
    axis.plot([0, 1], [1, 0])
    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    cell = new_code_cell("plot()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png.getvalue()).decode()})]
    text = "# 08 · Guided backprop\n\nGuided backpropagation masks twice. $$p_c = \\frac{e^{s_c}}{\\sum_j e^{s_j}}$$ and $k'$."
    executed = tmp_path / "executed"
    executed.mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell(text), cell]), executed / "08_guided.ipynb")
    config = build_book.CourseConfig("https://github.com/someone/a-fork", "term-2")
    index = build_book.build_book(executed, tmp_path / "site", assignments_dir=tmp_path, config=config)
    assert check_book.check_book(index.parent, phrase="guided backpropagation", config=config, cards=1) == []
    # and the checks can fail: a missing picture, a foreign launch link
    for picture in index.parent.rglob("08_guided*.png"):  # the card's picture, wherever Sphinx put it
        picture.unlink()
    other = build_book.CourseConfig("https://github.com/elsewhere/course", "main")
    problems = check_book.check_book(index.parent, phrase="no such words anywhere", config=other, cards=1)
    assert any("card 1 has no picture" in p for p in problems)
    assert any("launch link" in p for p in problems)
    assert any("found nothing" in p for p in problems)
