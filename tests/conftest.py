"""Shared fixtures. Tests run in FAST + OFFLINE mode (``make test`` sets both), without progress bars."""
import os

import pytest
import torch

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("COURSE_OFFLINE", "1")
os.environ.setdefault("COURSE_PROGRESS", "0")
# make test runs one worker per CPU (pytest-xdist): each worker, and each kernel it starts, gets its share
# of the CPUs; more threads than cores only make torch wait on itself.
_threads = max(1, min(2, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
os.environ.setdefault("OMP_NUM_THREADS", str(_threads))
torch.set_num_threads(_threads)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each reference-implementation test runs on the CPU, and on CUDA when there is a GPU."""
    return torch.device(request.param)


@pytest.fixture(scope="session")
def shapenet():
    from course_utils import models

    return models.load("shapenet", device="cpu")


@pytest.fixture(scope="session")
def shapes():
    from course_utils.data import make_shapes

    return make_shapes(64, seed=123)
