"""Occlusion figures (lecture 05): probability and most-probable-class maps, the quiz curves."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patches as mpatches

from ..imaging import to_display

__all__ = ["show_occlusion", "show_quiz_results"]


def _map_extent(window: int, stride: int, rows: int, cols: int) -> tuple[float, float, float, float]:
    """imshow extent that puts map cell (i, j) on its window's centre, in image pixel coordinates."""
    centre = (window - 1) / 2  # pixel centres at 0, 1, ...
    half = stride / 2
    return (centre - half, centre + (cols - 1) * stride + half, centre + (rows - 1) * stride + half, centre - half)


def show_occlusion(images, maps, classes: Sequence[str], *, window: int, stride: int, masks=None,
                   targets=None, titles: Sequence[str] | None = None):
    """One row per image: the image with one window drawn, the probability map of the target class,
    the most-probable-class map, and the object mask when given.

    Args:
        images: ``(N, 3, H, W)`` in [0, 1]; maps: the :class:`~course_utils.attribution.OcclusionMaps`
            of those images; classes: the model's class names; window, stride: those of the maps;
            masks: optional ``(N, H, W)`` bool; targets: optional ``(N,)`` target classes (for titles).
    """
    probability, top_class = maps.probability.detach().cpu(), maps.top_class.detach().cpu()
    count, rows, cols = probability.shape
    ncols = 4 if masks is not None else 3
    fig, axes = plt.subplots(count, ncols, figsize=(2.6 * ncols, 2.5 * count), squeeze=False)
    extent = _map_extent(window, stride, rows, cols)
    present = sorted(set(top_class.flatten().tolist()))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for n in range(count):
        image = images[n].detach().cpu()
        height, width = image.shape[-2:]
        ax = axes[n, 0]
        ax.imshow(to_display(image))
        ax.add_patch(mpatches.Rectangle((-0.5, -0.5), window, window, fill=True, color="0.5", alpha=0.8))
        ax.set_title(titles[n] if titles is not None else f"image (window {window}, stride {stride})", fontsize=8)
        ax = axes[n, 1]
        shown = ax.imshow(probability[n].numpy(), extent=extent, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        name = f" of {classes[int(targets[n])]}" if targets is not None else ""
        ax.set_title(f"probability{name}\n(min {probability[n].min():.2f}, where the window hurts)", fontsize=8)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax = axes[n, 2]
        ax.imshow(np.asarray(cmap(top_class[n].numpy() % cmap.N)), extent=extent, interpolation="nearest")
        ax.set_title("most probable class", fontsize=8)
        if masks is not None:
            ax = axes[n, 3]
            ax.imshow(masks[n].detach().cpu().numpy(), cmap="gray")
            ax.set_title("object mask", fontsize=8)
        for ax in axes[n]:
            ax.set_xlim(-0.5, width - 0.5)
            ax.set_ylim(height - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
        if masks is not None:  # the object's outline on both maps, for comparison
            for ax in axes[n, 1:3]:
                ax.contour(masks[n].detach().cpu().float().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    handles = [mpatches.Patch(color=cmap(c % cmap.N), label=classes[c]) for c in present]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if count < 3 else 0.03, 1, 1))
    return fig


def show_quiz_results(levels: Sequence[float], curves: Mapping[str, Sequence[float]], *, chance: float | None = None,
                      counts: Mapping[str, Sequence[int]] | None = None, ax=None):
    """Accuracy against the occluded share of the image, one line per reader (person, network...).

    Args:
        levels: occluded fractions (x axis). curves: ``{label: accuracies}`` aligned with ``levels``
            (``nan`` where a reader answered nothing). chance: a dashed line at the guessing rate.
        counts: optional ``{label: number of answers per level}``, written beside the points.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.2, 3.4))
    x = np.asarray(levels, dtype=float) * 100
    for label, values in curves.items():
        style = "--" if "simulated" in label or "example" in label else "-"
        ax.plot(x, np.asarray(values, dtype=float) * 100, style, marker="o", label=label)
        for xi, yi, k in zip(x, np.asarray(values, dtype=float) * 100, (counts or {}).get(label, [])):
            ax.annotate(f"n={k}", (xi, yi), textcoords="offset points", xytext=(3, -10), fontsize=7)
    if chance is not None:
        ax.axhline(chance * 100, color="0.6", linestyle=":", label="chance")
    ax.set_xlabel("share of the image occluded (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
