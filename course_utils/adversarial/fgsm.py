"""The fast gradient sign method (Goodfellow, Shlens & Szegedy 2015) and the accuracy-vs-epsilon curve
(of FGSM, or of PGD: :func:`course_utils.adversarial.pgd`)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .. import config, hooks
from ..imaging import check_images
from ._common import loss_labels as _labels
from ._common import check_epsilon, input_gradient, resolve_target
from .pgd import pgd

__all__ = ["fgsm", "accuracy_under_attack"]


def fgsm(model, images: torch.Tensor, labels, epsilon: float = 8 / 255) -> torch.Tensor:
    """Untargeted FGSM: ``x' = clamp(x + epsilon * sign(d CE(f(x), y) / dx), 0, 1)``.

    Goodfellow et al. 2015, eq. (3): one step of size ``epsilon`` along the sign of the
    gradient of the cross-entropy loss, in pixel space (the model normalizes internally).

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1]; it is not changed.
        images: ``(N, 3, H, W)`` in [0, 1].
        labels: the labels ``y`` the loss is taken against, ``(N,)`` class indices (or one
            index or class name for all). Passing the *true* labels is the textbook attack;
            ``None`` uses the model's own predictions instead, which needs no ground truth and
            avoids "label leaking" (Kurakin et al. 2017) when the result is used for training.
            The two differ on images the model gets wrong.
        epsilon: the L-infinity step in pixel units, default 8/255.

    Returns:
        adversarial images ``(N, 3, H, W)`` in [0, 1], ``|x' - x| <= epsilon`` everywhere.

    Example:
        >>> adversarial = fgsm(model, images, labels, 8 / 255)
        >>> (model(adversarial).argmax(1) == labels).float().mean()  # accuracy drops
    """
    check_images(images)
    epsilon = check_epsilon(epsilon)
    with hooks.eval_mode(model), hooks.frozen(model):
        targets = _labels(model, images, labels)
        gradient, _ = input_gradient(model, images, lambda logits: F.cross_entropy(logits, targets, reduction="sum"))
    return (images + epsilon * gradient.sign()).clamp(0, 1).detach()


def accuracy_under_attack(
    model,
    images: torch.Tensor,
    labels,
    epsilons: Sequence[float],
    *,
    attack_labels: str = "true",
    batch_size: int = 256,
    attack: str = "fgsm",
    steps: int = 10,
    step_size: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Accuracy of ``model`` on attacked images for each epsilon: the points of the robustness curve.

    Args:
        model, images: as for :func:`fgsm`.
        labels: the true labels ``(N,)``; accuracy is always measured against them.
        epsilons: pixel-unit step sizes, e.g. ``[0, 1/255, 2/255, 4/255, 8/255]`` (0 gives the clean accuracy).
        attack_labels: ``"true"`` attacks with the true labels (default), ``"predicted"`` with
            the model's own predictions (``labels=None`` in :func:`fgsm`).
        batch_size: images per forward/backward pass.
        attack: ``"fgsm"`` (default; one gradient serves every epsilon) or ``"pgd"``
            (:func:`course_utils.adversarial.pgd` run for each epsilon, from a random start).
        steps, step_size, seed: PGD only: ``steps`` steps of ``step_size`` (default ``epsilon / 4``,
            2/255 at 8/255, Madry et al.'s ratio of step to radius for 10 steps), random start seeded by ``seed``.

    Returns:
        ``(len(epsilons),)`` float tensor on the CPU, accuracies in [0, 1].

    Example:
        >>> accuracy_under_attack(model, images, labels, [0, 2 / 255, 8 / 255])
        tensor([0.99, 0.61, 0.08])  # doctest: +SKIP
    """
    check_images(images)
    if attack_labels not in ("true", "predicted"):
        raise ValueError(f"attack_labels must be 'true' or 'predicted', got {attack_labels!r}")
    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"attack must be 'fgsm' or 'pgd', got {attack!r}")
    if step_size is not None:
        step_size = check_epsilon(step_size, "step_size")
    epsilons = [check_epsilon(e, "every epsilon") for e in epsilons]
    if not epsilons:
        raise ValueError("epsilons is empty; pass at least one value, e.g. [0, 8/255]")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    labels = resolve_target(model, labels, len(images), images.device)
    correct = torch.zeros(len(epsilons))
    starts = range(0, len(images), batch_size)
    for start in config.progress(starts, desc=attack.upper(), total=len(starts)):
        batch, truth = images[start : start + batch_size], labels[start : start + batch_size]
        with hooks.eval_mode(model), hooks.frozen(model):
            attack_with = truth if attack_labels == "true" else _labels(model, batch, None)
            if attack == "pgd":
                for index, epsilon in enumerate(epsilons):
                    size = epsilon / 4 if step_size is None else step_size
                    adversarial = batch if epsilon == 0 else pgd(model, batch, attack_with, epsilon=epsilon, step_size=size, steps=steps, seed=seed + start)
                    with torch.no_grad():
                        correct[index] += (model(adversarial).argmax(dim=1) == truth).sum().item()
                continue
            gradient, _ = input_gradient(model, batch, lambda logits: F.cross_entropy(logits, attack_with, reduction="sum"))
            with torch.no_grad():
                for index, epsilon in enumerate(epsilons):  # one gradient serves every epsilon
                    adversarial = (batch + epsilon * gradient.sign()).clamp(0, 1)
                    correct[index] += (model(adversarial).argmax(dim=1) == truth).sum().item()
    return correct / max(len(images), 1)
