"""A differentiable HOG descriptor (Dalal & Triggs 2005) and images optimized to match one (Tatu et al. 2011)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import config
from ..imaging import check_images

__all__ = ["hog", "hog_distance", "match_hog", "HogMatch", "GRAY_WEIGHTS"]

# Luminance weights of scikit-image's rgb2gray (ITU-R BT.709).
GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)
_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # scikit-image's block-normalization epsilon


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return pair


def _gradients(gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences ``x[i+1] - x[i-1]`` (not halved), zero on the border, as scikit-image."""
    g_row = F.pad(gray[:, 2:, :] - gray[:, :-2, :], (0, 0, 1, 1))  # (N, H, W)
    g_col = F.pad(gray[:, :, 2:] - gray[:, :, :-2], (1, 1, 0, 0))  # (N, H, W)
    return g_row, g_col


def _votes(g_row, g_col, orientations: int, binning: str) -> torch.Tensor:
    """Each pixel's gradient magnitude spread over the orientation bins: ``(N, B, H, W)``."""
    magnitude = torch.sqrt(g_row**2 + g_col**2 + 1e-20)  # the tiny term keeps d/dx finite at 0
    flat = magnitude < 1e-12
    safe_row = torch.where(flat, torch.zeros_like(g_row), g_row)  # atan2's gradient is NaN at (0, 0)
    safe_col = torch.where(flat, torch.ones_like(g_col), g_col)
    angle = torch.rad2deg(torch.atan2(safe_row, safe_col)).remainder(180.0)  # unsigned, [0, 180)
    width = 180.0 / orientations
    if binning == "hard":  # bin i holds i*width <= angle < (i+1)*width, as scikit-image
        index = (angle / width).floor().long().clamp(0, orientations - 1)
        weights = F.one_hot(index, orientations).to(magnitude.dtype)  # (N, H, W, B)
    else:  # linear interpolation between the two nearest bin centres, wrapping at 180 degrees
        position = angle / width - 0.5
        low = position.floor()
        fraction = position - low  # (N, H, W), differentiable in the angle
        low = low.long().remainder(orientations)
        weights = F.one_hot(low, orientations) * (1 - fraction)[..., None] + F.one_hot(
            (low + 1).remainder(orientations), orientations
        ) * fraction[..., None]  # (N, H, W, B)
    return (weights * magnitude[..., None]).permute(0, 3, 1, 2)  # (N, B, H, W)


def _normalize(blocks: torch.Tensor, method: str) -> torch.Tensor:
    """Normalize each block vector (last dimension) as scikit-image's ``block_norm``."""
    if method in ("L1", "L1-sqrt"):
        out = blocks / (blocks.abs().sum(-1, keepdim=True) + _EPS)
        return out.clamp_min(0).add(1e-20).sqrt() if method == "L1-sqrt" else out
    out = blocks / torch.sqrt((blocks**2).sum(-1, keepdim=True) + _EPS**2)
    if method == "L2-Hys":
        out = out.clamp(max=0.2)
        out = out / torch.sqrt((out**2).sum(-1, keepdim=True) + _EPS**2)
    return out


def hog(
    images: torch.Tensor,
    *,
    orientations: int = 9,
    pixels_per_cell=(8, 8),
    cells_per_block=(3, 3),
    block_norm: str = "L2-Hys",
    binning: str = "hard",
) -> torch.Tensor:
    """Histogram-of-oriented-gradients descriptors of a batch, differentiable in the pixels.

    Dalal & Triggs 2005, the variant of scikit-image's ``skimage.feature.hog`` for grayscale
    images (``transform_sqrt=False``, ``feature_vector=True``): gray = 0.2125 R + 0.7154 G +
    0.0721 B; gradients ``x[i+1] - x[i-1]`` (zero on the border); unsigned orientations in
    ``orientations`` bins over [0, 180); per cell the sum of magnitudes per bin divided by the
    cell's area (pixels beyond the last whole cell are ignored); blocks of cells with stride one
    cell, each normalized by ``block_norm``. With ``binning="hard"`` (each pixel votes into its
    bin) it equals scikit-image's output; ``"linear"`` splits each vote between the two nearest
    bin centres, so the descriptor is also differentiable in the gradient *angle*, which image
    optimization needs (hard votes only pass gradients through the magnitudes).

    Args:
        images: ``(N, 3, H, W)`` in [0, 1], ``H, W >= pixels_per_cell * cells_per_block``.
        orientations, pixels_per_cell, cells_per_block, block_norm: as in scikit-image
            (``block_norm`` one of ``"L1"``, ``"L1-sqrt"``, ``"L2"``, ``"L2-Hys"``).
        binning: ``"hard"`` (scikit-image) or ``"linear"``.

    Returns:
        ``(N, D)`` with ``D = blocks_rows * blocks_cols * cells_per_block[0] * cells_per_block[1]
        * orientations``, in scikit-image's order; same dtype and device as ``images``.

    Example:
        >>> hog(torch.rand(2, 3, 64, 64)).shape  # 6 x 6 blocks of 3 x 3 cells x 9 bins
        torch.Size([2, 2916])
    """
    check_images(images)
    if isinstance(orientations, bool) or not isinstance(orientations, int) or orientations < 1:
        raise ValueError(f"orientations must be a positive integer, got {orientations!r}")
    if block_norm not in _NORMS:
        raise ValueError(f"unknown block_norm {block_norm!r}; use one of {', '.join(_NORMS)}")
    if binning not in ("hard", "linear"):
        raise ValueError(f"binning must be 'hard' (as scikit-image) or 'linear', got {binning!r}")
    (c_row, c_col), (b_row, b_col) = _pair(pixels_per_cell, "pixels_per_cell"), _pair(cells_per_block, "cells_per_block")
    n_row, n_col = images.shape[-2] // c_row, images.shape[-1] // c_col
    if n_row < b_row or n_col < b_col:
        raise ValueError(
            f"images of {images.shape[-2]}x{images.shape[-1]} pixels hold {n_row}x{n_col} cells of "
            f"{c_row}x{c_col}, fewer than one block of {b_row}x{b_col} cells; use larger images or smaller cells"
        )
    weights = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype, device=images.device)
    gray = torch.einsum("nchw,c->nhw", images, weights)  # (N, H, W)
    votes = _votes(*_gradients(gray), orientations, binning)[..., : n_row * c_row, : n_col * c_col]
    cells = F.avg_pool2d(votes, (c_row, c_col))  # (N, B, n_row, n_col): sum / cell area
    blocks = cells.unfold(2, b_row, 1).unfold(3, b_col, 1)  # (N, B, blocks_r, blocks_c, b_row, b_col)
    blocks = blocks.permute(0, 2, 3, 4, 5, 1).flatten(3)  # (N, blocks_r, blocks_c, b_row * b_col * B)
    return _normalize(blocks, block_norm).flatten(1)  # (N, D)


def hog_distance(images: torch.Tensor, targets: torch.Tensor, **hog_options) -> torch.Tensor:
    """``(N,)`` relative descriptor distance ``‖hog(x) - hog(target)‖ / ‖hog(target)‖`` per image.

    Uses the scikit-image-exact ``"hard"`` binning unless ``binning`` is given; no gradient.
    For scale: the hard descriptor is sensitive, so faint noise on the target alone (a few 1/255
    per pixel) already gives a distance of 0.1-0.3 on photos.
    """
    check_images(images)
    check_images(targets, "targets")
    if images.shape != targets.shape:
        raise ValueError(f"images {tuple(images.shape)} and targets {tuple(targets.shape)} must have the same shape")
    with torch.no_grad():
        goal = hog(targets, **hog_options)
        return (hog(images, **hog_options) - goal).norm(dim=1) / goal.norm(dim=1).clamp_min(1e-12)


@dataclass
class HogMatch:
    """What :func:`match_hog` returns: ``images (N, 3, H, W)`` in [0, 1], the relative descriptor
    distance ``‖hog(x) - hog(target)‖ / ‖hog(target)‖`` per image at the start and at the end
    (``(N,)`` each, with the scikit-image-exact hard binning), and ``history`` ``(steps,)`` of the
    optimized (linear-binning) loss."""

    images: torch.Tensor
    start_distance: torch.Tensor
    distance: torch.Tensor
    history: torch.Tensor


def match_hog(
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    steps: int | None = None,
    lr: float = 0.01,
    **hog_options,
) -> HogMatch:
    """Change ``images`` until their HOG descriptors match those of ``targets`` (Tatu et al. 2011).

    Minimizes ``‖hog(x) - hog(target)‖² / ‖hog(target)‖²`` over the pixels with Adam, with the
    differentiable ``binning="linear"`` descriptor, clamping to [0, 1] after each step. The
    point of the lecture's slide: two images that look nothing alike can share one descriptor.

    Args:
        images: ``(N, 3, H, W)`` in [0, 1], the starting images.
        targets: ``(N, 3, H, W)`` in [0, 1] (same size), whose descriptors are matched.
        steps: Adam steps, default ``config.pick(150, 500)``.
        lr: Adam's learning rate in pixel units.
        **hog_options: passed to :func:`hog` (``orientations``, ``pixels_per_cell``, ...).

    Returns:
        :class:`HogMatch`.

    Example:
        >>> result = match_hog(photo, other_photo, pixels_per_cell=(8, 8))
        >>> result.distance  # near 0: the descriptors agree, the pictures do not
    """
    check_images(images)
    check_images(targets, "targets")
    if images.shape != targets.shape:
        raise ValueError(f"images {tuple(images.shape)} and targets {tuple(targets.shape)} must have the same shape")
    if "binning" in hog_options:
        raise ValueError("match_hog optimizes the 'linear' binning and reports the 'hard' one; do not pass binning")
    steps = config.pick(150, 500) if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")

    goal = hog(targets, binning="linear", **hog_options).detach()  # (N, D)
    scale = goal.pow(2).sum(dim=1).clamp_min(1e-12)  # (N,)
    current = images.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([current], lr=lr)
    history = []
    with torch.enable_grad():
        for _ in config.progress(range(steps), desc="HOG match"):
            loss = ((hog(current, binning="linear", **hog_options) - goal).pow(2).sum(dim=1) / scale).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                current.clamp_(0, 1)
            history.append(loss.item() / len(images))
    result = current.detach()
    return HogMatch(result, hog_distance(images, targets, **hog_options), hog_distance(result, targets, **hog_options),
                    torch.tensor(history))
