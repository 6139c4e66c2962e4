#!/usr/bin/env python
"""Run the notebooks' ImageNet code paths on a machine without ImageNet weights (a smoke test).

Offline, every notebook falls back to ShapeNet or TextureNet, so the branches written for
torchvision's ImageNet models (AlexNet, VGG-19, ...) never run there. This script writes
torchvision checkpoints with *random* weights into a temporary ``TORCH_HOME``, under the file
names torchvision looks for, so that ``models.load(...)`` takes the ImageNet path; then it
executes the lecture notebooks in FAST mode with ``tools/build_site.py``. It checks only that the
code runs end to end: with random weights the pictures and numbers mean nothing (fooling, for
one, cannot reach 99 % on a network that answers 1/1000 for every class).

Usage::

    .venv/bin/python tools/smoke_imagenet_paths.py [--only PATTERN] [--keep DIR]

The exit status is build_site's: 0 when every notebook ran.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_random_checkpoints(torch_home: Path) -> list[str]:
    """A random-weight state dict for every ImageNet model of the course, where torch.hub caches it."""
    os.environ["TORCH_HOME"] = str(torch_home)
    import torch

    from course_utils.models.registry import IMAGENET_MODELS

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in IMAGENET_MODELS.values():
        path = folder / os.path.basename(spec.weights.url)
        torch.save(spec.builder(weights=None, **(spec.extra or {})).state_dict(), path)
        written.append(path.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run only the notebooks whose name contains this (build_site's --only)")
    parser.add_argument("--keep", type=Path, help="keep the executed notebooks in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="course-smoke-") as scratch:
        scratch = Path(scratch)
        print("random-weight checkpoints:", ", ".join(write_random_checkpoints(scratch / "torch")))
        out = args.keep or scratch / "build"
        env = {**os.environ, "TORCH_HOME": str(scratch / "torch"), "COURSE_FAST": "1", "COURSE_OFFLINE": "1"}
        command = [sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)]
        if args.only:
            command += ["--only", args.only]
        return subprocess.call(command, env=env, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
