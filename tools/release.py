#!/usr/bin/env python
"""Regenerate the student release ``assignments/`` from the instructor notebooks in ``solutions/``.

Usage (normally through ``make release``)::

    .venv/bin/python tools/release.py [--force] [--check] [--gradebook [DB]] [ASSIGNMENT ...]

For every assignment folder ``solutions/<ID>/`` (or only the IDs given), ``nbgrader
generate_assignment`` runs in a throw-away course folder (its own copy of the solutions, its own
gradebook, the course's ``nbgrader_config.py``), so nothing but ``assignments/`` is ever written
in the repository. The generated files are then copied to ``assignments/<ID>/``.

Students work in ``assignments/``, so a release never silently overwrites their work:
``assignments/.release-manifest.json`` records the SHA-256 of every file the last release wrote,
and a file that differs both from that record and from the new release (edited since, or not
written by a release) stops the release with its name, before anything is written. ``--force``
(``make release FORCE=1``) overwrites such files anyway. Files a release never wrote (a
student's own notes, checkpoints) are left alone.

``--check`` writes nothing and exits with status 1 when ``assignments/`` is not exactly what a
release would write (the release is out of date, or a file was edited).

``--gradebook [DB]`` also records the assignments (their notebooks, graded cells and points) in
the SQLite gradebook ``DB`` (default: ``gradebook.db`` at the repository root), which
``nbgrader autograde`` needs; it is what ``nbgrader generate_assignment`` would do, without
letting nbgrader write into ``assignments/``.

The release is reproducible byte for byte: nbgrader's output holds no timestamps, and the
manifest is written with sorted keys.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"
COURSE_CONFIG = REPO_ROOT / "nbgrader_config.py"
MANIFEST_NAME = ".release-manifest.json"
# Never copied into a release: editor and Python leftovers.
_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")


class ReleaseError(Exception):
    """The release cannot proceed; the message says why and what to do."""


# --------------------------------------------------------------------------- #
# Running nbgrader in a throw-away course
# --------------------------------------------------------------------------- #
def assignment_ids(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    """The assignments: folders of ``solutions_dir`` that hold a notebook, sorted by name."""
    if not solutions_dir.is_dir():
        return []
    return sorted(
        path.name
        for path in solutions_dir.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and any(path.glob("*.ipynb"))
    )


def nbgrader_env(root: Path) -> dict[str, str]:
    """The environment of an nbgrader command run in course folder ``root``.

    Only the course's config (``root/nbgrader_config.py``) applies: the user's and the
    system's Jupyter config folders are ignored, so the result does not depend on the machine.
    """
    env = dict(os.environ)
    # nbgrader runs `alembic` (the gradebook's migrations) from PATH: the virtual environment's
    # bin/ must come first even when it is not activated (make calls .venv/bin/python).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_NO_CONFIG"] = "1"  # nbgrader still reads nbgrader_config.py in the working folder
    tmp = root / ".tmp"  # JUPYTER_NO_CONFIG makes a blank config folder in TMPDIR: keep it here
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)
    return env


def nbgrader(root: Path, *args: str, check: bool = True,
             timeout: float | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    """Run ``nbgrader ARGS`` in course folder ``root``; raise ``ReleaseError`` on failure if ``check``."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(
        command, cwd=root, env=nbgrader_env(root), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise ReleaseError(
            f"`nbgrader {' '.join(args)}` failed (exit status {result.returncode}) in {root}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result


def limits_config(cell_timeout: int, call_time_limit: float) -> str:
    """Config lines that set a course copy's time limits: nbgrader's per cell (``c.Execute.timeout``)
    and the reference guard's per call of a student's function (``COURSE_CALL_TIME_LIMIT``)."""
    return f"c.Execute.timeout = {cell_timeout}\nimport os\nos.environ['COURSE_CALL_TIME_LIMIT'] = '{call_time_limit:g}'"


def prepare_course(root: Path, ids: list[str], *, extra_config: str = "",
                   solutions_dir: Path = SOLUTIONS_DIR) -> Path:  # fmt: skip
    """Make ``root`` an nbgrader course: the course config (plus ``extra_config`` lines) and a
    copy of the solutions of ``ids`` in ``root/solutions``. Returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    config = [
        "# A throw-away copy of the course, made by tools/release.py.",
        "c = get_config()  # noqa: F821",
        f"load_subconfig({str(COURSE_CONFIG)!r})  # noqa: F821",
        f"c.CourseDirectory.root = {str(root)!r}",
        extra_config,
    ]
    (root / "nbgrader_config.py").write_text("\n".join(config) + "\n")
    for assignment in ids:
        source = solutions_dir / assignment
        if not source.is_dir():
            raise ReleaseError(f"no assignment {assignment!r}: {source} is not a folder")
        shutil.copytree(source, root / "solutions" / assignment, ignore=_IGNORE, dirs_exist_ok=True)
    return root


def generate(root: Path, ids: list[str], *, gradebook: Path | None = None) -> dict[str, bytes]:
    """Run ``nbgrader generate_assignment`` for ``ids`` in the prepared course ``root``.

    The assignments are recorded in ``root``'s gradebook, or in the SQLite file ``gradebook``.
    Returns the content of every generated file, keyed by its path relative to the release
    folder (``"<ID>/<file>"``, with ``/`` separators).
    """
    files: dict[str, bytes] = {}
    db = [f"--db=sqlite:///{Path(gradebook).resolve()}"] if gradebook else []
    for assignment in ids:
        nbgrader(root, "generate_assignment", assignment, "--force", *db)
        release = root / "assignments" / assignment
        for path in sorted(release.rglob("*")):
            if path.is_file():
                files[path.relative_to(root / "assignments").as_posix()] = path.read_bytes()
    return files


def fresh_release(ids: list[str], gradebook: Path | None = None) -> dict[str, bytes]:
    """The files a release of ``ids`` writes, generated in a temporary folder (recorded in
    ``gradebook`` too, when given)."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        root = prepare_course(Path(tmp) / "course", ids)
        return generate(root, ids, gradebook=gradebook)


# --------------------------------------------------------------------------- #
# Comparing with assignments/ and writing it
# --------------------------------------------------------------------------- #
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(assignments_dir: Path | None = None) -> dict[str, str]:
    """``{path: sha256}`` of the files the last release wrote (empty before the first one)."""
    path = (assignments_dir or ASSIGNMENTS_DIR) / MANIFEST_NAME
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text())["files"])


def manifest_bytes(files: dict[str, str]) -> bytes:
    """The manifest file's content: deterministic (sorted keys, no timestamp)."""
    document = {
        "about": "Written by tools/release.py (make release): the SHA-256 of each file the last "
        "release wrote, to detect files edited since. Do not edit.",
        "files": dict(sorted(files.items())),
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


@dataclass
class Plan:
    """What a release would do to ``assignments/``."""

    write: list[str] = field(default_factory=list)  # new or outdated files
    delete: list[str] = field(default_factory=list)  # written by the last release, no longer generated
    conflicts: list[str] = field(default_factory=list)  # edited since the last release
    manifest: dict[str, str] = field(default_factory=dict)  # the manifest after the release
    manifest_changed: bool = False

    @property
    def up_to_date(self) -> bool:
        return not (self.write or self.delete or self.conflicts or self.manifest_changed)


def plan_release(fresh: dict[str, bytes], ids: list[str] | None, assignments_dir: Path) -> Plan:
    """Compare the freshly generated ``fresh`` files with ``assignments_dir``.

    ``ids``: the assignments being released (``None``: all of them, so that the files of an
    assignment removed from ``solutions/`` are deleted too).
    """
    recorded = read_manifest(assignments_dir)
    in_scope = (lambda path: True) if ids is None else (lambda path: path.split("/", 1)[0] in ids)  # noqa: E731
    plan = Plan(manifest={path: digest for path, digest in recorded.items() if not in_scope(path)})
    for path, data in sorted(fresh.items()):
        target = assignments_dir / path
        plan.manifest[path] = sha256(data)
        if not target.exists():
            plan.write.append(path)
            continue
        current = sha256(target.read_bytes())
        if current == sha256(data):
            continue
        if recorded.get(path) == current:
            plan.write.append(path)  # still what the last release wrote: safe to replace
        else:
            plan.conflicts.append(path)
    for path, digest in sorted(recorded.items()):
        if in_scope(path) and path not in fresh and (assignments_dir / path).exists():
            if sha256((assignments_dir / path).read_bytes()) == digest:
                plan.delete.append(path)
            else:
                plan.conflicts.append(path)
    manifest_file = assignments_dir / MANIFEST_NAME
    new_manifest = manifest_bytes(plan.manifest)
    plan.manifest_changed = not manifest_file.exists() or manifest_file.read_bytes() != new_manifest
    return plan


def apply_release(plan: Plan, fresh: dict[str, bytes], assignments_dir: Path) -> None:
    """Write the plan: conflicting files are overwritten (or deleted) too, so check them first."""
    for path in sorted(set(plan.write) | {p for p in plan.conflicts if p in fresh}):
        target = assignments_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fresh[path])
    for path in sorted(set(plan.delete) | {p for p in plan.conflicts if p not in fresh}):
        target = assignments_dir / path
        target.unlink()
        for parent in target.parents:  # remove folders the deletion left empty
            if parent == assignments_dir or any(parent.iterdir()):
                break
            parent.rmdir()
    if plan.manifest_changed:
        assignments_dir.mkdir(parents=True, exist_ok=True)
        (assignments_dir / MANIFEST_NAME).write_bytes(manifest_bytes(plan.manifest))


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="assignment IDs (folders of solutions/); default: all")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="overwrite files of assignments/ edited since the last release")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit with status 1 if assignments/ is not up to date")  # fmt: skip
    parser.add_argument("--gradebook", nargs="?", const=REPO_ROOT / "gradebook.db", type=Path, metavar="DB",
                        help="also record the assignments in this SQLite gradebook, for nbgrader autograde "
                        "(default: gradebook.db at the repository root)")  # fmt: skip
    args = parser.parse_args(argv)

    known = assignment_ids()
    unknown = [a for a in args.assignments if a not in known]
    if unknown:
        print(f"release: unknown assignment(s) {', '.join(unknown)}; "
              f"the folders of {_relative(SOLUTIONS_DIR)}/ are: {', '.join(known) or 'none'}",
              file=sys.stderr)  # fmt: skip
        return 2
    ids = args.assignments or known
    try:
        fresh = fresh_release(ids, args.gradebook)
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    assignments_dir = ASSIGNMENTS_DIR  # read here, not at import: tests point it elsewhere
    plan = plan_release(fresh, args.assignments or None, assignments_dir)
    show = lambda paths: "\n".join(f"  {_relative(assignments_dir / p)}" for p in paths)  # noqa: E731

    if args.check:
        if plan.up_to_date:
            print(f"release: {_relative(assignments_dir)}/ is up to date ({len(fresh)} files)")
            return 0
        for label, paths in (("out of date", plan.write), ("no longer released", plan.delete),
                             ("edited since the last release", plan.conflicts)):  # fmt: skip
            if paths:
                print(f"release: {label}:\n{show(paths)}", file=sys.stderr)
        if plan.manifest_changed and not (plan.write or plan.delete or plan.conflicts):
            print(f"release: {MANIFEST_NAME} is out of date", file=sys.stderr)
        print("release: run `make release` to update assignments/", file=sys.stderr)
        return 1

    if plan.conflicts and not args.force:
        print(
            "release: refusing to overwrite these files, edited since the last release "
            f"(or not written by a release):\n{show(plan.conflicts)}\n"
            "Nothing was written. Save your work elsewhere, or overwrite it with: make release FORCE=1",
            file=sys.stderr,
        )
        return 1
    apply_release(plan, fresh, assignments_dir)
    done = (("wrote", plan.write), ("deleted", plan.delete), ("overwrote (--force)", plan.conflicts))
    for label, paths in done:
        if paths:
            print(f"release: {label}:\n{show(paths)}")
    if plan.up_to_date:
        print(f"release: {_relative(assignments_dir)}/ was already up to date ({len(fresh)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
