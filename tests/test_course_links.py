"""The course's address is configured in one place, and every link is built from it."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import course_links  # noqa: E402


def test_readme_launch_links_are_built_from_the_configured_address():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == course_links.sync_readme(readme), (
        "the README's launch links differ from pyproject.toml: run `python tools/course_links.py --readme`"
    )
    config = course_links.load_config()
    for number in [p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")]:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {number} |"))
        assert f"colab.research.google.com/github/{config.slug}/blob/{config.branch}/notebooks/{number}_" in row
        assert f"mybinder.org/v2/gh/{config.slug}/{config.branch}?labpath=notebooks/{number}_" in row


def test_no_file_names_the_repository_but_the_configuration_and_what_is_built_from_it():
    config = course_links.load_config()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    allowed = {"pyproject.toml", "README.md"}  # the configuration, and the README synced from it
    naming = [
        name for name in tracked
        if name not in allowed and (ROOT / name).is_file() and name.endswith((".py", ".md", ".ipynb", ".toml", ".txt", ".yml"))
        and config.slug in (ROOT / name).read_text(encoding="utf-8", errors="replace")
    ]  # fmt: skip
    allowed_generated = [n for n in naming if n.endswith(".ipynb")]  # set-up cells, checked against the config
    assert sorted(set(naming) - set(allowed_generated)) == [], f"hard-coded repository address in {naming}"


def test_binder_builds_a_cpu_image_of_the_course():
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert "whl/cpu" in requirements and "torch" in requirements
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text() and "-e ." in (ROOT / "binder" / "postBuild").read_text()
