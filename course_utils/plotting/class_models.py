"""Figures for class models and feature visualizations (lectures 09-10): rows of images, one row per
method, one column per class or unit, each row labelled on its left."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from ..imaging import to_display
from .synthesis import stretch


def show_rows(rows: Mapping[str, torch.Tensor], columns: Sequence[str] | None = None, *,
              stretched: Sequence[str] = (), captions: Mapping[str, Sequence[str]] | None = None,
              cell: float = 1.5):
    """A grid with one row per entry of ``rows`` (``label -> (N, 3, H, W)`` in [0, 1], the same ``N``).

    Args:
        rows: the images of each row, in order; the label is written on the row's left.
        columns: ``N`` column titles (e.g. class names), above the first row.
        stretched: labels of the rows shown with a per-image contrast stretch (:func:`.synthesis.stretch`);
            the others are shown as they are (pixel values in [0, 1]). A stretched row's label says so.
        captions: optional ``label -> N`` strings written under each image of that row (e.g. a probability).
        cell: the side of one image in inches.
    """
    labels = list(rows)
    counts = {len(images) for images in rows.values()}
    if len(counts) != 1:
        raise ValueError(f"every row needs the same number of images, got {[len(rows[k]) for k in labels]}")
    n = counts.pop()
    if columns is not None and len(columns) != n:
        raise ValueError(f"got {n} images per row but {len(columns)} column titles")
    captions = dict(captions or {})
    fig, axes = plt.subplots(len(labels), n, figsize=(cell * n + 1.2, (cell + 0.35) * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        images = rows[label].detach().float().cpu()
        shown = stretch(images) if label in stretched else images
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(to_display(shown[c]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and columns is not None:
                ax.set_title(columns[c], fontsize=8)
            if label in captions:
                ax.set_xlabel(captions[label][c], fontsize=7)
        axes[r, 0].set_ylabel(label + ("\n(contrast\nstretched)" if label in stretched else ""), fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["show_rows"]
