"""Shared fixtures. Tests run in FAST + OFFLINE mode (``make test`` sets both)."""
import os

import pytest
import torch

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("COURSE_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shapenet():
    from course_utils import models

    return models.load("shapenet", device="cpu")


@pytest.fixture(scope="session")
def shapes():
    from course_utils.data import make_shapes

    return make_shapes(64, seed=123)
