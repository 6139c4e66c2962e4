"""The explorers work where students use them: the course's own JupyterLab, in headless Chromium.

Starts JupyterLab on a local port over copies of notebooks 05 and 06 (the sources are never opened, so
nothing can save over them), with its own settings and workspace (nothing restored from, or written to,
the user's JupyterLab), runs all cells as a student does (FAST mode, progress bars on), moves a slider,
answers a quiz question, picks another image, and checks that the figure changes and that no widget fails
to display. Skipped with a message where there is no Chromium or no playwright.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (uses Debian's chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs it): apt-get install chromium")
TOKEN = "course-widget-test"
RUN_TIMEOUT_S = 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 over a folder with copies of notebooks 05 and 06; yields its base URL."""
    root = tmp_path_factory.mktemp("lab")
    for name in ("05_occlusion.ipynb", "06_activations.ipynb"):
        shutil.copy2(ROOT / "notebooks" / name, root / name)
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the DOM (no windowing), and no autosave: the copies stay as they were
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (root / ".settings" / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
    (root / ".settings" / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False})
    )
    port = _free_port()
    env = dict(os.environ, COURSE_FAST="1", COURSE_OFFLINE="1", COURSE_PROGRESS="1",
               JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
               JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    env.pop("COURSE_WIDGETS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.disable_check_xsrf=True", "--allow-root"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])  # fmt: skip
        yield chromium
        chromium.close()


def _run_all(page, base: str, name: str) -> None:
    """Open ``name`` in JupyterLab, alone (``reset``: no tab of an earlier page restored), run all cells
    and wait until every code cell of that notebook has run."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000, polling=500)
    page.wait_for_timeout(3000)  # the kernel starts and connects
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            if (!panel || !panel.node) return false;
            const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=RUN_TIMEOUT_S * 1000, polling=1000,
    )
    raised = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    assert not raised.count(), f"{name}: a cell raised in JupyterLab: {raised.first.inner_text()[:500]}"


def _no_broken_widgets(page, name: str) -> None:
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text, f"{name}: a widget failed to display ({text.count('Error displaying')})"
    assert "model not found" not in text, f"{name}: a widget's model was closed while shown"


def _images(widget) -> str:
    return json.dumps([img.get_attribute("src") or "" for img in widget.locator("img").all()])


def _wait_for_new_images(page, selector: str, before: str) -> None:
    """Wait until the images inside the first element matching ``selector`` differ from ``before``."""
    page.wait_for_function(
        "([sel, before]) => { const el = document.querySelector(sel); if (!el) return false;"
        " return JSON.stringify([...el.querySelectorAll('img')].map(i => i.getAttribute('src') || '')) !== before; }",
        arg=[selector, before], timeout=60_000, polling=500,
    )


def _move_first_slider(page, widget) -> None:
    handle = widget.locator(".noUi-handle, .slider-container input, .widget-slider input").first
    handle.focus()
    page.keyboard.press("ArrowRight")


def test_occlusion_explorer_and_quiz_respond_in_jupyterlab(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, lab, "05_occlusion.ipynb")
    _no_broken_widgets(page, "05_occlusion")
    selector = ".jp-OutputArea-output .jupyter-widgets.widget-vbox:has(.widget-slider)"
    explorer = page.locator(selector).first
    assert explorer.count(), "05: no explorer with a slider was displayed"
    before = _images(explorer)
    _move_first_slider(page, explorer)
    _wait_for_new_images(page, selector, before)
    quiz = page.locator(".jupyter-widgets:has(.widget-gridbox button)").first
    assert quiz.count(), "05: the quiz was not displayed"
    status = quiz.locator(".widget-html").first.inner_text()
    quiz.locator("button").first.click()
    page.wait_for_function(
        "([before]) => [...document.querySelectorAll('.jupyter-widgets:has(.widget-gridbox button) .widget-html')]"
        ".some(e => e.innerText !== before)", arg=[status], timeout=30_000, polling=500,
    )
    _no_broken_widgets(page, "05_occlusion")
    page.close()


def test_activation_explorer_responds_in_jupyterlab(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, lab, "06_activations.ipynb")
    _no_broken_widgets(page, "06_activations")
    selector = ".jp-OutputArea-output .jupyter-widgets.widget-vbox:has(select), " \
               ".jp-OutputArea-output .jupyter-widgets.widget-vbox:has(.widget-slider)"
    explorer = page.locator(selector).first
    assert explorer.count(), "06: the activation explorer was not displayed"
    before = _images(explorer)
    control = explorer.locator("select").first
    if control.count():  # a layer or image chooser: pick its last option
        control.select_option(index=control.locator("option").count() - 1)
    else:
        _move_first_slider(page, explorer)
    _wait_for_new_images(page, selector, before)
    _no_broken_widgets(page, "06_activations")
    page.close()
