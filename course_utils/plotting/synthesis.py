"""Figures for optimized images (lectures 09-13): images with a contrast stretch, and histories."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from .core import show_images


def stretch(images: torch.Tensor, percentile: float = 1.0) -> torch.Tensor:
    """Per-image contrast stretch of ``(N, 3, H, W)``: the ``percentile`` and ``100 - percentile``
    percentiles map to 0 and 1 (display only: optimized images are often low in contrast)."""
    flat = images.detach().float().flatten(1)  # (N, 3*H*W)
    low = torch.quantile(flat, percentile / 100, dim=1).view(-1, 1, 1, 1)
    high = torch.quantile(flat, 1 - percentile / 100, dim=1).view(-1, 1, 1, 1)
    return ((images.detach().float() - low) / (high - low).clamp(min=1e-6)).clamp(0, 1)


def show_optimized(images: torch.Tensor, titles: Sequence[str] | None = None, *, contrast: bool = True,
                   ncols: int | None = None, cell: float = 2.2):
    """Optimized images in a grid, contrast-stretched per image unless ``contrast=False``."""
    return show_images(stretch(images) if contrast else images, titles, ncols=ncols, cell=cell)


def show_history(history: torch.Tensor, labels: Sequence[str] | None = None, *, ylabel: str = "objective",
                 title: str | None = None, ax=None):
    """Curves of a ``(steps, N)`` history (one line per image) against the step."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    history = torch.as_tensor(history).detach().cpu()
    for index in range(history.shape[1]):
        ax.plot(history[:, index].numpy(), label=None if labels is None else labels[index])
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if labels is not None:
        ax.legend(fontsize=7, ncol=2, frameon=False)
    fig.tight_layout()
    return fig


__all__ = ["stretch", "show_optimized", "show_history"]


def show_grams(grams: Sequence[torch.Tensor], titles: Sequence[str] | None = None, *, cell: float = 2.2,
               shared_scale: bool = False):  # fmt: skip
    """Gram matrices as images, one panel each: ``(C, C)`` or ``(1, C, C)`` (lecture 13).

    Each panel has a colourbar; each matrix has its own colour scale, or, with ``shared_scale``,
    one scale for all (to compare the Gram matrices of different images at the same layer). The
    panel's title gets the matrix size ``C x C``.
    """
    grams = [torch.as_tensor(gram).detach().float().cpu().reshape(gram.shape[-2], gram.shape[-1]) for gram in grams]
    if titles is not None and len(titles) != len(grams):
        raise ValueError(f"got {len(grams)} Gram matrices but {len(titles)} titles")
    limits = {}
    if shared_scale:
        limits = {"vmin": min(float(g.min()) for g in grams), "vmax": max(float(g.max()) for g in grams)}
    fig, axes = plt.subplots(1, len(grams), figsize=((cell + 0.5) * len(grams), cell + 0.4), squeeze=False)
    for index, (ax, gram) in enumerate(zip(axes.flat, grams)):
        shown = ax.imshow(gram.numpy(), cmap="viridis", interpolation="nearest", **limits)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
        size = f"{gram.shape[0]} x {gram.shape[1]}"
        ax.set_title(size if titles is None else f"{titles[index]}\n{size}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


__all__ += ["show_grams"]
