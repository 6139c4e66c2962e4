"""Filter mosaics and the frequency content of filters (lecture 02)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import filters
from ..imaging import to_display

__all__ = ["show_mosaic", "compare_normalizations", "show_frequency_content"]


def _draw(ax, image, title: str | None) -> None:
    ax.imshow(to_display(image), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)


def show_mosaic(weight, *, title: str | None = None, ax=None, width: float = 5.0, **options):
    """Draw :func:`course_utils.filters.mosaic` of ``weight``; ``options`` go to ``mosaic``."""
    image = filters.mosaic(weight, **options)
    if ax is None:
        height, side = image.shape[1], image.shape[2]
        fig, ax = plt.subplots(figsize=(width, max(1.0, width * height / side)))
    else:
        fig = ax.figure
    _draw(ax, image, title)
    return fig


def compare_normalizations(weight, *, mode: str = "rgb", width: float = 10.0, **options):
    """The same mosaic with per-filter and with global normalization, side by side (one above the
    other when the mosaic is wide, as in ``mode="channels"``)."""
    images = [filters.mosaic(weight, normalize=n, mode=mode, **options) for n in ("per_filter", "global")]
    aspect = images[0].shape[1] / images[0].shape[2]  # height / width
    stacked = aspect < 0.7
    if stacked:
        fig, axes = plt.subplots(2, 1, figsize=(width, 2 * width * aspect + 0.8))
    else:
        fig, axes = plt.subplots(1, 2, figsize=(width, width / 2 * aspect + 0.4))
    for ax, image, normalize in zip(axes, images, ("per_filter", "global")):
        _draw(ax, image, f'normalize="{normalize}"')
    fig.tight_layout()
    return fig


def show_frequency_content(weight, *, cutoff: float = 0.2, threshold: float = 0.7, size: int = 32):
    """Filters sorted by :func:`course_utils.filters.low_frequency_share`, beside the sorted shares.

    Left: the first-layer mosaic (per-filter normalization), smoothest filter first, read row by
    row. Right: the share of each filter's energy below ``cutoff`` cycles/pixel, same order, with
    ``threshold`` marked. ``weight`` needs 3 input channels (a first layer).
    """
    share = filters.low_frequency_share(weight, cutoff=cutoff, size=size).cpu()
    order = share.argsort(descending=True)
    tensor = filters._weight_tensor(weight)
    fig, (ax_mosaic, ax_bars) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    _draw(ax_mosaic, filters.mosaic(tensor[order.to(tensor.device)]), "filters, smoothest first (row by row)")
    smooth = int((share >= threshold).sum())
    colours = np.where(share[order].numpy() >= threshold, "#3182bd", "#fd8d3c")
    ax_bars.bar(np.arange(len(share)), share[order].numpy(), color=colours, width=0.85)
    ax_bars.axhline(threshold, color="black", lw=0.8, ls="--")
    ax_bars.set_ylim(0, 1)
    ax_bars.set_xlim(-0.7, len(share) - 0.3)
    ax_bars.set_xlabel("filter rank (smoothest first)")
    ax_bars.set_ylabel(f"energy share below {cutoff:g} cycles/px")
    ax_bars.set_title(f"{smooth} of {len(share)} filters have >= {threshold:.0%} of their energy at low frequency", fontsize=9)
    for spine in ("top", "right"):
        ax_bars.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig
