"""Course-wide settings: device choice, FAST and OFFLINE modes, seeding, paths.

Nothing here is read implicitly by the other modules: functions take a ``device``
or a size as an argument and use these helpers only for their *defaults*.

Environment variables
---------------------
``COURSE_FAST=1``     shrink image sizes, iterations and datasets (tests and CI set it).
``COURSE_OFFLINE=1``  never try to download ImageNet weights or datasets.
"""
from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "models" / "weights"

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` is set: small images, few iterations, small datasets."""
    return _env_flag("COURSE_FAST")


def offline_mode() -> bool:
    """True when ``COURSE_OFFLINE`` is set: use the offline models and data only."""
    return _env_flag("COURSE_OFFLINE")


def pick(fast: T, full: T) -> T:
    """Return ``fast`` in FAST mode and ``full`` otherwise, e.g. ``steps = pick(20, 500)``."""
    return fast if fast_mode() else full


def default_device() -> torch.device:
    """The GPU when one is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs) in one call.

    The same notebook then gives the same numbers on the same machine.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with PyTorch's global random generators seeded to ``seed``, then give the
    caller's generator states back (``torch.random.fork_rng``): a function that takes ``seed=``
    is reproducible without reseeding the notebook's own random stream. ``None`` does nothing.

    Example:
        >>> with seeded(0):
        ...     noise = torch.rand(3)  # the same three numbers every time
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def cache_dir() -> Path:
    """Folder for downloaded datasets (``COURSE_CACHE`` or ``~/.cache/course_utils``)."""
    root = os.environ.get("COURSE_CACHE") or Path.home() / ".cache" / "course_utils"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def progress(iterable=None, *, desc: str | None = None, total: int | None = None, **kwargs):
    """A tqdm progress bar for long loops (over a dataset, over batches, over steps).

    Quiet when ``COURSE_PROGRESS=0`` (the test suite sets it). Any extra keyword goes to tqdm.

    Example:
        >>> for batch in progress(batches, desc="codes"):
        ...     ...
    """
    from tqdm.auto import tqdm

    quiet = os.environ.get("COURSE_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}
    return tqdm(iterable, desc=desc, total=total, disable=quiet, leave=False, **kwargs)
