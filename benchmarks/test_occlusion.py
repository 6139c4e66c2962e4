"""Occlusion maps (lecture 05): overhead over the bare batched forward, and Captum's ``Occlusion``.

* ``attribution.occlusion`` divided by the bare forward of the same occluded images, prebuilt and
  sent through the model in the same batches (target <= 1.05): building the occluded batches on
  the fly must cost next to nothing. The target classes are given, so neither side spends a
  forward pass on the unoccluded images (with ``target=None`` that costs ``1 / windows`` more).
* Captum's ``Occlusion`` at the same window, stride and baseline (softmax-wrapped forward, so it
  computes the same probabilities), at its default ``perturbations_per_eval=1`` and at its best
  batch size among a few (target: ours faster than both).

Models: ShapeNet at 64 px; ResNet-18 with random weights at 224 px (9 windows on the CPU; on a
GPU the 729 windows of one image), and VGG-16 on a GPU only. Timings are medians of interleaved
runs; only generous ceilings are asserted.
"""
import pytest
import torch
from timing import bench_device, interleaved

from course_utils import attribution, models
from course_utils.attribution.occlusion import _default_batch_size
from course_utils.data import make_shapes

BASELINE = 0.5


def _captum(model, images, targets, window, stride, per_eval):
    from captum.attr import Occlusion

    forward = lambda x: model(x).softmax(1)  # noqa: E731
    return lambda: Occlusion(forward).attribute(
        images, sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
        baselines=BASELINE, target=targets, perturbations_per_eval=per_eval,
    )  # fmt: skip


def _cases(device):
    cuda = device.type == "cuda"
    yield "shapenet", 64, (64 if cuda else 1), 16, (4 if cuda else 8)  # 13 x 13 (GPU) or 7 x 7 windows per image
    yield "resnet18", 224, 1, (16 if cuda else 112), (8 if cuda else 56)  # 27 x 27 (GPU) or 3 x 3 windows
    if cuda:
        yield "vgg16", 224, 1, 16, 8


@pytest.mark.parametrize("case", range(3))
def test_occlusion_speed(case, record):
    device = bench_device()
    cases = list(_cases(device))
    if case >= len(cases):
        pytest.skip("VGG-16 at 224 px is benchmarked on a GPU only (too slow for the CPU budget)")
    name, side, count, window, stride = cases[case]
    model = models.load(name, weights="random" if name != "shapenet" else "auto", device=device)
    images = make_shapes(count, size=side, seed=3).images.to(device)
    with torch.no_grad():
        targets = model(images).argmax(1)
    assert (side - window) % stride == 0  # Captum slides the same windows (no truncated last one)
    positions = ((side - window) // stride + 1) ** 2
    batch = _default_batch_size(images)
    occluded = attribution.occlude(images, window=window, stride=stride, baseline=BASELINE).flatten(0, 2)

    def bare():
        with torch.no_grad():
            for start in range(0, len(occluded), batch):
                model(occluded[start : start + batch])

    fns = {
        "ours": lambda: attribution.occlusion(model, images, targets, window=window, stride=stride, baseline=BASELINE),
        "bare": bare,
        "captum_1": _captum(model, images, targets, window, stride, 1),
    }
    sizes = sorted({min(size, positions) for size in (16, 64, 256)})
    for size in sizes:
        fns[f"captum_{size}"] = _captum(model, images, targets, window, stride, size)
    heavy = name != "shapenet" and device.type == "cpu"
    times = interleaved(fns, repeats=2 if heavy else 3, warmup=1, device=device)
    best_size = min(sizes, key=lambda size: times[f"captum_{size}"])
    overhead = times["ours"] / times["bare"]
    default_ratio = times["captum_1"] / times["ours"]
    best_ratio = times[f"captum_{best_size}"] / times["ours"]
    label = f"occlusion {name} {side}px, {count} image(s) x {positions} windows"
    record(f"{label}: time / bare batched forward", f"{overhead:.3f} (batch {batch})", "<= 1.05")
    record(f"{label}: Captum ppe=1 / ours", f"{default_ratio:.1f}x", "> 1")
    record(f"{label}: Captum best ppe / ours", f"{best_ratio:.2f}x (ppe={best_size})", "> 1")
    assert overhead < 1.5
    assert default_ratio > 1 and best_ratio > 0.8
