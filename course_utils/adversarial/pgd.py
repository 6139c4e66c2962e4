"""Projected gradient descent (Madry, Makelov, Schmidt, Tsipras & Vladu 2018) in an L-infinity ball."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import config, hooks
from ..imaging import check_images
from ._common import check_epsilon, input_gradient, loss_labels

__all__ = ["pgd", "success_rate"]


def pgd(
    model,
    images: torch.Tensor,
    labels=None,
    *,
    epsilon: float = 8 / 255,
    step_size: float = 2 / 255,
    steps: int = 10,
    random_start: bool = True,
    targeted: bool = False,
    seed: int = 0,
) -> torch.Tensor:
    """PGD: ``steps`` signed gradient steps on the cross-entropy, each projected back into the ball.

    Madry et al. 2018, eq. (2): ``x_{t+1} = P(x_t + step_size * sign(d CE(f(x_t), y) / dx))``, where
    ``P`` clips to the L-infinity ball of radius ``epsilon`` around the input and to [0, 1] (pixel
    space; the model normalizes internally). It is FGSM (:func:`fgsm`) repeated with a smaller step,
    from a uniformly random point of the ball. A targeted attack *descends* the loss of the target.

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1]; it is not changed (its train/eval
            mode and ``requires_grad`` flags are restored, no parameter ``.grad`` is written).
        images: ``(N, 3, H, W)`` in [0, 1].
        labels: untargeted: the labels pushed away from, ``(N,)`` class indices (or one index or
            class name for all); ``None`` uses the model's own predictions (no label leaking, see
            :func:`fgsm`). Targeted: the target classes (required).
        epsilon: radius of the L-infinity ball in pixel units (default 8/255).
        step_size: size of each signed step in pixel units (default 2/255).
        steps: number of steps (default 10; 0 returns the random start).
        random_start: start from ``clip(x + U(-epsilon, epsilon), 0, 1)`` instead of ``x``.
        targeted: make the model say ``labels`` instead of moving away from them.
        seed: seeds the random start (inside :func:`config.seeded`: the caller's RNG is untouched).

    Returns:
        adversarial images ``(N, 3, H, W)`` in [0, 1], ``|x' - x| <= epsilon`` everywhere.

    Example:
        >>> adversarial_images = pgd(model, images)  # 8/255, 10 steps of 2/255
        >>> (model(adversarial_images).argmax(1) != model(images).argmax(1)).float().mean()  # flipped
    """
    check_images(images)
    epsilon = check_epsilon(epsilon)
    step_size = check_epsilon(step_size, "step_size")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if targeted and labels is None:
        raise ValueError("a targeted attack needs labels: the target classes, one per image or one for all")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    images = images.detach()
    direction = -1.0 if targeted else 1.0  # targeted: descend the target's loss
    with hooks.eval_mode(model), hooks.frozen(model):
        targets = loss_labels(model, images, labels)  # (N,)
        adversarial = images.clone()
        if random_start:
            with config.seeded(seed):
                noise = torch.empty_like(images).uniform_(-epsilon, epsilon)  # (N, 3, H, W)
            adversarial = (adversarial + noise).clamp(0, 1)
        for _ in config.progress(range(steps), desc="PGD"):
            gradient, _ = input_gradient(model, adversarial, lambda logits: F.cross_entropy(logits, targets, reduction="sum"))
            adversarial = adversarial + direction * step_size * gradient.sign()
            delta = (adversarial - images).clamp(-epsilon, epsilon)  # project onto the ball ...
            adversarial = (images + delta).clamp(0, 1)  # ... and onto the valid pixels
    return adversarial.detach()


def success_rate(model, adversarial_images: torch.Tensor, labels, *, targeted: bool = False) -> float:
    """The share of ``adversarial_images`` on which an attack succeeded, a float in [0, 1].

    Untargeted: the model's answer differs from ``labels`` (the true labels, or the clean answers);
    targeted: the answer equals ``labels`` (the targets). Pass only images the model got right
    to read it as the attack's success rate rather than an error rate.
    """
    check_images(adversarial_images, "adversarial_images")
    labels = loss_labels(model, adversarial_images, labels) if labels is not None else None
    if labels is None:
        raise ValueError("success_rate needs labels: the true labels (untargeted) or the targets (targeted)")
    with torch.no_grad(), hooks.eval_mode(model):
        answers = model(adversarial_images).argmax(dim=1)  # (N,)
    hits = answers == labels if targeted else answers != labels
    return hits.float().mean().item()
