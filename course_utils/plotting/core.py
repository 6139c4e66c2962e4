"""Figures: image grids with titles, one example per class, top-k prediction bars, heatmap overlays,
receptive fields, confusion matrices.

Every function draws with matplotlib and returns the ``Figure`` so notebooks can tweak or
save it; nothing here changes the tensors it is given.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patches as mpatches

from ..imaging import to_display


def _grid(count: int, ncols: int | None, cell: float, extra_height: float = 0.0):
    ncols = ncols or min(count, 6)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, (cell + extra_height) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def show_images(images, titles: Sequence[str] | None = None, *, ncols: int | None = None, cell: float = 2.2):
    """Show ``(N, 3, H, W)`` images in [0, 1] (or a list of ``(3, H, W)``) in a grid with titles."""
    images = list(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    fig, axes = _grid(len(images), ncols, cell, extra_height=0.3 if titles else 0.0)
    for index, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(to_display(image), interpolation="nearest" if image.shape[-1] <= 64 else "antialiased")
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    fig.tight_layout()
    return fig


def show_predictions(images, predictions, titles: Sequence[str] | None = None, *, ncols: int = 3):
    """Each image beside a bar chart of its top-k ``(class name, probability)`` pairs."""
    images = list(images)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(5.6 * ncols, 2.2 * nrows), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3] * ncols, "wspace": 0.15})  # fmt: skip
    for ax in axes.flat:
        ax.axis("off")
    for index, (image, pairs) in enumerate(zip(images, predictions)):
        row, col = divmod(index, ncols)
        ax_image, ax_bars = axes[row, 2 * col], axes[row, 2 * col + 1]
        ax_image.imshow(to_display(image))
        if titles is not None:
            ax_image.set_title(titles[index], fontsize=9)
        names, probs = zip(*pairs)
        ax_bars.axis("on")
        positions = np.arange(len(names))[::-1]
        ax_bars.barh(positions, probs, color="#9ecae1", height=0.8)
        for position, name, prob in zip(positions, names, probs):  # labels on the bars: no overlap
            ax_bars.text(0.02, position, f"{name[:28]}  {prob:.0%}", va="center", fontsize=8)
        ax_bars.set_yticks([])
        ax_bars.set_xlim(0, 1)
        ax_bars.tick_params(axis="x", labelsize=7)
        for spine in ("top", "right", "left"):
            ax_bars.spines[spine].set_visible(False)
    fig.subplots_adjust(left=0.02, right=0.98, hspace=0.35)
    return fig


def heatmap_overlay(image: torch.Tensor, heatmap: torch.Tensor, *, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a ``(H, W)`` heatmap (any range, min-max scaled) over a ``(3, H, W)`` image.

    Returns an ``(H, W, 3)`` float array in [0, 1] for ``plt.imshow``.
    """
    if heatmap.ndim != 2 or heatmap.shape != image.shape[-2:]:
        raise ValueError(f"heatmap must be (H, W) = {tuple(image.shape[-2:])}, got {tuple(heatmap.shape)}")
    heat = heatmap.detach().float().cpu()
    heat = (heat - heat.min()) / (heat.max() - heat.min()).clamp(min=1e-12)
    coloured = plt.get_cmap(cmap)(heat.numpy())[..., :3]
    return (1 - alpha) * to_display(image) + alpha * coloured


def show_heatmaps(images, heatmaps, titles: Sequence[str] | None = None, *, alpha: float = 0.5, ncols: int | None = None):
    """A grid of :func:`heatmap_overlay` pictures."""
    images, heatmaps = list(images), list(heatmaps)
    fig, axes = _grid(len(images), ncols, 2.4, extra_height=0.3 if titles else 0.0)
    for index, (ax, image, heat) in enumerate(zip(axes, images, heatmaps)):
        ax.imshow(heatmap_overlay(image, heat, alpha=alpha))
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    fig.tight_layout()
    return fig


def show_receptive_fields(image: torch.Tensor, rows, *, ax=None):
    """Draw the receptive field of the centre unit of each layer in ``rows`` on ``image``.

    ``rows`` are :class:`course_utils.patches.LayerInfo` with a receptive field; the centre
    unit's field is centred at ``start + jump * (n // 2)`` for an output of side ``n``.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    ax.imshow(to_display(image))
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(rows)))
    for row, colour in zip(rows, colours):
        side = row.output_shape[-1]
        centre = row.start + row.jump * (side // 2)
        corner = centre - (row.receptive_field - 1) / 2 - 0.5
        ax.add_patch(mpatches.Rectangle((corner, corner), row.receptive_field, row.receptive_field,
                                        fill=False, lw=2, color=colour, label=f"{row.name}: {row.receptive_field}px"))  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    ax.set_xlim(-0.5, image.shape[-1] - 0.5)
    ax.set_ylim(image.shape[-2] - 0.5, -0.5)
    ax.axis("off")
    return fig


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, count: int) -> torch.Tensor:
    """``(count, count)`` row percentages: cell ``(i, j)`` is the share (in %) of the images of true
    class ``i`` that were predicted as ``j``; each non-empty row sums to 100."""
    labels, predictions = torch.as_tensor(labels).reshape(-1).cpu(), torch.as_tensor(predictions).reshape(-1).cpu()
    if len(labels) != len(predictions):
        raise ValueError(f"got {len(labels)} labels but {len(predictions)} predictions")
    matrix = torch.zeros(count, count)
    matrix.index_put_((labels.long(), predictions.long()), torch.ones(len(labels)), accumulate=True)
    return 100 * matrix / matrix.sum(1, keepdim=True).clamp(min=1)


def show_confusion(labels: torch.Tensor, predictions: torch.Tensor, classes: Sequence[str], *, title: str | None = None):
    """Confusion matrix (rows: true class, columns: predicted) as row percentages, with a colourbar:
    each row sums to 100% (see :func:`confusion_matrix`)."""
    count = len(classes)
    matrix = confusion_matrix(labels, predictions, count)
    fig, ax = plt.subplots(figsize=(0.55 * count + 3, 0.55 * count + 1.3))
    shown = ax.imshow(matrix.numpy(), cmap="Blues", vmin=0, vmax=100)
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("% of the true class's images (row percentages)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax.set_xticks(range(count), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(count), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix: each row sums to 100%", fontsize=9)
    for i in range(count):
        for j in range(count):
            if matrix[i, j] >= 0.5:
                ax.text(j, i, f"{matrix[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > 50 else "black")  # fmt: skip
    fig.tight_layout()
    return fig


def show_class_examples(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], *, ncols: int | None = None,
                        cell: float = 1.6):  # fmt: skip
    """One example of each class: the first image of each of ``classes`` in ``images (N, 3, H, W)``
    (``labels (N,)`` index ``classes``), titled with its class. Every class needs an image."""
    labels = torch.as_tensor(labels).reshape(-1).cpu()
    if len(labels) != len(images):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    missing = [name for index, name in enumerate(classes) if not (labels == index).any()]
    if missing:
        raise ValueError(f"no image of the classes {missing}: pass more images")
    first = [int((labels == index).nonzero()[0]) for index in range(len(classes))]
    return show_images(images[first], [f"{index}: {name}" for index, name in enumerate(classes)],
                       ncols=ncols or min(len(classes), 5), cell=cell)  # fmt: skip


def show_preprocessing(original: torch.Tensor, resized: torch.Tensor, normalized: torch.Tensor):
    """Original photo, the resized and cropped network input, and per-channel histograms of the
    input before and after normalization (``(3, H, W)`` tensors; ``normalized`` is unbounded)."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.3), gridspec_kw={"width_ratios": [1.3, 1, 1.2, 1.2]})
    axes[0].imshow(to_display(original))
    axes[0].set_title(f"original {original.shape[-2]}x{original.shape[-1]}", fontsize=9)
    axes[1].imshow(to_display(resized))
    axes[1].set_title(f"network input {resized.shape[-2]}x{resized.shape[-1]}", fontsize=9)
    for ax in axes[:2]:
        ax.axis("off")
    for ax, tensor, title in ((axes[2], resized, "pixels in [0, 1]"), (axes[3], normalized, "after (x - mean) / std")):
        for channel, colour in enumerate(("red", "green", "blue")):
            ax.hist(tensor[channel].flatten().cpu().numpy(), bins=50, histtype="step", color=colour,
                    label=f"{colour} channel")  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("value", fontsize=8)
        ax.set_ylabel("number of pixels", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    axes[3].axvline(0, color="black", lw=0.8)
    fig.tight_layout()
    return fig
