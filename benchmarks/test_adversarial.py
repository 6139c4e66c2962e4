"""Lecture 14 benchmarks: a fooling step, a PGD step and FGSM against bare forward+backward passes.

FGSM is compared in the same run with torchattacks' FGSM (``make venv`` installs it without its
dependencies: it pins an old ``requests`` that it never imports) and with a plain hand-written FGSM.
Ratios are measured interleaved (A, B, A, B, ...) so that a busy machine slows both alike.
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils import adversarial, hooks, models
from course_utils.data import make_shapes

sys.path.insert(0, str(Path(__file__).parent))
from timing import bench_device, interleaved  # noqa: E402

STEPS = 4


def _setup(n: int = 64):
    device = bench_device()
    model = models.load("shapenet", device=device)
    batch = make_shapes(n, seed=0)
    return model, batch.images.to(device), batch.labels.to(device), device


def _bare_forward_backward(model, images, targets):
    """One forward and one backward pass to the input, parameters frozen: the floor of any step."""
    with hooks.frozen(model):
        x = images.detach().requires_grad_(True)
        log_p = model(x).log_softmax(dim=1).gather(1, targets[:, None]).sum()
        return torch.autograd.grad(log_p, x)[0]


def _hand_written_fgsm(model, images, labels, epsilon):
    with hooks.frozen(model):
        x = images.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
        return (images + epsilon * gradient.sign()).clamp(0, 1)


def test_fooling_step_vs_forward_backward(record, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    model, images, labels, device = _setup(32)
    model.eval()
    targets = (labels + 1) % len(model.classes)
    # confidence close to 1: no image finishes, so each run makes STEPS steps and STEPS + 1 gradient passes
    fool = lambda: adversarial.fool(model, images, targets, max_steps=STEPS, confidence=1 - 1e-12, restarts=0)  # noqa: E731
    bare = lambda: [_bare_forward_backward(model, images, targets) for _ in range(STEPS + 1)]  # noqa: E731
    times = interleaved({"fool": fool, "bare": bare}, repeats=5, device=device)
    ratio = times["fool"] / times["bare"]
    record("adversarial: fooling step / forward+backward (32 images, 64 px)", f"{ratio:.2f}x", "<= 1.10", device=device)
    assert ratio < 2.0  # generous ceiling: timings on a shared machine are noisy


def test_fgsm_vs_torchattacks_and_hand_written(record):
    model, images, labels, device = _setup(64)
    model.eval()
    attacks = {
        "course_utils": lambda: adversarial.fgsm(model, images, labels, 8 / 255),
        "hand-written": lambda: _hand_written_fgsm(model, images, labels, 8 / 255),
    }
    try:
        import torchattacks

        attacks["torchattacks"] = lambda: torchattacks.FGSM(model, eps=8 / 255)(images, labels)
    except ImportError:  # optional (see the module docstring)
        pass
    results = {name: attack() for name, attack in attacks.items()}
    assert all(torch.equal(results["course_utils"], result) for result in results.values())
    times = interleaved(attacks, repeats=5, device=device)
    others = ", ".join(f"{name} {times['course_utils'] / times[name]:.2f}x" for name in attacks if name != "course_utils")
    record(
        "adversarial: FGSM / other FGSM (64 images)",
        f"{others} ({len(images) / times['course_utils']:,.0f} images/s)",
        "<= 1.10",
        device=device,
    )
    assert all(times["course_utils"] / times[name] < 2.0 for name in attacks)


def _bare_cross_entropy_pass(model, images, labels):
    """One forward and one backward pass of the cross-entropy to the input, parameters frozen."""
    with hooks.frozen(model):
        x = images.detach().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)[0]


def test_pgd_step_vs_forward_backward(record, monkeypatch):
    """PGD with STEPS steps (labels given, so no extra forward for the model's answers) against
    STEPS bare forward+backward passes of the same loss: what the random start, the signed step
    and the projection cost on top of the gradient."""
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    model, images, labels, device = _setup(32)
    model.eval()
    pgd = lambda: adversarial.pgd(model, images, labels, epsilon=8 / 255, step_size=2 / 255, steps=STEPS)  # noqa: E731
    bare = lambda: [_bare_cross_entropy_pass(model, images, labels) for _ in range(STEPS)]  # noqa: E731
    times = interleaved({"pgd": pgd, "bare": bare}, repeats=5, device=device)
    ratio = times["pgd"] / times["bare"]
    per_step = times["pgd"] / STEPS * 1000
    record(
        "adversarial: PGD step / forward+backward (32 images, 64 px)",
        f"{ratio:.2f}x ({per_step:.1f} ms per step, bare {times['bare'] / STEPS * 1000:.1f} ms)",
        "<= 1.10",
        device=device,
    )
    assert ratio < 2.0  # generous ceiling: timings on a shared machine are noisy
