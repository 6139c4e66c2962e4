"""Figures for gradient attribution: saliency and GrabCut segmentations (lecture 07), guided backprop
and deconvnet (lecture 08)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

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
    object kept, the rest dimmed, outlined in red); with ``masks`` (``(N, H, W)`` bool), the ground
    truth in a fourth column and outlined in green on the segmentation. A legend under the figure
    names the outlines."""
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
    fig = _finish_columns(fig, axes, columns)
    handles = [Line2D([], [], color="red", lw=1.5, label="GrabCut's mask")]
    if masks is not None:
        handles.append(Line2D([], [], color="lime", lw=1.5, label="true object"))
    _legend_below(fig, handles)
    return fig


def _legend_below(fig, handles, *, columns: int | None = None) -> None:
    """A legend under the whole figure (the space is made by ``bbox_inches="tight"`` on saving)."""
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns or len(handles),
               fontsize=8, frameon=False)


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


def signed_key_handles() -> list:
    """Legend entries for :func:`gradient_image` pictures: grey is zero, and each colour channel is
    brighter where its value is positive and darker where it is negative (a red-tinted pixel: more
    red raises the score; a cyan-tinted one: less red raises it)."""
    entries = [((0.5, 0.5, 0.5), "0 (grey)")]
    for channel, name in enumerate(("red", "green", "blue")):
        for sign, word in ((1, "+"), (-1, "-")):
            colour = [0.5, 0.5, 0.5]
            colour[channel] += 0.5 * sign
            entries.append((tuple(colour), f"{word} {name}"))
    return [Patch(facecolor=c, edgecolor="none", label=label) for c, label in entries]


def _draw_box(ax, box, colour: str = "yellow") -> None:
    """A rectangle ``(top, left, bottom, right)`` (bottom/right exclusive) and a cross at its centre."""
    top, left, bottom, right = (float(v) for v in box)
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, ec=colour, lw=1.2))
    ax.plot([(left + right - 1) / 2], [(top + bottom - 1) / 2], marker="+", color=colour, ms=9, mew=1.8)


def show_method_maps(images, maps: dict, titles: Sequence[str] | None = None, *, cell: float = 2.0,
                     boxes=None, key: bool = True):  # fmt: skip
    """One row per image: the image, then one map per method (columns named by ``maps``' keys).

    ``maps``: ``{method name: (N, 3, H, W) signed maps or (N, H, W) magnitudes}``; signed maps are
    drawn with :func:`gradient_image` (with ``key``, a legend under the figure says what their
    colours mean), magnitudes in grey (black 0, white the map's largest value).
    ``boxes``: optional, one ``(top, left, bottom, right)`` per image (e.g. the receptive field of a
    chosen neuron, :func:`course_utils.patches.receptive_box`), drawn in yellow with a cross at its
    centre on the image and on every map.
    """
    images = list(images)
    fig, axes = plt.subplots(len(images), 1 + len(maps), figsize=(cell * (1 + len(maps)), cell * len(images)), squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(to_display(image), interpolation="nearest" if image.shape[-1] <= 64 else "antialiased")
        axes[row, 0].set_ylabel(titles[row] if titles else "", fontsize=9)
        for column, values in enumerate(maps.values(), start=1):
            _show_map(axes[row, column], values[row])
        if boxes is not None:
            for ax in axes[row]:
                _draw_box(ax, boxes[row])
    fig = _finish_columns(fig, axes, ["image", *maps])
    if key and any(values.ndim == 4 for values in maps.values()):
        _legend_below(fig, signed_key_handles(), columns=7)
    return fig


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


def show_randomization(maps: dict, steps: Sequence[str], correlations: dict, *, shown: dict | None = None,
                       cell: float = 1.5):  # fmt: skip
    """The cascading-randomization sanity check (Adebayo et al. 2018, Fig. 2).

    ``maps``: ``{method: (S, H, W)}``, one magnitude map of one image per step (step 0: the trained
    model); ``steps``: ``S`` labels; ``correlations``: ``{method: S Spearman rank correlations with
    step 0}`` (e.g. averaged over images), drawn as solid lines; ``shown``: optionally the same for
    the one image whose maps are drawn, dashed. One row of maps per method, each column a step
    (numbered as on the plot's axis), then the correlations against the steps.
    """
    methods, count = list(maps), len(steps)
    fig = plt.figure(figsize=(max(cell * count, 8), cell * len(methods) + 3.0))
    grid = fig.add_gridspec(len(methods) + 1, count, height_ratios=[1] * len(methods) + [1.8])
    for row, method in enumerate(methods):
        for column in range(count):
            ax = fig.add_subplot(grid[row, column])
            _show_map(ax, maps[method][column])
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{column}: {steps[column]}", fontsize=8.5)
            if column == 0:
                ax.set_ylabel(method, fontsize=9)
    ax = fig.add_subplot(grid[len(methods), :])
    for index, (method, values) in enumerate(correlations.items()):
        colour = f"C{index}"
        ax.plot(range(count), values, marker="o", color=colour, label=f"{method} (mean over images)")
        if shown and method in shown:
            ax.plot(range(count), shown[method], ls="--", color=colour, lw=1, label=f"{method} (image shown)")
    ax.set_xticks(range(count), [str(i) for i in range(count)], fontsize=9)
    ax.set_xlabel("randomization step (the columns above: layers randomized so far, from the top)", fontsize=9)
    ax.set_ylabel("Spearman rank corr.\nwith step 0", fontsize=9)
    ax.set_ylim(-0.1, 1.05)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def _mosaic(tiles: torch.Tensor, columns: int = 3, gap: int = 2) -> np.ndarray:
    """``(k, 3, s, s)`` in [0, 1] -> one ``(rows s, columns s, 3)`` picture, white gaps between tiles."""
    k, _, side, _ = tiles.shape
    rows = -(-k // columns)
    out = np.ones((rows * side + (rows - 1) * gap, columns * side + (columns - 1) * gap, 3))
    for i in range(k):
        r, c = divmod(i, columns)
        out[r * (side + gap) : r * (side + gap) + side, c * (side + gap) : c * (side + gap) + side] = to_display(tiles[i])
    return out


def show_layer_projections(rows: Sequence, names: Sequence[str] = ("projections", "top patches"), *,
                           columns: int = 3, cell: float = 1.9):  # fmt: skip
    """Zeiler & Fergus (2014, Fig. 2): units at several depths, each with the projections of its top
    activations back to pixel space beside the image patches that produced them.

    ``rows``: one ``(title, tiles, tiles, ...)`` per unit, one ``tiles`` per entry of ``names``;
    each ``tiles`` is ``(k, 3, s, s)`` in [0, 1] (projections already as pictures, e.g.
    :func:`gradient_image`), tiled ``columns`` wide. Crops of every layer are drawn at the same size
    whatever its receptive field, so say the field's size in the title.
    """
    fig, axes = plt.subplots(len(rows), len(names), figsize=(cell * len(names) + 0.5, cell * len(rows)), squeeze=False)
    for row, (title, *tiles) in enumerate(rows):
        if len(tiles) != len(names):
            raise ValueError(f"row {row} has {len(tiles)} tile sets for {len(names)} names")
        for column, pictures in enumerate(tiles):
            axes[row, column].imshow(_mosaic(pictures, columns), interpolation="nearest")
        axes[row, 0].set_ylabel(title, fontsize=8.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for column, name in enumerate(names):
        axes[0, column].set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


__all__ += ["gradient_image", "signed_key_handles", "show_method_maps", "show_unit_patches", "show_randomization",
            "show_layer_projections"]
