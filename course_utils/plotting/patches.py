"""Top activating patches with their boxes and activation values (lecture 03, the R-CNN figure)."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import patches as mpatches
from matplotlib import patheffects

from ..imaging import to_display

__all__ = ["show_top_patches", "show_boxes"]

_LABEL = dict(color="white", fontsize=7, ha="left", va="top", fontweight="bold")


def _value_label(ax, value: float) -> None:
    ax.text(0.04, 0.96, f"{value:.2f}", transform=ax.transAxes, **_LABEL,
            bbox=dict(facecolor="black", alpha=0.45, pad=1, lw=0))  # fmt: skip


def show_top_patches(crops, values, titles: Sequence[str] | None = None, *, units_per_row: int = 3,
                     cell: float = 0.75):  # fmt: skip
    """One small grid per unit of its top-k crops, each with its activation value in white.

    Args:
        crops: ``(U, k, 3, s, s)`` in [0, 1], e.g. from :func:`course_utils.patches.top_patches`.
        values: ``(U, k)`` activation values (``top_activations(...).values``).
        titles: one title per unit (default ``"unit i"``).
        units_per_row: unit grids side by side (default 3); each grid is ``ceil(sqrt(k))`` wide.
    """
    crops, values = torch.as_tensor(crops).detach().cpu(), torch.as_tensor(values).detach().cpu()
    if crops.ndim != 5 or values.shape != crops.shape[:2]:
        raise ValueError(f"crops must be (U, k, 3, s, s) and values (U, k), got {tuple(crops.shape)} and "
                         f"{tuple(values.shape)}")  # fmt: skip
    units, k = values.shape
    titles = list(titles) if titles is not None else [f"unit {i}" for i in range(units)]
    if len(titles) != units:
        raise ValueError(f"got {units} units but {len(titles)} titles")
    side = math.ceil(math.sqrt(k))
    rows_k = math.ceil(k / side)
    ncols = min(units, units_per_row)
    nrows = math.ceil(units / ncols)
    lines = max(title.count("\n") + 1 for title in titles)  # room for titles of several lines
    title_height = 0.17 * lines + 0.18
    height = rows_k * cell + title_height
    fig = plt.figure(figsize=(ncols * side * cell + 0.2 * ncols, nrows * height))
    subfigs = fig.subfigures(nrows, ncols, squeeze=False, wspace=0.04, hspace=0.02).flat
    for unit, sub in enumerate(subfigs):
        axes = list(sub.subplots(rows_k, side, squeeze=False).flat)
        for ax in axes:
            ax.axis("off")
        if unit >= units:
            continue
        sub.suptitle(titles[unit], fontsize=8.5, y=0.995, va="top")
        for ax, crop, value in zip(axes, crops[unit], values[unit]):
            ax.imshow(to_display(crop), interpolation="antialiased")
            _value_label(ax, float(value))
        sub.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - title_height / height, wspace=0.04,
                            hspace=0.04)  # fmt: skip
    return fig


def show_boxes(images, boxes, values=None, titles: Sequence[str] | None = None, *, ncols: int | None = None,
               cell: float = 1.8, color: str = "white"):  # fmt: skip
    """Whole images with one box each (a unit's receptive field) and its activation value.

    Args:
        images: ``(M, 3, H, W)`` in [0, 1].
        boxes: ``(M, 4)`` rows ``(top, left, bottom, right)`` or a :class:`course_utils.patches.Box`
            of ``(M,)`` tensors, bottom/right exclusive.
        values: ``(M,)`` activation values drawn in the corner (optional).
    """
    images = torch.as_tensor(images).detach().cpu()
    boxes = torch.stack([torch.as_tensor(b) for b in boxes], -1) if isinstance(boxes, tuple) else torch.as_tensor(boxes)
    boxes = boxes.reshape(-1, 4).cpu()
    if len(boxes) != len(images):
        raise ValueError(f"got {len(images)} images but {len(boxes)} boxes")
    count = len(images)
    ncols = ncols or min(count, 6)
    nrows = math.ceil(count / ncols)
    extra = 0.3 if titles is not None else 0.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, (cell + extra) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, (ax, image, (top, left, bottom, right)) in enumerate(zip(axes.flat, images, boxes.tolist())):
        ax.imshow(to_display(image), interpolation="nearest" if image.shape[-1] <= 64 else "antialiased")
        ax.add_patch(mpatches.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, lw=1.5,
                                        color=color, path_effects=[patheffects.withStroke(linewidth=3, foreground="black")]))  # fmt: skip
        if values is not None:
            _value_label(ax, float(torch.as_tensor(values).reshape(-1)[index]))
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
    fig.tight_layout()
    return fig
