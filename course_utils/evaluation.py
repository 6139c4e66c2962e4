"""Scoring attribution maps against ground-truth object masks: the pointing game and mask IoU.

The synthetic shapes (``course_utils.data.make_shapes``) know where their object is, so saliency,
occlusion and Grad-CAM maps can be scored, not only looked at.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PointingGame", "pointing_game", "window_pointing_game", "window_overlap", "mask_iou", "window_centres",
           "mass_on_object", "edge_map", "score_maps", "format_scores"]


class PointingGame(NamedTuple):
    """``hits (N,)`` bool: the map's maximum lies on (or within the tolerance of) the object;
    ``chance (N,)`` float: the hit rate of a uniformly random point (the area within the tolerance
    of the object, as a fraction of the image)."""

    hits: torch.Tensor
    chance: torch.Tensor


def _as_tensor(values, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 3:
        raise ValueError(f"{name} must have shape (N, H, W) or (H, W), got {tuple(tensor.shape)}")
    return tensor.detach().cpu()


def pointing_game(maps, masks, *, tolerance: float = 0) -> PointingGame:
    """Does each map's maximum point at the object?

    Args:
        maps: ``(N, H, W)`` attribution maps, larger = more important (upsample coarse maps and
            negate "lower is more important" maps such as occlusion probabilities first).
        masks: ``(N, H, W)`` bool ground-truth object masks.
        tolerance: a hit is a maximum within this many pixels (Euclidean, between pixel centres)
            of an object pixel; 0 (default) is a strict hit on the object.

    Returns:
        :class:`PointingGame` ``(hits, chance)``. Ties for the maximum go to the first pixel in
        row-major order.

    Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop", Sec. 5.1 (the pointing game).

    Example:
        >>> result = pointing_game(saliency_maps, batch.masks, tolerance=2)
        >>> result.hits.float().mean(), result.chance.mean()
    """
    maps, masks = _as_tensor(maps, "maps").float(), _as_tensor(masks, "masks").bool()
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must have the same shape")
    if tolerance < 0:
        raise ValueError(f"tolerance is a distance in pixels, >= 0; got {tolerance}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or infinite values")
    count, height, width = maps.shape
    peak = maps.flatten(1).argmax(dim=1)  # (N,)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    distance2 = (ys - (peak // width)[:, None, None]) ** 2 + (xs - (peak % width)[:, None, None]) ** 2  # (N, H, W)
    hits = (distance2.float().masked_fill(~masks, float("inf")).flatten(1).amin(1)) <= tolerance**2
    # Chance: the area within the tolerance of the object, from a dilation by a disk.
    radius = int(np.floor(tolerance))
    offsets = torch.arange(-radius, radius + 1)
    disk = ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= tolerance**2).float()[None, None]  # (1, 1, k, k)
    near = torch.nn.functional.conv2d(masks.float()[:, None], disk, padding=radius)[:, 0] > 0.5  # (N, H, W)
    return PointingGame(hits, near.float().mean((1, 2)))


def mask_iou(predicted, truth) -> torch.Tensor:
    """Intersection over union of bool masks ``(N, H, W)`` or ``(H, W)`` -> ``(N,)`` in [0, 1]
    (1 when both masks are empty)."""
    predicted, truth = _as_tensor(predicted, "predicted").bool(), _as_tensor(truth, "truth").bool()
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and truth {tuple(truth.shape)} must have the same shape")
    intersection = (predicted & truth).flatten(1).sum(1).float()
    union = (predicted | truth).flatten(1).sum(1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def window_centres(values: torch.Tensor, size: tuple[int, int], *, window: int, stride: int) -> torch.Tensor:
    """Per-window values ``(N, h, w)`` (e.g. occlusion importances) -> a pixel map ``(N, H, W)``
    holding each window's value at its centre pixel and the smallest value elsewhere, so that
    :func:`pointing_game` points at the centre of the highest-valued window.

    Window ``(i, j)`` covers rows ``i * stride ... i * stride + window - 1`` (same for columns), as
    in :func:`course_utils.attribution.occlusion`; its centre is ``i * stride + (window - 1) // 2``.
    """
    values = torch.as_tensor(values).detach().float().cpu()
    if values.ndim != 3:
        raise ValueError(f"values must have shape (N, h, w), got {tuple(values.shape)}")
    height, width = size
    rows = torch.arange(values.shape[1]) * stride + (window - 1) // 2
    cols = torch.arange(values.shape[2]) * stride + (window - 1) // 2
    if window < 1 or stride < 1 or rows[-1] >= height or cols[-1] >= width:
        raise ValueError(f"windows of {window} px every {stride} px do not fit a {height}x{width} image with a {tuple(values.shape[1:])} grid")
    out = values.flatten(1).amin(1)[:, None, None].repeat(1, height, width)  # (N, H, W)
    out[:, rows[:, None], cols[None, :]] = values
    return out


def window_overlap(masks: torch.Tensor, *, window: int, stride: int) -> torch.Tensor:
    """Which window positions touch the object: ``(N, H, W)`` bool masks -> ``(N, h, w)`` bool.

    Window ``(i, j)`` covers rows ``i * stride ... i * stride + window - 1`` (same for columns), as
    in :func:`course_utils.attribution.occlusion`.
    """
    from .attribution.occlusion import window_grid

    if masks.ndim != 3:
        raise ValueError(f"masks must have shape (N, H, W), got {tuple(masks.shape)}")
    window_grid(masks.shape[-2], masks.shape[-1], window, stride)  # a clear error for a bad window
    pooled = F.max_pool2d(masks[:, None].float(), kernel_size=window, stride=stride)  # (N, 1, h, w)
    return pooled[:, 0] > 0


def window_pointing_game(probability: torch.Tensor, masks: torch.Tensor, *, window: int, stride: int) -> PointingGame:
    """The pointing game for occlusion maps (after Zhang et al. 2016, *Top-down neural attention*):
    a hit when the window of *lowest* target probability overlaps the object mask.

    Args:
        probability: ``(N, h, w)`` maps from :func:`course_utils.attribution.occlusion`.
        masks: ``(N, H, W)`` bool object masks of the same images.
        window, stride: the ones the maps were made with.

    Returns:
        :class:`PointingGame`: ``hits (N,)`` bool, and ``chance (N,)``: the probability that a
        uniformly random window position overlaps the object (the same game played without looking).
    """
    overlap = window_overlap(masks.to(probability.device), window=window, stride=stride)  # (N, h, w)
    if overlap.shape != probability.shape:
        raise ValueError(f"maps {tuple(probability.shape)} do not match masks {tuple(masks.shape)} with window {window}, stride {stride}")
    lowest = probability.flatten(1).argmin(dim=1)  # (N,)
    hits = overlap.flatten(1).gather(1, lowest[:, None])[:, 0]
    return PointingGame(hits, overlap.flatten(1).float().mean(dim=1))


def mass_on_object(maps, masks) -> torch.Tensor:
    """The share of each map's total mass that lies on the object: ``(N, H, W)`` maps (non-negative,
    e.g. saliency magnitudes; negative values count as 0) and ``(N, H, W)`` bool masks -> ``(N,)``
    in [0, 1]. Compare it with the object's area ``masks.float().mean((1, 2))``: a map that knows
    nothing of the object puts about that share on it. An all-zero map gives 0.

    Example:
        >>> mass_on_object(saliency_maps, batch.masks).mean()
    """
    maps, masks = _as_tensor(maps, "maps").float().clamp(min=0), _as_tensor(masks, "masks").bool()
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must have the same shape")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or infinite values")
    total = maps.flatten(1).sum(1)  # (N,)
    return (maps * masks).flatten(1).sum(1) / total.clamp(min=torch.finfo(maps.dtype).tiny)


def edge_map(images: torch.Tensor) -> torch.Tensor:
    """A map that uses no network at all: the Sobel gradient magnitude of each image's grey level,
    ``(N, 3, H, W)`` in [0, 1] -> ``(N, H, W)`` (0 on the one-pixel border, where the filter would
    see the padding). A baseline for the pointing game: it shows how much of a score an edge detector
    gets on images with one object on a plainer background.
    """
    from .imaging import check_images

    check_images(images)
    grey = images.detach().float().mean(1, keepdim=True)  # (N, 1, H, W)
    kernel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=grey.device)[None, None]
    gx = F.conv2d(grey, kernel, padding=1)
    gy = F.conv2d(grey, kernel.transpose(2, 3), padding=1)
    edges = (gx**2 + gy**2).sqrt()[:, 0]  # (N, H, W)
    edges[:, [0, -1], :] = 0
    edges[:, :, [0, -1]] = 0
    return edges


def score_maps(maps: dict, masks, *, tolerance: float = 2, point_only=()) -> dict:
    """The pointing game (strict and within ``tolerance``) and :func:`mass_on_object` for several
    methods' maps of the same images.

    Args:
        maps: ``{method: (N, H, W) maps}``.
        masks: ``(N, H, W)`` bool object masks.
        tolerance: the second game's tolerance in pixels (default 2).
        point_only: methods whose maps mark a point, not a mass (such as :func:`window_centres`):
            their ``on_object`` is NaN.

    Returns:
        ``{method: {"strict": float, "near": float, "on_object": float}}`` (hit rates and mean
        share), with a last row ``"chance"``: the random point's hit rates and the objects' mean area.
    """
    masks = _as_tensor(masks, "masks").bool()
    table = {}
    for name, heat in maps.items():
        strict, near = (pointing_game(heat, masks, tolerance=t) for t in (0, tolerance))
        share = float("nan") if name in point_only else float(mass_on_object(heat, masks).mean())
        table[name] = {"strict": float(strict.hits.float().mean()), "near": float(near.hits.float().mean()), "on_object": share}
    table["chance"] = {"strict": float(strict.chance.mean()), "near": float(near.chance.mean()),
                       "on_object": float(masks.float().mean())}  # fmt: skip
    return table


def format_scores(table: dict, *, tolerance: float = 2) -> str:
    """:func:`score_maps`' table as text, one line per method (percentages; the share on the object)."""
    lines = [f"{'method':<20}{'strict hit':>11}{f'within {tolerance:g} px':>13}{'on object':>11}"]
    for name, row in table.items():
        label = "chance / area" if name == "chance" else name
        share = "" if row["on_object"] != row["on_object"] else f"{row['on_object']:.2f}"  # NaN: a point, no mass
        lines.append(f"{label:<20}{row['strict']:>11.0%}{row['near']:>13.0%}{share:>11}")
    return "\n".join(lines)
