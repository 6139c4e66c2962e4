"""Figures for gradient attribution: saliency and GrabCut segmentations (lecture 07), guided backprop
and deconvnet (lecture 08)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..imaging import to_display

__all__: list[str] = ["show_saliency_segmentation"]


# ---------------------------------------------------------------------------- lecture 07

def _finish_columns(fig, axes, names: Sequence[str]):
    """Name the columns of a grid of pictures, drop the ticks (row labels stay), tighten."""
    for column, name in enumerate(names):
        axes[0, column].set_title(name, fontsize=10)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig

def _outline(ax, mask, colour: str) -> None:
    """Draw the boundary of a bool ``(H, W)`` mask on ``ax``."""
    mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask, dtype=float)
    if 0 < mask.sum() < mask.size:
        ax.contour(mask, levels=[0.5], colors=colour, linewidths=1.2)


def show_saliency_segmentation(images, saliency, segmentations, masks=None, titles: Sequence[str] | None = None,
                               *, cell: float = 2.0):  # fmt: skip
    """The figure of Simonyan et al. (2014, Fig. 3): one row per image with the image, its saliency map
    (``(N, H, W)``, black to white) and its GrabCut segmentation (``N`` bool ``(H, W)`` masks, the
    object kept, the rest dimmed); with ``masks`` (``(N, H, W)`` bool), the ground truth in a fourth
    column and outlined in green on the segmentation."""
    images = list(images)
    columns = ["image", "saliency", "GrabCut"] + (["ground truth"] if masks is not None else [])
    fig, axes = plt.subplots(len(images), len(columns), figsize=(cell * len(columns), cell * len(images)), squeeze=False)
    for row, image in enumerate(images):
        picture = to_display(image)
        segment = np.asarray(segmentations[row], dtype=bool)
        axes[row, 0].imshow(picture)
        axes[row, 1].imshow(saliency[row].detach().float().cpu().numpy(), cmap="gray")
        axes[row, 2].imshow(np.where(segment[..., None], picture, 0.25 * picture + 0.75))
        _outline(axes[row, 2], segment, "red")
        if masks is not None:
            axes[row, 3].imshow(masks[row].cpu().numpy() if isinstance(masks[row], torch.Tensor) else masks[row], cmap="gray")
            _outline(axes[row, 2], masks[row], "lime")
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row], fontsize=9)
    return _finish_columns(fig, axes, columns)


# ---------------------------------------------------------------------------- lecture 08
# Deconvnet and guided backprop: signed maps as images, method grids, unit patches, sanity check.
def gradient_image(maps: torch.Tensor, *, scale: float = 2.0) -> torch.Tensor:
    """Signed per-channel maps ``(N, 3, H, W)`` -> images in [0, 1] for display (or for cropping).

    Grey (0.5) is zero; each map is divided by ``scale`` times its largest absolute value, so
    positive evidence is bright and negative dark, colours kept (Springenberg et al. 2015, Fig. 3).
    """
    if maps.ndim != 4 or maps.shape[1] != 3:
        raise ValueError(f"maps must be (N, 3, H, W), got shape {tuple(maps.shape)}")
    peak = maps.detach().abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)  # (N, 1, 1, 1)
    return (0.5 + maps.detach() / (scale * peak)).clamp(0, 1)


def _show_map(ax, image_map: torch.Tensor) -> None:
    """One ``(3, H, W)`` signed map (as :func:`gradient_image`) or ``(H, W)`` magnitude (grey)."""
    if image_map.ndim == 3:
        ax.imshow(to_display(gradient_image(image_map[None])[0]), interpolation="nearest")
    else:
        ax.imshow(image_map.detach().float().cpu().numpy(), cmap="gray", interpolation="nearest")


def show_method_maps(images, maps: dict, titles: Sequence[str] | None = None, *, cell: float = 2.0):
    """One row per image: the image, then one map per method (columns named by ``maps``' keys).

    ``maps``: ``{method name: (N, 3, H, W) signed maps or (N, H, W) magnitudes}``; signed maps are
    drawn with :func:`gradient_image`, magnitudes in grey.
    """
    images = list(images)
    fig, axes = plt.subplots(len(images), 1 + len(maps), figsize=(cell * (1 + len(maps)), cell * len(images)), squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(to_display(image), interpolation="nearest" if image.shape[-1] <= 64 else "antialiased")
        axes[row, 0].set_ylabel(titles[row] if titles else "", fontsize=9)
        for column, values in enumerate(maps.values(), start=1):
            _show_map(axes[row, column], values[row])
    return _finish_columns(fig, axes, ["image", *maps])


def show_unit_patches(map_crops, image_crops, titles: Sequence[str] | None = None, *, cell: float = 1.1):
    """For each unit, its ``k`` guided-backprop crops above the ``k`` image crops (Springenberg Fig. 5).

    ``map_crops``, ``image_crops``: one ``(k, 3, s, s)`` tensor in [0, 1] per unit (use
    :func:`gradient_image` on the maps before cropping). ``titles``: one per unit.
    """
    units, k = len(image_crops), len(image_crops[0])
    fig, axes = plt.subplots(2 * units, k, figsize=(cell * k, 2 * cell * units + 0.3 * units), squeeze=False)
    for unit in range(units):
        for i in range(k):
            axes[2 * unit, i].imshow(to_display(map_crops[unit][i]))
            axes[2 * unit + 1, i].imshow(to_display(image_crops[unit][i]))
        axes[2 * unit, 0].set_ylabel("guided", fontsize=8)
        axes[2 * unit + 1, 0].set_ylabel("crops", fontsize=8)
        if titles:
            axes[2 * unit, 0].set_title(titles[unit], fontsize=9, loc="left")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_randomization(maps: dict, steps: Sequence[str], correlations: dict, *, cell: float = 1.4):
    """The cascading-randomization sanity check (Adebayo et al. 2018, Fig. 2).

    ``maps``: ``{method: (S, H, W)}``, one magnitude map of one image per step (step 0: the trained
    model); ``steps``: ``S`` labels; ``correlations``: ``{method: S Spearman rank correlations with
    step 0}``. Draws the maps (one row per method) and the correlations against the steps.
    """
    methods, count = list(maps), len(steps)
    fig = plt.figure(figsize=(cell * count, cell * len(methods) + 2.6))
    grid = fig.add_gridspec(len(methods) + 1, count, height_ratios=[1] * len(methods) + [1.6])
    for row, method in enumerate(methods):
        for column in range(count):
            ax = fig.add_subplot(grid[row, column])
            _show_map(ax, maps[method][column])
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(steps[column], fontsize=7, rotation=30)
            if column == 0:
                ax.set_ylabel(method, fontsize=9)
    ax = fig.add_subplot(grid[len(methods), :])
    for method, values in correlations.items():
        ax.plot(range(count), values, marker="o", label=method)
    ax.set_xticks(range(count), steps, fontsize=7, rotation=30)
    ax.set_ylabel("Spearman rank corr.", fontsize=9)
    ax.set_ylim(-0.1, 1.05)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


__all__ += ["gradient_image", "show_method_maps", "show_unit_patches", "show_randomization"]
