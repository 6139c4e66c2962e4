"""Pieces the attacks share: resolving class targets and the gradient of a loss on the input."""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch

Target = Union[int, str, Sequence, torch.Tensor]


def resolve_target(model, target: Target, count: int, device: torch.device) -> torch.Tensor:
    """One class index per image, ``(count,)`` int64 on ``device``.

    ``target`` is a class index, a class name of ``model.classes``, or one of those per image
    (a list or a ``(count,)`` tensor). Unknown names and out-of-range indices raise an error
    that lists what is accepted.
    """
    classes = list(getattr(model, "classes", []) or [])

    def one(value) -> int:
        if isinstance(value, str):
            if value not in classes:
                valid = ", ".join(classes) if classes else "(this model has no class names; pass indices)"
                raise ValueError(f"unknown class name {value!r}; valid class names are: {valid}")
            return classes.index(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a target must be a class index (int) or a class name (str), got {value!r}")
        if classes and not 0 <= value < len(classes):
            raise ValueError(f"class index {value} is out of range; {model.name if hasattr(model, 'name') else 'the model'} has classes 0..{len(classes) - 1}")
        if value < 0:
            raise ValueError(f"class index must be >= 0, got {value}")
        return value

    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.ndim > 1:
            raise TypeError(f"a target tensor must hold integer class indices, shape ({count},); got {target.dtype} {tuple(target.shape)}")
        target = target.tolist()
    if isinstance(target, (int, str)) and not isinstance(target, bool):
        indices = [one(target)] * count
    else:
        indices = [one(value) for value in target]
        if len(indices) != count:
            raise ValueError(f"got {len(indices)} targets for {count} images; pass one per image or a single class")
    return torch.tensor(indices, dtype=torch.int64, device=device)


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
