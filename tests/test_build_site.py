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


def test_notebook_title(build_site, tmp_path):
    nb = new_notebook(
        cells=[
            new_code_cell("# a comment, not a heading"),
            new_markdown_cell("Intro text\n\n## Sub heading"),
            new_markdown_cell("```\n# fenced\n```\n# Real <title> & more #"),
        ]
    )
    assert build_site.notebook_title(nb, "fallback") == "Real <title> & more"
    path = _write_nb(tmp_path / "03_no_heading.ipynb", [new_markdown_cell("## only h2")])
    assert build_site.notebook_title(path) == "03_no_heading"


def test_write_index_escapes(build_site, tmp_path):
    entries = [build_site.Entry("01", "A <b> & c", "01_a.html")]
    index = build_site.write_index(entries, tmp_path / "index.html")
    text = index.read_text(encoding="utf-8")
    assert "A &lt;b&gt; &amp; c" in text
    assert "Understanding and visualizing convolutional networks" in text


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

    # Index lists both titles, in order, with links to existing pages.
    text = index.read_text(encoding="utf-8")
    assert "Understanding and visualizing convolutional networks" in text
    assert text.index("Title one") < text.index("Title two")
    links = re.findall(r'<li><a href="([^"]+)"', text)
    assert links == ["01_first.html", "02_second.html"]
    for link in links:
        assert (index.parent / link).is_file()

    # Executed copies carry outputs; pages embed the figure and have navigation.
    executed = nbformat.read(out / "executed" / "01_first.ipynb", as_version=4)
    assert "hello from data" in executed.cells[1].outputs[0]["text"]
    for name in ["01_first", "02_second"]:
        page = (out / "site" / f"{name}.html").read_text(encoding="utf-8")
        assert "data:image/png;base64" in page
        assert 'href="index.html"' in page
    page1 = (out / "site" / "01_first.html").read_text(encoding="utf-8")
    assert 'href="02_second.html"' in page1
    assert "hello from data" in page1
    # Equations render offline: MathJax is served from the site folder, not a CDN.
    assert '<script src="mathjax/MathJax.js' in page1
    assert (out / "site" / "mathjax" / "MathJax.js").is_file()


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
    assert not (out / "site" / "02_later.html").exists()
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
def test_page_renders_equations_and_figures_offline_in_chromium(build_site, tmp_path):
    """Headless Chromium, with no network, renders the page: MathJax typesets the equation from the
    local copy and the figure is an embedded PNG."""
    import base64
    import io
    import subprocess

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
    nb = new_notebook(cells=[new_markdown_cell("# Equations\n\n$$p_c = \\frac{e^{s_c}}{\\sum_j e^{s_j}}$$"), cell])
    site = tmp_path / "site"
    page = build_site.render_page(nb, site / "01_eq.html", title="Equations", mathjax_url=build_site.install_mathjax(site))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=15000"]  # fmt: skip
    dom = subprocess.run(
        [_browser(), *flags, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "MathJax_Display" in dom or 'class="MathJax' in dom, "MathJax did not typeset the equation"
    assert re.search(r'<img[^>]+src="data:image/png;base64,', dom)
