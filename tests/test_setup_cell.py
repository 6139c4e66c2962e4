"""The set-up cell opens every lecture notebook and every assignment: it installs the course where it is
missing (Colab, a fresh kernel) from the configured repository, and does nothing in the course's own
environment."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import course_links  # noqa: E402
import setup_cell  # noqa: E402

SOURCE = setup_cell.setup_source()
RELEASES = sorted((ROOT / "assignments").glob("*/*.ipynb"))
ALL = [p for p, _ in setup_cell.notebooks()] + RELEASES


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_set_up_cell_is_the_first_code_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert setup_cell.has_current_cell(nb, SOURCE), f"run tools/setup_cell.py --apply (then make release): {path.name}"


@pytest.mark.parametrize("path", RELEASES, ids=lambda p: p.parent.name)
def test_the_set_up_cell_is_read_only_in_the_assignments(path):
    cell = nbformat.read(path, as_version=4).cells[setup_cell.first_code_cell(nbformat.read(path, as_version=4))]
    assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False
    assert cell.metadata["nbgrader"]["locked"] is True and cell.metadata["nbgrader"]["grade"] is False


def test_the_cell_installs_from_the_configured_repository_and_keeps_torch():
    config = course_links.load_config()
    assert f"git+{config.public_repository}@{config.branch}" in SOURCE
    assert '("torch", "torchvision")' in SOURCE and "find_spec(\"course_utils\") is None" in SOURCE


def test_in_the_course_environment_the_cell_does_nothing_at_once():
    """Run where course_utils is installed: no pip call (pip is replaced by a failing stand-in), < 1 s."""
    guard = "import subprocess\nsubprocess.run = lambda *a, **k: (_ for _ in ()).throw(AssertionError('pip ran'))\n"
    timed = f"import time\nstart = time.perf_counter()\nexec({SOURCE!r})\nprint(time.perf_counter() - start)"
    result = subprocess.run([sys.executable, "-c", guard + timed], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 1, f"the set-up cell took {float(result.stdout):.2f} s"
