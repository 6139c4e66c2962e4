"""Transforms: small differentiable maps ``(N, 3, H, W) -> (N, 3, H', W')`` applied to the image
before the model at every step of the loop.

Random transforms (jitter, scale, rotate) make the optimized image work under small shifts and
zooms, which removes much of the high-frequency noise that fools a network (Mordvintsev et al.
2015; Olah et al. 2017). Gradients flow back through them, so a random roll is automatically
"un-rolled" in the gradient. Randomness comes from torch's CPU generator
(:func:`course_utils.config.seed_everything` makes it reproducible) and never syncs a GPU.

Adding a transform: any callable ``images -> images`` built from differentiable torch ops, e.g.
``lambda x: x.flip(-1)``. :func:`gaussian_blur` is also used, without gradients, by the
post-step regularizers (:mod:`.regularizers`).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..imaging import gaussian_blur

Transform = Callable[[torch.Tensor], torch.Tensor]


def _randint(low: int, high: int) -> int:
    """An int in [low, high] from the CPU generator."""
    return int(torch.randint(low, high + 1, (1,)).item())


def _choice(values: Sequence[float]) -> float:
    return float(values[_randint(0, len(values) - 1)])


def jitter(pixels: int) -> Transform:
    """Roll the image by a random shift in ``[-pixels, pixels]`` along each axis (wraps around).

    The DeepDream/Simonyan jitter: the gradient is rolled back by autograd.
    """
    if pixels < 0:
        raise ValueError(f"jitter takes a non-negative number of pixels, got {pixels}")

    def roll(images: torch.Tensor) -> torch.Tensor:
        if pixels == 0:
            return images
        return torch.roll(images, shifts=(_randint(-pixels, pixels), _randint(-pixels, pixels)), dims=(2, 3))

    return roll


def pad(pixels: int, *, mode: str = "reflect", value: float = 0.5) -> Transform:
    """Pad each side by ``pixels`` (``mode`` of ``torch.nn.functional.pad``; grey for "constant")."""

    def apply(images: torch.Tensor) -> torch.Tensor:
        kwargs = {"value": value} if mode == "constant" else {}
        return F.pad(images, (pixels,) * 4, mode=mode, **kwargs)

    return apply


def blur(sigma: float) -> Transform:
    """A (deterministic) Gaussian blur of the model's input; see :func:`gaussian_blur`."""
    return lambda images: gaussian_blur(images, sigma)


def _affine(images: torch.Tensor, scale: float, angle: float) -> torch.Tensor:
    """Zoom by ``scale`` and rotate by ``angle`` degrees about the centre; same output size."""
    radians = math.radians(angle)
    cos, sin = math.cos(radians) / scale, math.sin(radians) / scale
    theta = images.new_tensor([[cos, -sin, 0.0], [sin, cos, 0.0]]).expand(images.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_scale(scales: Sequence[float] = (0.95, 1.0, 1.05)) -> Transform:
    """Zoom by a factor drawn from ``scales`` (bilinear, same size, reflected border)."""
    return lambda images: _affine(images, _choice(scales), 0.0)


def random_rotate(degrees: Sequence[float] = tuple(range(-5, 6))) -> Transform:
    """Rotate by an angle (degrees) drawn from ``degrees`` about the centre."""
    return lambda images: _affine(images, 1.0, _choice(degrees))


def compose(*transforms: Transform) -> Transform:
    """Apply ``transforms`` left to right."""

    def apply(images: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            images = transform(images)
        return images

    return apply


def standard(pixels: int = 4) -> list[Transform]:
    """The robustness transforms of Olah et al. (2017), scaled to the image: pad, jitter, scale,
    rotate, jitter. ``pixels`` is the first jitter (about 1/16 of the image side)."""
    return [pad(pixels), jitter(pixels), random_scale((0.9, 0.95, 1.0, 1.05, 1.1)),
            random_rotate(tuple(range(-10, 11))), jitter(max(1, pixels // 2))]


__all__ = ["gaussian_blur", "jitter", "pad", "blur", "random_scale", "random_rotate", "compose", "standard"]
