"""Pieces the attacks share: resolving class targets and the gradient of a loss on the input."""
from __future__ import annotations

from typing import Callable

import torch

from ..targets import Target, resolve_targets


def resolve_target(model, target: Target, count: int, device: torch.device) -> torch.Tensor:
    """One class index per image, ``(count,)`` int64 on ``device`` (:func:`course_utils.targets.resolve_targets`)."""
    return resolve_targets(model, target, count, device)


def loss_labels(model, images: torch.Tensor, labels) -> torch.Tensor:
    """The labels an attack takes its loss against: the given ones (index, name, or one per image),
    or the model's own predictions for ``None``; ``(N,)`` int64 on the images' device."""
    if labels is None:
        with torch.no_grad():
            return model(images).argmax(dim=1)  # (N,)
    return resolve_target(model, labels, len(images), images.device)


def input_gradient(model, images: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]):
    """``(d loss / d images, logits)``: one forward and one backward pass, to the input only.

    ``loss_fn`` maps the logits ``(N, K)`` to a scalar. The caller holds the model in
    ``hooks.eval_mode`` and ``hooks.frozen``, so no parameter gradient is computed or stored.
    """
    with torch.enable_grad():
        images = images.detach().requires_grad_(True)
        logits = model(images)  # (N, K)
        (gradient,) = torch.autograd.grad(loss_fn(logits), images)
    return gradient, logits.detach()


def check_epsilon(epsilon, name: str = "epsilon") -> float:
    """A finite, non-negative epsilon in pixel units (a float; 8/255 is a common choice)."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon >= 0 or epsilon == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0 in pixel units (e.g. 8/255), got {epsilon!r}")
    return float(epsilon)
