"""Speed benchmarks (``make bench``). They print throughputs; targets are in benchmarks/README.md.

Not part of ``make test``: timings depend on the machine and on what else runs on it.
"""
import time

import torch


from course_utils import data, models


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} images/s"


def test_synthetic_generation_speed():
    data.make_shapes(64)  # warm the background bank
    start = time.perf_counter()
    data.make_shapes(10_000, seed=0)
    elapsed = time.perf_counter() - start
    print(f"\nmake_shapes(10_000): {elapsed:.1f} s ({_rate(10_000, elapsed)})")
    assert elapsed < 30


def test_shapenet_inference_speed():
    model = models.load("shapenet")
    images = data.make_shapes(2048, seed=1).images.to(model.device)
    with torch.no_grad():
        model(images[:64])
        start = time.perf_counter()
        for i in range(0, len(images), 256):
            model(images[i : i + 256])
    elapsed = time.perf_counter() - start
    print(f"\nShapeNet inference on {model.device}: {_rate(len(images), elapsed)}")
