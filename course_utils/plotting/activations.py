"""Feature maps of a layer, deepvis-style, and how often units fire (lecture 06)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import patches as mpatches

from .. import activations as acts
from .. import patches
from ..filters import tile
from ..imaging import check_images, to_display

__all__ = ["activation_grid", "show_activations", "show_unit_statistics"]


def activation_grid(maps: torch.Tensor, *, ncols: int | None = None, separator: int = 1,
                    per_channel: bool = False) -> tuple[torch.Tensor, int]:  # fmt: skip
    """All channels of one image's feature maps ``(C, h, w)`` as one grayscale image ``(3, H, W)``.

    ``per_channel=False`` (default): one scale for the whole layer (0 or the layer's minimum is black,
    its maximum white), so weak and silent channels look dark, as in the deepvis toolbox.
    ``per_channel=True``: each map scaled to its own range (0 black, the map's maximum white), so the
    *shape* of a weak map is visible too; a silent map stays black. Returns the image and the number
    of columns used (default ``ceil(sqrt(C))``).
    """
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (C, h, w), got {tuple(maps.shape)}")
    maps = maps.detach().float().cpu()
    ncols = ncols or int(np.ceil(np.sqrt(len(maps))))
    if per_channel:
        low = maps.flatten(1).amin(1).clamp(max=0.0)[:, None, None]  # (C, 1, 1)
        high = maps.flatten(1).amax(1)[:, None, None]
        scaled = (maps - low) / (high - low).clamp(min=1e-12)
    else:
        low = min(float(maps.min()), 0.0)
        scaled = (maps - low) / max(float(maps.max()) - low, 1e-12)  # (C, h, w) in [0, 1]
    return tile(scaled[:, None].expand(-1, 3, -1, -1), ncols, separator=separator, background=0.35), ncols


def _single_image(image: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` or ``(1, 3, H, W)`` -> checked ``(1, 3, H, W)``."""
    if isinstance(image, torch.Tensor) and image.ndim == 3:
        image = image[None]
    check_images(image, "image")
    if len(image) != 1:
        raise ValueError(f"show one image (3, H, W) or (1, 3, H, W), got {len(image)} images")
    return image


def show_activations(
    model,
    image: torch.Tensor,
    layer: str,
    *,
    channel: int | None = None,
    dataset=None,
    k: int = 9,
    maps: torch.Tensor | None = None,
    top=None,
    patch_size: int = 32,
    one_per_image: bool = True,
    title: str | None = None,
    mask: torch.Tensor | None = None,
    label: str | None = None,
    per_channel: bool = True,
):
    """The deepvis view of one layer for one image, as a static figure.

    Left: the image, and below it the chosen channel, upsampled, over the image (with a colourbar of
    its activation). Right, large: every channel of ``layer`` (by default each map scaled to its own
    maximum, see :func:`activation_grid`), the chosen channel framed in red, the object's outline in
    cyan on every map when ``mask`` is given. Bottom (when ``dataset`` is given): the receptive
    fields of the channel's ``k`` strongest units over ``dataset``
    (:func:`course_utils.patches.top_activations` and :func:`~course_utils.patches.top_patches`; grey
    where a field leaves the image), with their values.

    Args:
        model: a course model; not changed (eval mode, no gradients, hooks always removed).
        image: ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].
        layer: a layer name whose output is ``(N, C, h, w)``.
        channel: the channel to enlarge (default: the channel with the largest activation here).
        dataset: images ``(N, 3, H, W)`` (or a Dataset) to rank patches over.
        k: number of top patches.
        maps: the layer's ``(C, h, w)`` maps for ``image`` when already computed (the explorer).
        top: a :class:`course_utils.patches.TopActivations` of this one channel over ``dataset``,
            already computed (saves streaming the dataset again).
        patch_size: side of the drawn patches.
        one_per_image: take each dataset image at most once among the top patches (default), so
            that neighbouring positions of one image do not fill the row.
        title: the input's title; mask: optional ``(H, W)`` bool object mask (outlined on the maps);
        label: the layer's name in the text (e.g. ``"conv1 (features.1)"``, default ``layer``);
        per_channel: scale each map of the grid to its own maximum (default) or the layer to one scale.

    Axes, in order: the input, the grid, the overlay, the ``k`` patches, the overlay's colourbar.

    Returns:
        the ``Figure``.
    """
    image = _single_image(image)
    if maps is None:
        maps = acts.feature_maps(model, image, layer)[0]
    if maps.ndim != 3:
        raise ValueError(
            f"layer {layer!r} gives {tuple(maps.shape)} per image: show_activations needs spatial maps (C, h, w); "
            "pick a convolutional layer, e.g. one of course_utils.activations.default_layers(model)"
        )
    maps = maps.detach().float().cpu()
    count = len(maps)
    if channel is None:
        channel = int(maps.flatten(1).amax(1).argmax())
    if not isinstance(channel, int) or not 0 <= channel < count:
        raise ValueError(f"channel must be an int in [0, {count - 1}] (layer {layer!r} has {count} channels), got {channel!r}")
    with_patches = dataset is not None
    if with_patches:
        if top is None:
            top = patches.top_activations(model, dataset, layer, k=k, channels=[channel], one_per_image=one_per_image)
        crops, _ = patches.top_patches(model, dataset, layer, top, size=patch_size)  # (1, k, 3, s, s)
    name = label or layer
    fig = plt.figure(figsize=(12, 7.4 + (2.0 if with_patches else 0)))
    grid = fig.add_gridspec(3 if with_patches else 2, 2, width_ratios=[1, 2.3],
                            height_ratios=[1, 1, 0.62] if with_patches else [1, 1])  # fmt: skip
    ax_image = fig.add_subplot(grid[0, 0])
    ax_grid = fig.add_subplot(grid[0:2, 1])
    ax_over = fig.add_subplot(grid[1, 0])
    picture = image[0].cpu()
    ax_image.imshow(to_display(picture))
    ax_image.set_title(title or "input", fontsize=10)
    mosaic, ncols = activation_grid(maps, per_channel=per_channel)
    ax_grid.imshow(to_display(mosaic), interpolation="nearest")
    h, w = maps.shape[-2:]
    if mask is not None:
        small = F.interpolate(mask.detach().float().cpu()[None, None], size=(h, w), mode="area")[0, 0]  # (h, w)
        outline = tile(small[None, None].expand(count, 3, -1, -1).contiguous(), ncols, separator=1, background=0.0)[0]
        ax_grid.contour(outline.numpy(), levels=[0.5], colors="cyan", linewidths=0.6)
        ax_image.contour(mask.detach().cpu().float().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    row, col = divmod(channel, ncols)
    ax_grid.add_patch(mpatches.Rectangle((col * (w + 1) - 1, row * (h + 1) - 1), w + 1, h + 1, fill=False, color="red", lw=1.5))
    scale = "each map scaled to its own maximum, black = 0" if per_channel else "one grey scale for the layer"
    ax_grid.set_title(f"{name}: all {count} channels ({h}x{w} each; {scale})"
                      + ("; cyan: the object's outline" if mask is not None else ""), fontsize=10)  # fmt: skip
    heat = F.interpolate(maps[channel][None, None], size=picture.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    ax_over.imshow(to_display(picture))
    peak = max(float(maps[channel].max()), 1e-6)  # the map's own maximum (upsampling smooths the peak)
    shown = ax_over.imshow(heat.clamp(min=0).numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=peak)
    if mask is not None:
        ax_over.contour(mask.detach().cpu().float().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    ax_over.set_title(f"{name} channel {channel} over the image: max {float(maps[channel].max()):.2f}", fontsize=10)
    for ax in (ax_image, ax_grid, ax_over):
        ax.axis("off")
    if with_patches:
        cells = grid[2, :].subgridspec(1, crops.shape[1], wspace=0.08)
        for index, (crop, value) in enumerate(zip(crops[0], top.values[0].tolist())):
            ax = fig.add_subplot(cells[0, index])
            ax.imshow(to_display(crop))
            ax.set_title(f"{value:.2f}", fontsize=9)
            ax.axis("off")
        fig.text(0.5, 0.015, f"top-{crops.shape[1]} patches of {name} channel {channel} over the dataset "
                 f"({'one per image, ' if one_per_image else ''}receptive fields, activation above each)", ha="center", fontsize=10)  # fmt: skip
    fig.subplots_adjust(left=0.02, right=0.98, top=0.95, bottom=0.05 if with_patches else 0.02, wspace=0.06, hspace=0.22)
    fig.colorbar(shown, ax=ax_over, fraction=0.046, pad=0.02, label="activation")
    return fig


def show_unit_statistics(statistics: dict, *, labels: dict | None = None):
    """How often units fire, layer by layer: ``statistics`` maps layer names to
    :class:`course_utils.activations.UnitStatistics` (in depth order); ``labels`` optionally maps
    layer names to the names the text uses (:func:`course_utils.activations.layer_labels`).

    Left: each layer's active fractions, sorted (x: the unit's rank as a share of the layer).
    Right: the share of dead and always-on units per layer, with their counts.
    """
    fig, (ax_curves, ax_bars) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(statistics)))
    names = [(labels or {}).get(name, name) for name in statistics]
    for name, stats, colour in zip(names, statistics.values(), colours):
        fraction = stats.active_fraction.sort(descending=True).values.numpy()
        ax_curves.plot(np.linspace(0, 1, len(fraction)), fraction, color=colour, lw=2, label=f"{name} ({len(fraction)} units)")
    ax_curves.set_xlabel("units, most active first (share of the layer)")
    ax_curves.set_ylabel("share of (image, position) where active")
    ax_curves.set_ylim(0, 1)
    ax_curves.legend(fontsize=8)
    positions = np.arange(len(names))
    dead = np.array([float(s.dead.float().mean()) for s in statistics.values()])
    always = np.array([float(s.always_on.float().mean()) for s in statistics.values()])
    ax_bars.bar(positions - 0.2, dead, width=0.4, color="#636363", label="dead (never active)")
    ax_bars.bar(positions + 0.2, always, width=0.4, color="#fd8d3c", label="always on (never cut by the ReLU)")
    for position, stats, d, a in zip(positions, statistics.values(), dead, always):
        ax_bars.text(position - 0.2, d + 0.01, str(int(stats.dead.sum())), ha="center", fontsize=8)
        ax_bars.text(position + 0.2, a + 0.01, str(int(stats.always_on.sum())), ha="center", fontsize=8)
    ax_bars.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
    ax_bars.set_ylim(0, max(0.1, float(max(dead.max(), always.max())) * 1.2))
    ax_bars.set_ylabel("share of the layer's units")
    ax_bars.legend(fontsize=8)
    for ax in (ax_curves, ax_bars):
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig
