"""Occlusion figures (lecture 05): probability and most-probable-class maps, a feature map's activation
against the occluder's position, the quiz curves and the network's answers per occlusion level."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patches as mpatches

from ..imaging import to_display

__all__ = ["show_occlusion", "show_feature_occlusion", "show_quiz_results", "show_answers_by_level", "show_quiz_item"]


def _show_image_with_window(ax, image, window: int, stride: int, title: str | None) -> None:
    """The image with the grey occluder drawn at its first position (top left)."""
    ax.imshow(to_display(image))
    ax.add_patch(mpatches.Rectangle((-0.5, -0.5), window, window, fill=True, color="0.5", alpha=0.8))
    ax.set_title(title if title is not None else f"image (window {window}, stride {stride})", fontsize=8)


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
        _show_image_with_window(axes[n, 0], image, window, stride, titles[n] if titles is not None else None)
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
    legend_rows = int(np.ceil(len(handles) / 5))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, min(0.5, (0.1 + 0.22 * legend_rows) / fig.get_figheight()), 1, 1))  # room for the legend
    return fig


def show_quiz_results(levels: Sequence[float], curves: Mapping[str, Sequence[float]], *, chance: float | None = None,
                      counts: Mapping[str, Sequence[int]] | None = None, ax=None):
    """Accuracy against the occluded share of the image, one line per reader (person, network...).

    Args:
        levels: occluded fractions (x axis). curves: ``{label: accuracies}`` aligned with ``levels``
            (``nan`` where a reader answered nothing). chance: a dashed line at the guessing rate.
        counts: optional ``{label: number of answers per level}``, written beside the points.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.8, 3.6))
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
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)  # beside, never over a line
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_feature_occlusion(images, feature, maps, classes: Sequence[str], *, window: int, stride: int, layer: str,
                           masks=None, targets=None, titles: Sequence[str] | None = None, top_patches=None):  # fmt: skip
    """Zeiler & Fergus (2013), Fig. 7 (b)-(d), one row per image: the image with one window drawn; the
    total activation of the strongest ``layer`` feature map against the window's position (b); the
    channel's top patches over a dataset, when given (c, "this map from other images"); the
    probability of the target class against the window's position (d).

    Args:
        images: ``(N, 3, H, W)`` in [0, 1]; feature: the
            :class:`~course_utils.attribution.OcclusionActivation` of those images; maps: their
            :class:`~course_utils.attribution.OcclusionMaps`; classes: the model's class names;
            window, stride: those of both maps; layer: the layer's name (for titles);
            masks: optional ``(N, H, W)`` bool object masks (outlined in cyan on both maps);
            targets: optional ``(N,)`` target classes (titles); titles: one per image;
            top_patches: optional ``(N, k, 3, s, s)`` patches of each row's channel.
    """
    activation = feature.activation.detach().cpu()
    probability = maps.probability.detach().cpu()
    count, rows, cols = probability.shape
    if activation.shape != probability.shape:
        raise ValueError(f"feature maps {tuple(activation.shape)} and probability maps {tuple(probability.shape)} differ")
    with_patches = top_patches is not None
    ncols = 4 if with_patches else 3
    fig, axes = plt.subplots(count, ncols, figsize=(3.0 * ncols, 2.8 * count), squeeze=False)
    extent = _map_extent(window, stride, rows, cols)
    for n in range(count):
        image = images[n].detach().cpu()
        height, width = image.shape[-2:]
        _show_image_with_window(axes[n, 0], image, window, stride, titles[n] if titles is not None else None)
        channel, clean = int(feature.channel[n]), float(feature.unoccluded[n])
        ax = axes[n, 1]
        shown = ax.imshow(activation[n].numpy(), extent=extent, cmap="viridis", vmin=0, vmax=max(clean, float(activation[n].max())),
                          interpolation="nearest")  # fmt: skip
        ax.set_title(f"(b) {layer} channel {channel}: total activation\n(unoccluded {clean:.1f}, min {activation[n].min():.1f})",
                     fontsize=8)  # fmt: skip
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        map_axes = [ax]
        if with_patches:
            ax = axes[n, 2]
            crops = top_patches[n].detach().cpu()
            side = int(np.ceil(np.sqrt(len(crops))))
            from ..filters import tile

            ax.imshow(to_display(tile(crops, side, separator=2, background=1.0)))
            ax.set_title(f"(c) top {len(crops)} patches of channel {channel}\n(other images)", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[n, ncols - 1]
        shown = ax.imshow(probability[n].numpy(), extent=extent, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        name = f" of {classes[int(targets[n])]}" if targets is not None else ""
        ax.set_title(f"(d) probability{name}\n(min {probability[n].min():.2f})", fontsize=8)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        map_axes.append(ax)
        for ax in [axes[n, 0], *map_axes]:
            ax.set_xlim(-0.5, width - 0.5)
            ax.set_ylim(height - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
        if masks is not None:
            for ax in map_axes:
                ax.contour(masks[n].detach().cpu().float().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    fig.tight_layout()
    return fig


def show_answers_by_level(levels, answers, classes: Sequence[str], *, ax=None):
    """What a reader answers at each occlusion level: stacked bars of the share of each class.

    Args:
        levels: ``(M,)`` occluded share of each item; answers: ``(M,)`` class indices given;
            classes: class names. Classes never answered are left out of the legend.
    """
    levels = np.round(np.asarray(levels, dtype=float), 2)
    answers = np.asarray(answers, dtype=int)
    unique = np.unique(levels)
    shares = np.array([[np.mean(answers[levels == level] == c) for c in range(len(classes))] for level in unique])  # (L, C)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 3.4))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    bottom = np.zeros(len(unique))
    labels = [f"{level:.0%}" for level in unique]
    for c in range(len(classes)):
        if shares[:, c].sum() == 0:
            continue
        ax.bar(labels, shares[:, c] * 100, bottom=bottom * 100, color=cmap(c % cmap.N), label=classes[c], width=0.7)
        bottom += shares[:, c]
    ax.set_xlabel("share of the image occluded")
    ax.set_ylabel("share of the answers (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    fig.tight_layout()
    return fig


def show_quiz_item(image, status: str, classes: Sequence[str]):
    """The quiz as it first appears: the status line, the image and one button per class (a picture)."""
    fig = plt.figure(figsize=(7.0, 3.4))
    ax = fig.add_axes((0.02, 0.05, 0.36, 0.8))
    ax.imshow(to_display(image.detach().cpu()), interpolation="nearest")
    ax.axis("off")
    fig.text(0.02, 0.93, status, fontsize=9)
    columns = 2
    for index, name in enumerate(classes):
        row, col = divmod(index, columns)
        x, y = 0.45 + col * 0.27, 0.78 - row * 0.15
        fig.text(x, y, name, fontsize=9, ha="left", va="center",
                 bbox=dict(boxstyle="round,pad=0.35", facecolor="0.92", edgecolor="0.6"))  # fmt: skip
    return fig
