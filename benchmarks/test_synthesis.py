"""Lectures 09-10: one step of the image-optimization loop against a bare forward+backward.

``synthesis.optimize`` runs ``STEPS`` steps (jitter before the model, the normalized update, clamping, a
Gaussian blur every 4 steps as in the class-model recipe); its time per step
is divided by the time of one bare forward+backward of the same model and batch
(``torch.autograd.grad`` of the summed class scores with respect to the images), timed interleaved in
the same run. The Adam update and the Fourier parameterization (with its random pad, jitter, scale and
rotation) are reported beside it.

Setting: on a GPU, VGG-16 (random weights: speed does not depend on them), batch 16 at 224 px; on the
CPU, ShapeNet at 64 px, batch 16. Target: <= 1.10x. The assert holds a generous ceiling (1.5x on a
GPU, 2x on a CPU) so that a busy machine does not fail the benchmark.
"""
import pytest
import torch
from timing import bench_device, interleaved

from course_utils import models, synthesis
from course_utils.synthesis import regularizers

CUDA = bench_device().type == "cuda"
NAME, BATCH, SIZE = ("vgg16", 16, 224) if CUDA else ("shapenet", 16, 64)
STEPS = 20 if CUDA else 5


def test_optimizer_step_overhead(record, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    device = bench_device()
    model = models.load(NAME, weights="random", device=device)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(BATCH, 3, SIZE, SIZE, generator=generator).to(device)
    targets = torch.randint(len(model.classes), (BATCH,), generator=generator)
    index = targets.to(device)[:, None]
    objective = synthesis.class_score(targets.tolist())

    def bare():
        for _ in range(STEPS):
            x = images.detach().requires_grad_(True)
            torch.autograd.grad(model(x).gather(1, index).sum(), x)

    def step(optimizer="normalized", param=None, transforms=None):
        return lambda: synthesis.optimize(
            model, objective, param=images if param is None else param(), steps=STEPS, optimizer=optimizer,
            transforms=[synthesis.jitter(SIZE // 16)] if transforms is None else transforms,
            post_step=[regularizers.blur_every(4, 0.5)] if param is None else [],
        )

    functions = {
        "bare": bare,
        "step": step(),
        "adam": step("adam"),
        "fourier": step("adam", lambda: synthesis.fourier_image(SIZE, batch=BATCH, device=device),
                        synthesis.transforms.standard(SIZE // 16)),
    }
    times = interleaved(functions, repeats=7 if CUDA else 3, warmup=1, device=device)
    ratios = {key: times[key] / times["bare"] for key in functions if key != "bare"}
    setting = f"{NAME} random weights, batch {BATCH} at {SIZE} px, bare pass {times['bare'] / STEPS * 1e3:.1f} ms"
    record(
        "synthesis step (jitter, blur) / bare forward+backward",
        f"{ratios['step']:.3f}x (Adam {ratios['adam']:.3f}x; Fourier + transforms {ratios['fourier']:.3f}x; {setting})",
        "<= 1.10x",
    )
    ceiling = 1.5 if CUDA else 2.0
    assert ratios["step"] < ceiling, ratios


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q", "-s"])
