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
    for column, name in enumerate(columns):
        axes[0, column].set_title(name, fontsize=10)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig

