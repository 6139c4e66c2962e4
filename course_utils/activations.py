"""Activations of a layer, deepvis-style (lecture 06): feature maps and how often units fire.

Yosinski, Clune, Nguyen, Fuchs and Lipson (2015), "Understanding neural networks through deep
visualization" (the deepvis toolbox): show every channel of a layer live, and the image patches
that excite a channel most (those come from :mod:`course_utils.patches`). All captures go through :mod:`course_utils.hooks`, whose hooks are
removed in ``finally`` (also when the forward pass raises).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from . import hooks
from .config import progress
from .imaging import check_images

__all__ = ["PaddingBands", "UnitStatistics", "default_layers", "feature_maps", "layer_labels", "padding_bands",
           "unit_statistics"]


class UnitStatistics(NamedTuple):
    """Per-channel statistics of a layer over a set of images, each ``(C,)`` on the CPU.

    ``active_fraction``: share of all (image, position) pairs where the unit is above the
    threshold; ``image_fraction``: share of images where it is above it at some position;
    ``mean`` and ``max``: of the activation over all images and positions;
    ``dead``: never above the threshold (``active_fraction == 0``);
    ``always_on``: above it at every position of every image (``active_fraction == 1``: the ReLU
    after it never cuts, the unit is linear on these images).
    """

    active_fraction: torch.Tensor
    image_fraction: torch.Tensor
    mean: torch.Tensor
    max: torch.Tensor
    dead: torch.Tensor
    always_on: torch.Tensor


class PaddingBands(NamedTuple):
    """What :func:`padding_bands` returns: the maps with the network's own zero padding and with a
    reflected surround (cropped back to the same grid), and which maps have a bright border line."""

    zero: torch.Tensor  #: (N, C, h, w) the layer's maps as the network computes them
    reflected: torch.Tensor  #: (N, C, h, w) the maps of the image surrounded by its reflection, cropped back
    banded_zero: torch.Tensor  #: (N, C) bool: a border line over ``factor`` x brighter than the interior
    banded_reflected: torch.Tensor  #: (N, C) bool: the same, with the reflected surround


def _border_lines(maps: torch.Tensor) -> torch.Tensor:
    """``(N, C, 4)``: the mean of the top, bottom, left and right line of cells of each map."""
    return torch.stack([maps[..., 0, :].mean(-1), maps[..., -1, :].mean(-1), maps[..., 0].mean(-1), maps[..., -1].mean(-1)], -1)


def padding_bands(model: nn.Module, images: torch.Tensor, layer: str, *, pad: int = 16, factor: float = 3.0,
                  margin: int = 4) -> PaddingBands:  # fmt: skip
    """Is a bright band along the border of a layer's maps the convolutions' zero padding?

    A zero-padded convolution of a model that normalizes inside sees, beyond the border, the
    training data's *mean colour*: the border becomes an edge. Surrounding the image by its own
    reflection (``pad`` pixels on each side) removes that edge; the maps are then cropped back to the
    original grid (``pad`` must be a multiple of the layer's total stride). A map is *banded* when one
    of its four border lines is over ``factor`` times brighter than its interior (``margin`` cells in).

    Returns:
        :class:`PaddingBands` (CPU tensors).
    """
    check_images(images)
    zero = feature_maps(model, images, layer).cpu()
    if zero.ndim != 4:
        raise ValueError(f"layer {layer!r} gives {tuple(zero.shape)}; padding_bands needs feature maps (N, C, h, w)")
    stride = images.shape[-1] / zero.shape[-1]
    cut = pad / stride
    if cut != int(cut) or cut < 1 or zero.shape[-1] <= 2 * margin + 1 or zero.shape[-2] <= 2 * margin + 1:
        raise ValueError(f"pad {pad} must be a multiple of the layer's stride {stride:g} (and the maps larger than the margin)")
    cut = int(cut)
    big = torch.nn.functional.pad(images, (pad,) * 4, mode="reflect")
    reflected = feature_maps(model, big, layer).cpu()[..., cut:-cut, cut:-cut]

    def banded(maps):
        interior = maps[..., margin:-margin, margin:-margin].mean((-1, -2)).clamp(min=1e-3)
        return _border_lines(maps).amax(-1) > factor * interior

    return PaddingBands(zero, reflected, banded(zero), banded(reflected))


def default_layers(model: nn.Module) -> list[str]:
    """The layers an activation explorer offers: each convolution's output after its ReLU.

    For every ``nn.Conv2d`` (in definition order) the name of the ``nn.ReLU`` that directly
    follows it when there is one (the rectified maps deepvis shows), else the convolution itself.

    Example:
        >>> default_layers(models.load("shapenet"))  # ['features.1', 'features.4', 'features.7', 'features.9']
    """
    modules = [(name, hooks.get_layer(model, name)) for name in hooks.layer_names(model)]
    leaves = [(name, module) for name, module in modules if not list(module.children())]
    names = []
    for index, (name, module) in enumerate(leaves):
        if isinstance(module, nn.Conv2d):
            following = leaves[index + 1] if index + 1 < len(leaves) else None
            names.append(following[0] if following is not None and isinstance(following[1], nn.ReLU) else name)
    return names


def layer_labels(model: nn.Module, names) -> dict[str, str]:
    """Names as the text says them, AlexNet-style: ``{"features.1": "conv1 (features.1)", ...,
    "classifier.2": "fc5 (classifier.2)"}``.

    Weight layers (``nn.Conv2d``, ``nn.Linear``) are numbered by depth, 1-based, convolutions
    ``conv``, linear layers ``fc`` (AlexNet: conv1-conv5, fc6-fc8; ShapeNet: conv1-conv4, fc5-fc7); any
    other layer takes the label of the weight layer it follows (a ReLU is its layer's rectified output).
    """
    leaves = [(name, hooks.get_layer(model, name)) for name in hooks.layer_names(model)]
    leaves = [(name, module) for name, module in leaves if not list(module.children())]
    current, depth, short = None, 0, {}
    for name, module in leaves:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            depth += 1
            current = f"{'conv' if isinstance(module, nn.Conv2d) else 'fc'}{depth}"
        short[name] = current
    labels = {}
    for name in [names] if isinstance(names, str) else names:
        hooks.get_layer(model, name)  # a clear error for an unknown name
        labels[name] = f"{short[name]} ({name})" if short.get(name) else name
    return labels


def feature_maps(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of ``layer`` for ``images``: ``(N, C, h, w)`` (or ``(N, C)`` for a linear layer).

    Runs in eval mode without gradients on the model's device; the model is left unchanged and
    no hook survives, also when the forward pass raises. ``images``: ``(N, 3, H, W)`` in [0, 1].

    Example:
        >>> feature_maps(model, images, model.roles["first_conv"]).shape  # (N, 48, 32, 32) for ShapeNet
    """
    check_images(images)
    return hooks.activations(model, images.to(hooks.model_device(model)), layer)[layer]


def unit_statistics(
    model: nn.Module, images: torch.Tensor, layer, *, threshold: float = 0.0, batch_size: int = 256
):
    """How often each channel of ``layer`` fires over ``images``: dead and always-on units.

    A unit ``(c, y, x)`` is *active* on an image when its activation exceeds ``threshold``
    (default 0: a ReLU output is then "on"). Images are streamed once, in batches (memory
    ``O(C)`` per layer besides one batch), in eval mode without gradients; hooks are always removed.

    Args:
        model: a course model (or any module); not changed.
        images: ``(N, 3, H, W)`` in [0, 1], ``N >= 1``.
        layer: a layer name with output ``(N, C, h, w)`` or ``(N, C)``, or a list of names
            (all measured in the same pass).
        threshold: the activation level above which a unit counts as active.
        batch_size: images per forward pass.

    Returns:
        :class:`UnitStatistics` with ``(C,)`` CPU tensors; for a list of layers, a dict
        ``{name: UnitStatistics}`` in the order given.

    Example:
        >>> stats = unit_statistics(model, data.make_shapes(1000).images, model.roles["code"])
        >>> int(stats.dead.sum()), int(stats.always_on.sum())
    """
    check_images(images)
    if len(images) == 0:
        raise ValueError("images is empty: unit statistics need at least one image")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    names = [layer] if isinstance(layer, str) else list(layer)
    for name in names:
        hooks.get_layer(model, name)
    device = hooks.model_device(model)
    sums: dict[str, list] = {}
    with torch.no_grad(), hooks.eval_mode(model), hooks.capture_activations(model, names) as store:
        for start in progress(range(0, len(images), batch_size), desc="unit statistics"):
            model(images[start : start + batch_size].to(device))
            for name in names:
                out = store[name]
                if out.ndim not in (2, 4):
                    raise ValueError(f"layer {name!r} returns shape {tuple(out.shape)}; need (N, C, h, w) or (N, C)")
                out = out.flatten(2) if out.ndim == 4 else out[:, :, None]  # (n, C, h*w)
                above = out > threshold
                batch = [above.sum((0, 2)), above.any(2).sum(0), out.double().sum((0, 2)), out.amax((0, 2)), out.shape[2]]
                if name in sums:
                    old = sums[name]
                    batch = [old[0] + batch[0], old[1] + batch[1], old[2] + batch[2], torch.maximum(old[3], batch[3]), batch[4]]
                sums[name] = batch
    result = {}
    for name, (active, on_image, total, peak, positions) in sums.items():
        count = len(images) * positions  # (image, position) pairs per channel
        result[name] = UnitStatistics(
            active_fraction=(active.double() / count).float().cpu(),
            image_fraction=(on_image.double() / len(images)).float().cpu(),
            mean=(total / count).float().cpu(),
            max=peak.float().cpu(),
            dead=(active == 0).cpu(),
            always_on=(active == count).cpu(),
        )
    return result[names[0]] if isinstance(layer, str) else result
