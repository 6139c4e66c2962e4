"""Figures for adversarial and fooling examples (lecture 14); each function returns its ``Figure``."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..imaging import to_display

__all__ = ["show_adversarial", "plot_accuracy_under_attack", "plot_epsilon_vs_dimension", "show_hog_match", "plot_confidence_history"]


def show_adversarial(images, changed, titles: Sequence[str] | None = None, *, magnify: float = 10.0, labels=("original", "changed")):
    """Three rows: ``images``, ``changed`` (both ``(N, 3, H, W)`` in [0, 1]) and their difference
    magnified ``magnify`` times around grey (0.5 + magnify * (changed - images), clipped)."""
    images, changed = images.detach().cpu(), changed.detach().cpu()
    if images.shape != changed.shape:
        raise ValueError(f"images {tuple(images.shape)} and changed {tuple(changed.shape)} must have the same shape")
    difference = (0.5 + magnify * (changed - images)).clamp(0, 1)
    n = len(images)
    fig, axes = plt.subplots(3, n, figsize=(2.0 * n, 6.4), squeeze=False)
    rows = [(images, labels[0]), (changed, labels[1]), (difference, f"difference x{magnify:g}")]
    for r, (row, name) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(to_display(row[c]), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 1 and titles is not None:
                ax.set_title(titles[c], fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_under_attack(epsilons, curves: dict, *, title: str = "accuracy under attack"):
    """Accuracy versus epsilon (pixel units, shown in 1/255), one line per entry of ``curves``
    (e.g. ``{"FGSM": ..., "PGD": ...}`` from :func:`course_utils.adversarial.accuracy_under_attack`)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    x = np.asarray(epsilons, dtype=float) * 255
    markers = "osD^v"
    for index, (name, accuracy) in enumerate(curves.items()):
        ax.plot(x, np.asarray(accuracy, dtype=float), marker=markers[index % len(markers)], label=name)
    ax.set(xlabel="epsilon (x 1/255)", ylabel="accuracy", ylim=(0, 1.02), title=title)
    ax.set_xticks(x, [f"{value:g}" for value in x])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_epsilon_vs_dimension(result: dict):
    """The dict of :func:`course_utils.adversarial.epsilon_vs_dimension`: nudges versus dimension (log-log)."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.loglog(result["dimensions"], result["epsilon_for_change"], marker="o", label="nudge that shifts the score by 5")
    ax.loglog(result["dimensions"], result["epsilon"], marker="s", label="nudge that flips the decision")
    ax.set(xlabel="input dimension D (pixels used)", ylabel="epsilon per pixel")
    ax.minorticks_off()
    ax.set_xticks(result["dimensions"], [str(d) for d in result["dimensions"]])
    ticks = np.geomspace(max(min(result["epsilon"].min(), result["epsilon_for_change"].min()), 1e-6), max(result["epsilon_for_change"].max(), result["epsilon"].max()), 5)
    ax.set_yticks(ticks, [f"{t:.2g}" for t in ticks])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show_hog_match(start, result, target, start_hog, result_hog, target_hog):
    """The starting image, the optimized image and the target, above their descriptors."""
    fig = plt.figure(figsize=(9, 5))
    for i, (image, name) in enumerate([(start, "start"), (result, "optimized"), (target, "target")]):
        ax = fig.add_subplot(2, 3, i + 1)
        ax.imshow(to_display(image.detach().cpu()), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(2, 1, 2)
    for values, name, style in [(start_hog, "start", ":"), (target_hog, "target", "-"), (result_hog, "optimized", "--")]:
        ax.plot(torch.as_tensor(values).detach().cpu().numpy()[:200], style, label=name, lw=1)
    ax.set(xlabel="descriptor entry (first 200)", ylabel="HOG value")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_confidence_history(histories: dict, *, threshold: float | None = None):
    """Target probability per step, one entry per method: the line is the median over the images,
    the shaded band runs from the lowest to the highest image; ``threshold`` a dotted line."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for name, history in histories.items():
        history = torch.as_tensor(history).float()
        steps = np.arange(len(history))
        (line,) = ax.plot(steps, history.median(dim=1).values.numpy(), label=f"{name}: median")
        ax.fill_between(steps, history.min(dim=1).values.numpy(), history.max(dim=1).values.numpy(), alpha=0.2,
                        color=line.get_color(), label=f"{name}: lowest to highest")  # fmt: skip
    if threshold is not None:
        ax.axhline(threshold, color="k", lw=0.8, ls=":", label=f"goal {threshold:g}")
    n = torch.as_tensor(next(iter(histories.values()))).shape[1] if histories else 0
    ax.set(xlabel="step / generation", ylabel="p(target)", ylim=(0, 1.02), title=f"p(target) of {n} images, per step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
