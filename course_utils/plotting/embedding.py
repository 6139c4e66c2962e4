"""Figures of the representation space (lecture 04): 2-D maps coloured by class, nearest
neighbours of query images, and the t-SNE image grid."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ..embedding import grid_image
from ..imaging import to_display

__all__ = ["show_embedding", "show_neighbors", "show_image_grid", "show_layer_scores"]


def show_embedding(xy, labels, classes: Sequence[str], *, title: str | None = None, ax=None, size: float = 8):
    """Scatter a 2-D map ``xy (N, 2)`` with one colour per class (``labels (N,)`` index ``classes``)."""
    xy, labels = torch.as_tensor(xy).detach().cpu(), torch.as_tensor(labels).cpu()
    if xy.ndim != 2 or xy.shape[1] != 2 or len(labels) != len(xy):
        raise ValueError(f"xy must be (N, 2) with N labels, got xy {tuple(xy.shape)} and {len(labels)} labels")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 5))
    fig = ax.figure
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for index, name in enumerate(classes):
        chosen = labels == index
        if chosen.any():
            ax.scatter(xy[chosen, 0], xy[chosen, 1], s=size, color=colours(index % colours.N), label=name)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig


def show_neighbors(queries, base, indices: dict, *, query_labels=None, base_labels=None, cell: float = 1.1):
    """Each query image, then its nearest neighbours in ``base``, one block of columns per space.

    Args:
        queries: ``(Q, 3, H, W)``; base: ``(M, 3, H, W)`` images in [0, 1].
        indices: ``{space name: (Q, k) indices into base}``, e.g. code space and pixel space.
        query_labels, base_labels: when both are given, a neighbour of another class than its
            query gets a red frame, one of the same class a green frame.
    """
    blocks = {name: torch.as_tensor(index).cpu() for name, index in indices.items()}
    count, ks = len(queries), [index.shape[1] for index in blocks.values()]
    ncols = sum(k + 1 for k in ks)
    fig, axes = plt.subplots(count, ncols, figsize=(cell * ncols, cell * count + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    column = 0
    for (name, index), k in zip(blocks.items(), ks):
        axes[0, column].set_title(f"query | {name}", fontsize=9, loc="left")
        for row in range(count):
            axes[row, column].imshow(to_display(queries[row]))
            for j in range(k):
                ax = axes[row, column + 1 + j]
                ax.imshow(to_display(base[int(index[row, j])]))
                if query_labels is not None and base_labels is not None:
                    same = int(base_labels[int(index[row, j])]) == int(query_labels[row])
                    for spine in ax.spines.values():
                        spine.set_visible(True), spine.set_color("tab:green" if same else "tab:red")
                        spine.set_linewidth(2.5)
        column += k + 1
    fig.tight_layout(pad=0.3, w_pad=0.1, h_pad=0.1)
    return fig


def show_image_grid(images, cells, rows: int, cols: int, *, title: str | None = None, cell: float = 0.5):
    """The mosaic of :func:`course_utils.embedding.grid_image`: ``images[i]`` in cell ``cells[i]``."""
    fig, ax = plt.subplots(figsize=(cell * cols, cell * rows))
    ax.imshow(to_display(grid_image(images, cells, rows, cols)))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_layer_scores(names: Sequence[str], scores, *, chance: float | None = None, ylabel: str = "5-NN accuracy",
                      title: str | None = None):  # fmt: skip
    """A score per layer along the network (e.g. k-NN accuracy of each layer's codes), in order,
    with the chance level dashed."""
    scores = [float(score) for score in scores]
    if len(scores) != len(names):
        raise ValueError(f"got {len(names)} names but {len(scores)} scores")
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(names) + 1.5), 3.2))
    ax.plot(range(len(scores)), scores, "o-", color="#3182bd")
    for position, score in enumerate(scores):
        ax.annotate(f"{score:.0%}", (position, score), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if chance is not None:
        ax.axhline(chance, color="grey", lw=0.8, ls="--", label=f"chance ({chance:.0%})")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel(ylabel, fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig
