"""Timing helpers shared by the benchmarks: medians of repeated runs, synchronized on CUDA."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def seconds(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1, device=None) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs, after ``warmup`` runs.

    On CUDA the device is synchronized around each run, so queued kernels are counted.
    """
    device = torch.device(device) if device is not None else None
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], *, repeats: int = 5, warmup: int = 1, device=None) -> dict:
    """Median seconds of several functions timed in turn (A, B, A, B, ...), so that a busy
    machine slows them alike and their ratios stay meaningful."""
    device = torch.device(device) if device is not None else None
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_device() -> torch.device:
    """The device benchmarks run on: CUDA when there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_label(device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"
