"""Notebooks are committed clean: no outputs, the python3 kernel, and the course code imported."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*/*.ipynb"))


def test_there_are_notebooks():
    assert any(path.parent.name == "notebooks" for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), (
        f"{path.name} holds outputs: clear them before committing"
    )
    assert any("course_utils" in cell.source for cell in code), f"{path.name} does not use course_utils"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "start with a title"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_lecture_notebook_name_and_short_cells(path):
    assert path.name[:2].isdigit() and path.name[2] == "_", "lecture notebooks are named NN_topic.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 12, f"a code cell of {path.name} is long: move code to course_utils"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_lecture_notebook_states_its_models_and_checks_its_claims(path):
    """The set-up cell says which models are in use (ImageNet weights or the offline stand-ins), and the
    notebook's comparative sentences are backed by claim checks computed in the same run."""
    nb = nbformat.read(path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    setup = next(i for i, source in enumerate(code) if "import" in source and "course_utils" in source)
    assert any("models.describe(" in source for source in code[setup : setup + 2]), (
        f"{path.name}: print models.describe(...) in the set-up cell, so the reader knows which models run"
    )
    assert not any("offline_mode()}" in source for source in code), f"{path.name} still prints OFFLINE: ..."
    assert sum(source.count("claims.check(") for source in code) >= 2, (
        f"{path.name}: back the text's quantitative sentences with claims.check(...)"
    )
