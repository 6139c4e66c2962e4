"""Filter mosaics and the frequency content of filters (lecture 02)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import filters
from ..imaging import to_display

__all__ = ["show_mosaic", "compare_normalizations", "show_frequency_content", "show_trained_and_random"]


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
        fig, axes = plt.subplots(2, 1, figsize=(width, 2 * width * aspect + (1.6 if mode == "channels" else 0.8)))
    else:
        fig, axes = plt.subplots(1, 2, figsize=(width, width / 2 * aspect + 0.4))
    for ax, image, normalize in zip(axes, images, ("per_filter", "global")):
        _draw(ax, image, f'normalize="{normalize}"')
        if mode == "channels":
            _label_channels(ax, filters._weight_tensor(weight).shape, options.get("separator", 1))
    fig.tight_layout()
    return fig


def _label_channels(ax, shape, separator: int) -> None:
    """Row labels (the filter) and column labels (its input channel) on a ``mode="channels"`` mosaic."""
    count, channels, kh, kw = shape
    ax.axis("on")
    for spine in ax.spines.values():
        spine.set_visible(False)
    step_y, step_x = kh + separator, kw + separator
    ax.set_yticks([row * step_y + (kh - 1) / 2 for row in range(count)], [str(row) for row in range(count)], fontsize=7)
    every = max(1, channels // 12)
    columns = list(range(0, channels, every))
    ax.set_xticks([c * step_x + (kw - 1) / 2 for c in columns], [str(c) for c in columns], fontsize=7)
    ax.tick_params(length=2)
    ax.set_ylabel("filter", fontsize=8)
    ax.set_xlabel("input channel (= first-layer filter whose map it weighs)", fontsize=8)


def show_frequency_content(weight, *, cutoff: float = 0.2, threshold: float = 0.7, size: int = 32,
                           remove_mean: bool = False):  # fmt: skip
    """Filters sorted by :func:`course_utils.filters.low_frequency_share`, beside the sorted shares.

    Left: the first-layer mosaic (per-filter normalization), smoothest filter first, read row by
    row. Right: the share of each filter's energy below ``cutoff`` cycles/pixel, same order, with
    ``threshold`` marked. ``weight`` needs 3 input channels (a first layer); ``remove_mean`` goes
    to ``low_frequency_share`` (the share of the pattern, each channel's mean removed).
    """
    share = filters.low_frequency_share(weight, cutoff=cutoff, size=size, remove_mean=remove_mean).cpu()
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
    what = "pattern energy (channel means removed)" if remove_mean else "energy"
    ax_bars.set_ylabel(f"share of {what}\nbelow {cutoff:g} cycles/px", fontsize=9)
    ax_bars.set_title(f"{smooth} of {len(share)} filters have >= {threshold:.0%} of their {what} at low frequency", fontsize=9)
    for spine in ("top", "right"):
        ax_bars.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig


def show_trained_and_random(trained, random, *, cutoff: float = 0.2, threshold: float = 0.7, size: int = 32,
                            remove_mean: bool = False):  # fmt: skip
    """The first layer of a trained network beside the same layer at its random initialization.

    Left and middle: both mosaics (per-filter normalization), each with the median low-frequency
    share in its title. Right: histograms of the shares of both (see
    :func:`course_utils.filters.low_frequency_share`; ``cutoff``, ``size``, ``remove_mean`` go to
    it), ``threshold`` marked. Both weights ``(C_out, 3, k, k)`` (tensors or ``nn.Conv2d``).
    """
    shares = [filters.low_frequency_share(w, cutoff=cutoff, size=size, remove_mean=remove_mean).cpu()
              for w in (trained, random)]  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    names = ("trained", "random initialization")
    colours = ("#3182bd", "#fd8d3c")
    for ax, weight, share, name in zip(axes, (trained, random), shares, names):
        _draw(ax, filters.mosaic(weight), f"{name}: median share {share.median():.2f}")
    bins = np.linspace(0, 1, 41)
    for share, name, colour in zip(shares, names, colours):
        axes[2].hist(share.numpy(), bins=bins, color=colour, alpha=0.75, label=f"{name} ({len(share)} filters)")
    axes[2].axvline(threshold, color="black", lw=0.8, ls="--")
    what = "pattern energy" if remove_mean else "energy"
    axes[2].set_xlabel(f"share of {what} below {cutoff:g} cycles/px")
    axes[2].set_ylabel("number of filters")
    axes[2].legend(fontsize=8, frameon=False, loc="upper center")
    for spine in ("top", "right"):
        axes[2].spines[spine].set_visible(False)
    fig.tight_layout()
    return fig
