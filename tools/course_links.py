"""The course's public address and the launch links built from it.

One place names the repository: ``[project.urls] Repository`` in ``pyproject.toml``, with the branch,
an optional JupyterHub and an optional students' copy under ``[tool.course]``. Everything that links
to the course (the book's launch buttons, its cards, the README's table, the notebooks' set-up cell)
is built here from those values, so an instructor who forks the course edits only ``pyproject.toml``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
COLAB = "https://colab.research.google.com/github"
BINDER = "https://mybinder.org/v2/gh"


@dataclass(frozen=True)
class CourseConfig:
    repository: str  # https://github.com/<owner>/<name>: the instructors' repository
    branch: str
    jupyterhub: str = ""
    students_repository: str = ""

    @property
    def public_repository(self) -> str:
        """The repository students open: the students' copy when one is configured."""
        return self.students_repository or self.repository

    @property
    def slug(self) -> str:
        """``owner/name`` of :attr:`public_repository` (GitHub)."""
        parsed = urlparse(self.public_repository)
        parts = parsed.path.strip("/").removesuffix(".git").split("/")
        if parsed.netloc != "github.com" or len(parts) != 2:
            raise ValueError(
                f"the course repository must be a GitHub URL https://github.com/<owner>/<name>, "
                f"got {self.public_repository!r}: set [project.urls] Repository in pyproject.toml"
            )
        return "/".join(parts)


def load_config(root: Path = REPO_ROOT) -> CourseConfig:
    """Read the course's address from ``pyproject.toml``."""
    data = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    try:
        repository = data["project"]["urls"]["Repository"]
    except KeyError:
        raise ValueError("pyproject.toml has no [project.urls] Repository: the course's public URL") from None
    course = data.get("tool", {}).get("course", {})
    return CourseConfig(
        repository=repository.rstrip("/"),
        branch=course.get("branch", "main"),
        jupyterhub=course.get("jupyterhub", "").rstrip("/"),
        students_repository=course.get("students_repository", "").rstrip("/"),
    )


def launch_links(path: str, config: CourseConfig | None = None) -> dict[str, str]:
    """Links that open the notebook at ``path`` (relative to the repository root) to run it.

    Returns ``{"Colab": ..., "Binder": ...}``, plus ``"JupyterHub"`` (through nbgitpuller) when a hub
    is configured.
    """
    config = config or load_config()
    path = path.lstrip("/")
    links = {
        "Colab": f"{COLAB}/{config.slug}/blob/{config.branch}/{path}",
        "Binder": f"{BINDER}/{config.slug}/{config.branch}?labpath={quote(path)}",
    }
    if config.jupyterhub:
        name = config.slug.split("/")[1]
        links["JupyterHub"] = (
            f"{config.jupyterhub}/hub/user-redirect/git-pull?repo={quote(config.public_repository, safe='')}"
            f"&branch={config.branch}&urlpath={quote(f'lab/tree/{name}/{path}', safe='')}"
        )
    return links


# --------------------------------------------------------------------------- #
# The README's topic table
# --------------------------------------------------------------------------- #
RUN_HEADER = "run it"


def sync_readme(text: str, config: CourseConfig | None = None, root: Path = REPO_ROOT) -> str:
    """The README with the last column of its topic table ("run it") rebuilt from the configured address:
    Colab and Binder links (and JupyterHub when set) for each lecture notebook."""
    config = config or load_config(root)
    notebooks = {p.name[:2]: p for p in sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    lines = []
    for line in text.splitlines():
        cells = line.split(" | ")
        number = cells[0].removeprefix("| ").strip() if line.startswith("| ") else ""
        if number in notebooks and len(cells) > 2:
            path = notebooks[number].relative_to(root).as_posix()
            links = " · ".join(f"[{name}]({url})" for name, url in launch_links(path, config).items())
            line = " | ".join(cells[:-1] + [links + " |"])
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--readme"]:
        raise SystemExit("usage: python tools/course_links.py --readme   (rebuild the README's launch links)")
    readme = REPO_ROOT / "README.md"
    readme.write_text(sync_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"launch links in {readme} rebuilt from pyproject.toml")
