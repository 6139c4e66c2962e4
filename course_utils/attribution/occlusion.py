"""Occlusion maps (Zeiler & Fergus 2013, *Visualizing and understanding convolutional networks*, Sec. 4.2).

Slide a square occluder over the image and watch the classifier: where covering the image
makes the probability of the class drop, the network was looking. Every window position of
every image is one forward pass, so the positions are stacked into large batches.

The windows of one image form a grid: with image side ``H`` (and ``W``), window ``k`` and stride
``s`` there are ``h = (H - k) // s + 1`` rows of positions (and ``w`` columns); position
``(i, j)`` covers the pixels ``[i s, i s + k) x [j s, j s + k)``. This is the grid of Captum's
``Occlusion`` with ``sliding_window_shapes=(3, k, k)`` and ``strides=(3, s, s)``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence, Union

import torch

from .. import hooks
from ..config import progress
from ..imaging import check_images, gaussian_blur
from ..targets import resolve_targets

__all__ = ["OcclusionMaps", "OcclusionActivation", "occlusion", "occlusion_activation", "occlude", "replacement_classes",
           "window_grid"]

Baseline = Union[float, Sequence[float], torch.Tensor, str]
Target = Union[None, int, str, Sequence, torch.Tensor]

# Memory for one batch of occluded images and the activations they create. A conv net's widest
# layers hold about 20-40 times the input (VGG's first block: 64 channels at full resolution).
_ACTIVATION_FACTOR = 40
_MEMORY_CAP = {"cpu": 512 * 2**20, "cuda": 4 * 2**30}
_MAX_BATCH = 4096


class OcclusionMaps(NamedTuple):
    """What :func:`occlusion` returns (index ``[n, i, j]``: image ``n``, window row ``i``, column ``j``)."""

    probability: torch.Tensor  #: (N, h, w) float: softmax probability of the target class
    top_class: torch.Tensor  #: (N, h, w) int64: the most probable class with the window there


class OcclusionActivation(NamedTuple):
    """What :func:`occlusion_activation` returns (index ``[n, i, j]`` as in :class:`OcclusionMaps`)."""

    activation: torch.Tensor  #: (N, h, w) float: the channel's total activation with the window at (i, j)
    channel: torch.Tensor  #: (N,) int64: the channel followed for each image
    unoccluded: torch.Tensor  #: (N,) float: its total activation on the unoccluded image


def window_grid(height: int, width: int, window: int, stride: int) -> tuple[int, int]:
    """The number ``(h, w)`` of window positions along each axis; clear errors for bad sizes."""
    for name, value in (("window", window), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a positive int (pixels), got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be a positive number of pixels, got {value}")
    if window > min(height, width):
        raise ValueError(
            f"window {window} is larger than the images ({height}x{width}); "
            f"use a window between 1 and {min(height, width)} pixels"
        )
    return (height - window) // stride + 1, (width - window) // stride + 1


def _baseline_images(images: torch.Tensor, baseline: Baseline, window: int, blur_sigma: float | None) -> torch.Tensor:
    """What the occluder shows: ``(N, 3, 1, 1)`` colours or ``(N, 3, H, W)`` (``"blur"``)."""
    if isinstance(baseline, str):
        if baseline == "mean":
            return images.mean(dim=(2, 3), keepdim=True)  # (N, 3, 1, 1): each image's mean colour
        if baseline == "blur":
            return gaussian_blur(images, blur_sigma if blur_sigma is not None else window / 2)
        raise ValueError(f"unknown baseline {baseline!r}; use a pixel value in [0, 1], an RGB triple, 'mean' or 'blur'")
    value = torch.as_tensor(baseline, dtype=images.dtype, device=images.device)
    if value.numel() not in (1, 3) or not torch.isfinite(value).all() or value.min() < 0 or value.max() > 1:
        raise ValueError(
            f"baseline must be a pixel value or an RGB triple in [0, 1] (0 is black, 0.5 grey), "
            f"'mean' or 'blur'; got {baseline!r}"
        )
    return value.reshape(1, -1, 1, 1)  # (1, 1 or 3, 1, 1): broadcast over images


def _targets(model, target: Target, count: int, images: torch.Tensor) -> torch.Tensor:
    """Class indices ``(count,)``: the predicted class for ``None``, else :func:`course_utils.targets.resolve_targets`."""
    if target is None:
        return model(images).argmax(dim=1)
    return resolve_targets(model, target, count, images.device)


def _default_batch_size(images: torch.Tensor) -> int:
    """Occluded images per forward pass, from a memory cap for the device."""
    cap = _MEMORY_CAP["cuda" if images.device.type == "cuda" else "cpu"]
    if images.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(images.device)
        cap = min(cap, free // 4)
    per_image = images[0].numel() * images.element_size() * _ACTIVATION_FACTOR
    return int(max(1, min(_MAX_BATCH, cap // per_image)))


def _window_masks(positions: torch.Tensor, grid_w: int, height: int, width: int, window: int, stride: int) -> torch.Tensor:
    """Boolean masks ``(P, 1, H, W)`` of the windows at flat ``positions`` (``row * grid_w + col``)."""
    top = (positions // grid_w) * stride  # (P,)
    left = (positions % grid_w) * stride
    ys = torch.arange(height, device=positions.device)
    xs = torch.arange(width, device=positions.device)
    rows = (ys >= top[:, None]) & (ys < top[:, None] + window)  # (P, H)
    cols = (xs >= left[:, None]) & (xs < left[:, None] + window)  # (P, W)
    return (rows[:, :, None] & cols[:, None, :])[:, None]  # (P, 1, H, W)


def _occluded_chunk(images, base, flat, positions_per_image, grid_w, window, stride) -> torch.Tensor:
    """The occluded images of flat indices ``flat`` (``image * P + position``), ``(B, 3, H, W)``."""
    image_index = flat // positions_per_image  # (B,)
    masks = _window_masks(flat % positions_per_image, grid_w, images.shape[-2], images.shape[-1], window, stride)
    fill = base[image_index] if base.shape[0] > 1 else base  # (B, 3, 1, 1) or (B, 3, H, W)
    return torch.where(masks, fill, images[image_index])  # (B, 3, H, W)


def _occluded_batches(images, base, positions, grid_w, window, stride, batch_size, desc):
    """Yield ``(flat, occluded)``: flat indices ``image * positions + position`` and their images."""
    total = len(images) * positions
    starts = range(0, total, batch_size)
    for start in progress(starts, desc=desc, total=len(starts)):
        flat = torch.arange(start, min(start + batch_size, total), device=images.device)  # (B,)
        yield flat, _occluded_chunk(images, base, flat, positions, grid_w, window, stride)


def _check_batch_size(batch_size) -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None (chosen from memory), got {batch_size!r}")


def occlude(images: torch.Tensor, *, window: int, stride: int, baseline: Baseline = 0.5,
            blur_sigma: float | None = None) -> torch.Tensor:
    """All occluded versions of ``images``: ``(N, h, w, 3, H, W)`` (for display and checks).

    ``occluded[n, i, j]`` is image ``n`` with the window at row ``i``, column ``j`` replaced by the
    baseline (see :func:`occlusion`). It holds ``N h w`` images: use it on small inputs only;
    :func:`occlusion` builds the same images chunk by chunk.

    Example:
        >>> occlude(torch.rand(1, 3, 8, 8), window=4, stride=4).shape
        torch.Size([1, 2, 2, 3, 8, 8])
    """
    check_images(images)
    grid_h, grid_w = window_grid(images.shape[-2], images.shape[-1], window, stride)
    base = _baseline_images(images, baseline, window, blur_sigma)
    positions = grid_h * grid_w
    flat = torch.arange(len(images) * positions, device=images.device)
    out = _occluded_chunk(images, base, flat, positions, grid_w, window, stride)
    return out.reshape(len(images), grid_h, grid_w, *images.shape[1:])


@torch.no_grad()
def occlusion(
    model,
    images: torch.Tensor,
    target: Target = None,
    *,
    window: int,
    stride: int,
    baseline: Baseline = 0.5,
    batch_size: int | None = None,
    blur_sigma: float | None = None,
) -> OcclusionMaps:
    """Occlusion maps: the class probability as a square occluder slides over each image.

    Zeiler & Fergus (2013), Sec. 4.2 and Fig. 7: ``probability[n, i, j] = softmax(f(x_n with window
    (i, j) replaced by the baseline))[target_n]``.

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1] and returning scores ``(N, C)``.
        images: ``(N, 3, H, W)`` float in [0, 1], on the model's device.
        target: the class to follow: ``None`` (default) the class each *unoccluded* image is
            predicted as, an ``int``, a class name (``model.classes``), or one int/name per image.
        window: side of the square occluder in pixels, ``1 <= window <= min(H, W)``.
        stride: step between window positions in pixels, ``>= 1``. The maps have
            ``h = (H - window) // stride + 1`` rows and ``w = (W - window) // stride + 1`` columns.
        baseline: what the occluder shows: a pixel value (default 0.5, grey; 0 is black, which
            is *not* the dataset mean since normalization happens inside the model), an RGB
            triple, ``"mean"`` (each image's mean colour) or ``"blur"`` (the image blurred with a
            Gaussian of standard deviation ``blur_sigma``, default ``window / 2``).
        batch_size: occluded images per forward pass (over all positions of all images); by
            default chosen from a memory cap for the device.

    Returns:
        :class:`OcclusionMaps` with ``probability (N, h, w)`` float and ``top_class (N, h, w)``
        int64, on the images' device. The model is left as it was (mode, hooks, gradients).

    Example:
        >>> maps = occlusion(model, images, window=16, stride=4)
        >>> maps.probability.shape  # (N, 13, 13) for 64x64 images
    """
    check_images(images)
    count, _, height, width = images.shape
    grid_h, grid_w = window_grid(height, width, window, stride)
    _check_batch_size(batch_size)
    base = _baseline_images(images, baseline, window, blur_sigma)
    positions = grid_h * grid_w
    total = count * positions
    batch_size = batch_size or _default_batch_size(images)
    with hooks.eval_mode(model):
        targets = _targets(model, target, count, images)
        targets = targets.to(images.device)
        probability = torch.empty(total, device=images.device)
        top_class = torch.empty(total, dtype=torch.long, device=images.device)
        for flat, occluded in _occluded_batches(images, base, positions, grid_w, window, stride, batch_size, "occlusion"):
            probs = model(occluded).softmax(dim=1)  # (B, C)
            probability[flat] = probs.gather(1, targets[flat // positions, None])[:, 0]
            top_class[flat] = probs.argmax(dim=1)
    shape = (count, grid_h, grid_w)
    return OcclusionMaps(probability.reshape(shape), top_class.reshape(shape))


@torch.no_grad()
def occlusion_activation(
    model,
    images: torch.Tensor,
    layer: str,
    channel=None,
    *,
    window: int,
    stride: int,
    baseline: Baseline = 0.5,
    batch_size: int | None = None,
    blur_sigma: float | None = None,
) -> OcclusionActivation:
    """A feature map's total activation as a square occluder slides over each image.

    Zeiler & Fergus (2013), Fig. 7 (b): "for each position of the gray scale, we record the total
    activation in one layer 5 feature map (the one with the strongest response in the unoccluded
    image)": ``activation[n, i, j] = sum_{y, x} a_c(x_n with window (i, j) replaced by the baseline)[y, x]``
    with ``a_c`` channel ``c`` of ``layer``. The occluded images are those of :func:`occlusion`.

    Args:
        model: a course model (or any module whose ``layer`` outputs ``(N, C, h, w)``); not changed.
        images: ``(N, 3, H, W)`` float in [0, 1], on the model's device.
        layer: a layer name (e.g. ``model.roles["last_conv"]``; its ReLU for rectified maps).
        channel: ``None`` (default) the channel whose map has the largest total activation on each
            unoccluded image (Zeiler & Fergus' choice), an ``int`` for all images, or one per image.
        window, stride, baseline, batch_size, blur_sigma: as for :func:`occlusion`.

    Returns:
        :class:`OcclusionActivation`: ``activation (N, h, w)``, ``channel (N,)`` and ``unoccluded (N,)``
        (the channel's total activation without occluder), on the images' device.

    Example:
        >>> result = occlusion_activation(model, images, "features.9", window=16, stride=4)
        >>> result.activation.shape, result.channel  # (N, 13, 13), the strongest channel per image
    """
    check_images(images)
    count, _, height, width = images.shape
    grid_h, grid_w = window_grid(height, width, window, stride)
    _check_batch_size(batch_size)
    hooks.get_layer(model, layer)  # a clear error for an unknown name
    base = _baseline_images(images, baseline, window, blur_sigma)
    positions = grid_h * grid_w
    batch_size = batch_size or _default_batch_size(images)

    def totals(batch: torch.Tensor) -> torch.Tensor:
        model(batch)
        out = store[layer]
        if out.ndim != 4:
            raise ValueError(f"layer {layer!r} gives {tuple(out.shape)}; occlusion_activation needs feature maps (N, C, h, w)")
        return out.sum(dim=(2, 3))  # (B, C)

    with hooks.eval_mode(model), hooks.capture_activations(model, layer) as store:
        clean = totals(images)  # (N, C)
        if channel is None:
            channels = clean.argmax(dim=1)
        else:
            channels = torch.as_tensor(channel, dtype=torch.long, device=images.device).reshape(-1)
            if channels.numel() == 1:
                channels = channels.expand(count)
            if channels.numel() != count or channels.min() < 0 or channels.max() >= clean.shape[1]:
                raise ValueError(f"channel must be None, an int in [0, {clean.shape[1] - 1}] or one per image ({count}); got {channel!r}")
        activation = torch.empty(count * positions, device=images.device)
        for flat, occluded in _occluded_batches(images, base, positions, grid_w, window, stride, batch_size, "occlusion"):
            activation[flat] = totals(occluded).gather(1, channels[flat // positions, None])[:, 0]
    unoccluded = clean.gather(1, channels[:, None])[:, 0]
    return OcclusionActivation(activation.reshape(count, grid_h, grid_w), channels, unoccluded)


def replacement_classes(maps: OcclusionMaps, targets, *, threshold: float = 0.5) -> list:
    """What replaces the answer where the window takes it away: for each image, the class most often
    most probable among the window positions where the target's probability is below ``threshold``
    and another class wins; ``None`` when there is no such position.

    Args:
        maps: :class:`OcclusionMaps` ``(N, h, w)``; targets: ``(N,)`` the classes the maps follow.

    Returns:
        a list of ``N`` class indices (ints) or ``None``.
    """
    targets = torch.as_tensor(targets).reshape(-1).to(maps.top_class.device)
    if len(targets) != len(maps.top_class):
        raise ValueError(f"got {len(targets)} targets for {len(maps.top_class)} maps")
    result = []
    for probability, top_class, target in zip(maps.probability, maps.top_class, targets):
        lost = top_class[(probability < threshold) & (top_class != target)]
        result.append(int(torch.bincount(lost).argmax()) if len(lost) else None)
    return result
