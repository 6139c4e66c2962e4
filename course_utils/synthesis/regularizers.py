"""Post-step hooks: operations on the image between gradient steps (Yosinski et al. 2015, sec. 3).

Each function returns a hook ``hook(state)`` for ``optimize(..., post_step=[...])``; the hook edits
the pixels in place (``state.image``, no gradients). ``center`` is the pixel value that plays
the role of zero in the paper (whose images are mean-subtracted): a scalar or ``(1, 3, 1, 1)``,
e.g. the model's normalization mean. Percentiles are per image, in [0, 100].

* :func:`decay`             ``x <- center + (1 - rate)(x - center)``   (L2 decay, theta_decay)
* :func:`blur_every`        Gaussian blur every ``every`` steps        (theta_b_width, theta_b_every)
* :func:`clip_norm`         pixels of small norm set to ``center``     (theta_n_pct)
* :func:`clip_contribution` pixels of small contribution to ``center`` (theta_c_pct)
* :func:`every`             run any hook every ``k`` steps

Adding a hook: any callable ``hook(state: StepState) -> None`` (see :class:`.optimize.StepState`).
"""
from __future__ import annotations

from typing import Callable

import torch

from .transforms import gaussian_blur


def _check_pct(pct: float, name: str) -> None:
    if not 0 <= pct <= 100:
        raise ValueError(f"{name} is a percentile in [0, 100], got {pct}")


def _below_percentile(values: torch.Tensor, pct: float) -> torch.Tensor:
    """``(N, H, W)`` -> boolean mask of the entries below the per-image ``pct`` percentile."""
    flat = values.flatten(1)  # (N, H*W)
    threshold = torch.quantile(flat, pct / 100.0, dim=1)  # (N,)
    return values < threshold.view(-1, 1, 1)


def decay(rate: float, *, center=0.5) -> Callable:
    """L2 decay: shrink the image towards ``center`` by the factor ``1 - rate`` each step."""
    if not 0 <= rate <= 1:
        raise ValueError(f"decay rate must be in [0, 1], got {rate}")

    def hook(state) -> None:
        if rate:
            image = state.image
            image.sub_(center).mul_(1.0 - rate).add_(center)

    return hook


def blur_every(every: int, sigma: float) -> Callable:
    """Blur the image with a Gaussian of ``sigma`` pixels after every ``every``-th step."""
    if every < 0 or sigma < 0:
        raise ValueError(f"blur_every needs every >= 0 and sigma >= 0, got every={every}, sigma={sigma}")

    def hook(state) -> None:
        if every and sigma > 0 and (state.step + 1) % every == 0:
            image = state.image
            image.copy_(gaussian_blur(image, sigma))

    return hook


def clip_norm(pct: float, *, center=0.5) -> Callable:
    """Set the pixels whose colour norm ``||x - center||`` is below the ``pct`` percentile to ``center``."""
    _check_pct(pct, "clip_norm's pct")

    def hook(state) -> None:
        if pct:
            image = state.image
            norms = (image - center).norm(dim=1)  # (N, H, W)
            keep = ~_below_percentile(norms, pct)
            image.copy_(torch.where(keep[:, None], image, torch.as_tensor(center, dtype=image.dtype, device=image.device).expand_as(image)))

    return hook


def clip_contribution(pct: float, *, center=0.5) -> Callable:
    """Set the pixels of small contribution ``|sum_c (x - center) * grad|`` (the first-order change
    of the objective if the pixel were reset to ``center``) below the ``pct`` percentile to ``center``."""
    _check_pct(pct, "clip_contribution's pct")

    def hook(state) -> None:
        if pct:
            image = state.image
            contribution = ((image - center) * state.grad).sum(dim=1).abs()  # (N, H, W)
            keep = ~_below_percentile(contribution, pct)
            image.copy_(torch.where(keep[:, None], image, torch.as_tensor(center, dtype=image.dtype, device=image.device).expand_as(image)))

    return hook


def every(k: int, hook: Callable) -> Callable:
    """Run ``hook`` after every ``k``-th step only."""
    if k < 1:
        raise ValueError(f"every needs k >= 1, got {k}")
    return lambda state: hook(state) if (state.step + 1) % k == 0 else None


__all__ = ["decay", "blur_every", "clip_norm", "clip_contribution", "every"]
