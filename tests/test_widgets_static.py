"""The explorers on a saved page (``COURSE_WIDGETS=static``): a picture of the initial view and one
line, never the widget's raw ``VBox(...)`` text; in a live notebook (variable unset) the widget."""
import base64
import copy

import nbformat
import pytest
from IPython.core.formatters import DisplayFormatter

from course_utils import widgets

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def explorers(model, shapes):
    return {
        "occlusion explorer": lambda: widgets.occlusion_explorer(model, shapes.images[:2], masks=shapes.masks[:2]),
        "quiz": lambda: widgets.OcclusionQuiz(widgets.make_quiz(levels=(0.0, 0.5), per_level=2, seed=3)),
        "activation explorer": lambda: widgets.activation_explorer(model, shapes.images[:2], dataset=shapes.images[:16], k=4),
    }


def displayed(obj) -> dict:
    """What IPython's display machinery sends to the notebook for ``obj`` (mimetype -> data)."""
    data, _ = DisplayFormatter().format(obj)
    return data


@pytest.mark.parametrize("name", ["occlusion explorer", "quiz", "activation explorer"])
def test_static_mode_shows_a_picture_and_one_line(name, shapenet, shapes, monkeypatch):
    model = copy.deepcopy(shapenet)
    monkeypatch.setenv("COURSE_WIDGETS", "static")
    assert widgets.static_mode()
    data = displayed(explorers(model, shapes)[name]())
    assert WIDGET_VIEW not in data
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    plain = data["text/plain"]
    assert "VBox(" not in plain and "HBox(" not in plain and "children=" not in plain
    assert "\n" not in plain and "live notebook" in plain and "interactive" in plain
    assert data["image/png"] in data["text/html"] and "live notebook" in data["text/html"]  # picture + line on the page


@pytest.mark.parametrize("name", ["occlusion explorer", "quiz", "activation explorer"])
def test_live_notebook_shows_the_widget(name, shapenet, shapes, monkeypatch):
    model = copy.deepcopy(shapenet)
    monkeypatch.delenv("COURSE_WIDGETS", raising=False)
    assert not widgets.static_mode()
    data = displayed(explorers(model, shapes)[name]())
    assert WIDGET_VIEW in data and "image/png" not in data


def test_static_view_is_the_initial_view(shapenet, shapes, monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "static")
    explorer = widgets.occlusion_explorer(copy.deepcopy(shapenet), shapes.images[:2])
    first = bytes(explorer.view.value)
    explorer.children[0].children[1].value = 40  # the reader moves the window slider: the view changes
    assert bytes(explorer.view.value) != first
    data = displayed(explorer)
    assert base64.b64decode(data["image/png"]) == first and "window 16" in data["text/plain"]
    explorer = widgets.activation_explorer(copy.deepcopy(shapenet), shapes.images[:2])
    first = bytes(explorer.view.value)
    explorer.layer_picker.value = explorer.layer_picker.options[-1]
    assert base64.b64decode(displayed(explorer)["image/png"]) == first


def test_static_view_checks_its_picture():
    with pytest.raises(ValueError, match="PNG"):
        widgets.StaticView(b"not a png", "line")


def test_saved_notebook_holds_no_widget_text(tmp_path):
    """Executed the way tools/build_site.py executes the site's notebooks: the saved outputs hold the
    pictures and lines, no ``VBox(...)`` text, and no progress bar or dead widget in the explorer."""
    from nbclient import NotebookClient

    cells = [
        "import os\nos.environ['COURSE_WIDGETS'] = 'static'\n"
        "from course_utils import data, models, widgets\n"
        "model = models.load('shapenet', device='cpu')\nshapes = data.make_shapes(8, seed=1)",
        "widgets.occlusion_explorer(model, shapes.images[:2], masks=shapes.masks[:2])",
        "widgets.OcclusionQuiz(widgets.make_quiz(levels=(0.0, 0.5), per_level=2))",
        "explorer = widgets.activation_explorer(model, shapes.images[:2], dataset=shapes.images, k=4)\nexplorer",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in notebook.cells[1:]:
        assert len(cell.outputs) == 1, cell.outputs
        output = cell.outputs[0]
        assert output.output_type == "execute_result" and WIDGET_VIEW not in output.data
        assert "image/png" in output.data and "interactive" in output.data["text/plain"]
        assert "VBox(" not in str(output) and "HBox(" not in str(output)


def test_quiet_progress_restores_the_setting(monkeypatch):
    import os

    from course_utils.widgets.static import quiet_progress

    monkeypatch.setenv("COURSE_PROGRESS", "1")
    with quiet_progress():
        assert os.environ["COURSE_PROGRESS"] == "0"  # no bar inside an explorer's view
    assert os.environ["COURSE_PROGRESS"] == "1"
    monkeypatch.delenv("COURSE_PROGRESS")
    with pytest.raises(RuntimeError), quiet_progress():
        raise RuntimeError("a failing redraw")
    assert "COURSE_PROGRESS" not in os.environ
