"""Regularized visualization of any unit (Yosinski et al. 2015, sec. 3), and the Fourier,
colour-decorrelated alternative (Olah et al. 2017), lecture 10."""
from __future__ import annotations

import torch

from .. import config
from .objectives import Objective, channel, class_score
from .optimize import SynthesisResult, optimize
from .params import fourier_image, pixel_image
from .regularizers import blur_every as blur_hook, clip_contribution, clip_norm, decay as decay_hook
from .transforms import jitter as jitter_transform, standard

# Table 1 of Yosinski et al. (2015), in the paper's order: L2 decay, blur width (Gaussian sigma in
# pixels) and period, norm and contribution percentiles, and the paper's iteration counts.
PRESETS = {
    "yosinski1": dict(decay=0.0, blur_sigma=0.5, blur_every=4, norm_pct=50.0, contribution_pct=0.0, paper_steps=500),
    "yosinski2": dict(decay=0.3, blur_sigma=0.0, blur_every=0, norm_pct=20.0, contribution_pct=0.0, paper_steps=750),
    "yosinski3": dict(decay=1e-4, blur_sigma=1.0, blur_every=4, norm_pct=0.0, contribution_pct=0.0, paper_steps=1000),
    "yosinski4": dict(decay=0.0, blur_sigma=0.5, blur_every=4, norm_pct=0.0, contribution_pct=90.0, paper_steps=1000),
}
_UNSET = object()


def _as_objective(model, objective) -> Objective:
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, (int, str)) or (isinstance(objective, list) and not isinstance(objective[0], tuple)):
        return class_score(objective)
    if isinstance(objective, tuple) and len(objective) == 2 and isinstance(objective[0], str):
        return channel(*objective)
    raise TypeError(
        "objective must be an Objective (synthesis.channel(layer, unit), synthesis.neuron(...), ...), "
        f"a class (index or name, or a list of them) or a pair (layer, unit); got {objective!r}"
    )


def pixel_center(model) -> torch.Tensor | float:
    """The pixel value playing the role of zero in Yosinski's mean-subtracted images: the model's
    normalization mean ``(1, 3, 1, 1)`` when it has one, else 0.5."""
    normalize = getattr(model, "normalize", None)
    mean = getattr(normalize, "mean", None)
    return mean.detach().view(1, 3, 1, 1) if isinstance(mean, torch.Tensor) and mean.numel() == 3 else 0.5


def visualize(
    model,
    objective,
    *,
    preset: str | None = None,
    parameterization: str = "pixel",
    batch: int | None = None,
    size: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    decay=_UNSET,
    blur_every=_UNSET,
    blur_sigma=_UNSET,
    norm_pct=_UNSET,
    contribution_pct=_UNSET,
    jitter: int | None = None,
    init: torch.Tensor | None = None,
) -> SynthesisResult:
    """Visualize a unit by regularized gradient ascent (Yosinski et al. 2015, eq. 2 and sec. 3).

    Pixel parameterization (the paper's explicit scheme), each step: roll the image by up to ``jitter``
    pixels; step along the unit's gradient (``lr * g / mean|g|``); clamp to [0, 1]; then
    ``x <- c + (1 - decay)(x - c)`` (L2 decay); every ``blur_every`` steps a Gaussian blur of
    ``blur_sigma`` pixels; pixels whose norm ``||x - c||`` is below the ``norm_pct`` percentile, and
    those whose contribution ``|sum_channels (x - c) * g|`` is below the ``contribution_pct``
    percentile, are reset to ``c``. ``c`` is the model's normalization mean (the paper's images are
    mean-subtracted). ``parameterization="fourier"`` instead optimizes a colour-decorrelated Fourier
    spectrum with Adam under random pad, jitter, scale and rotation (Olah et al. 2017); the pixel
    regularizers then do not apply.

    Args:
        model: any network, e.g. ``models.load("alexnet")``.
        objective: an :class:`~.objectives.Objective` (``channel(layer, unit)``, ``neuron(...)``, sums),
            a class (index, name, or list: one image each), or a pair ``(layer, unit)``. Use
            ``channel(layer, [u1, u2, ...])`` to visualize several units in one batch.
        preset: ``"yosinski1"`` ... ``"yosinski4"``, the four settings of the paper's Table 1
            (:data:`PRESETS`); explicit keywords override a preset. Default (``None``): the
            setting the paper used most, ``"yosinski3"`` (decay 1e-4, blur sigma 1 every 4 steps).
        parameterization: ``"pixel"`` or ``"fourier"``.
        batch: images (default: 1, or the number of targets/units in the objective when a list).
        size: image side (default: the model's input size). steps: default ``config.pick(20, 200)``
            (the paper ran 500-1000). lr: default 0.02 (pixel, normalized step) or 0.05 (Fourier, Adam).
        jitter: roll range in pixels for the pixel scheme (default ``size // 16``).
        init: a start image ``(N, 3, H, W)`` in [0, 1] (pixel parameterization).

    Returns:
        a :class:`~.optimize.SynthesisResult` (``image`` ``(N, 3, H, W)`` in [0, 1], ``history`` ``(steps, N)``).

    Example:
        >>> result = visualize(model, synthesis.channel(model.roles["last_conv"], [0, 1, 2, 3]), preset="yosinski1")
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)} or None")
    if parameterization not in ("pixel", "fourier"):
        raise ValueError(f"parameterization must be 'pixel' or 'fourier', got {parameterization!r}")
    settings = dict(PRESETS[preset or "yosinski3"])
    given = {"decay": decay, "blur_every": blur_every, "blur_sigma": blur_sigma, "norm_pct": norm_pct,
             "contribution_pct": contribution_pct}
    settings.update({key: value for key, value in given.items() if value is not _UNSET})
    objective = _as_objective(model, objective)
    size = size or getattr(model, "input_size", 224)
    steps = config.pick(20, 200) if steps is None else steps
    device = next(model.parameters()).device
    batch = batch or objective.batch or 1

    if parameterization == "fourier":
        regularizers = [key for key, value in given.items() if value is not _UNSET and value]
        if preset is not None or regularizers or init is not None:
            raise ValueError(
                "the Fourier parameterization replaces the pixel-space regularizers; do not pass a preset, "
                f"{', '.join(regularizers) or 'init'} with parameterization='fourier'"
            )
        return optimize(model, objective, param=fourier_image(size, batch=batch, device=device),
                        transforms=standard(max(1, size // 16)), steps=steps, lr=0.05 if lr is None else lr,
                        optimizer="adam", desc="visualize (Fourier)")

    center = pixel_center(model)
    center = center.to(device) if isinstance(center, torch.Tensor) else center
    param = init.to(device) if init is not None else pixel_image(size, batch=batch, device=device, noise=0.05)
    hooks = [
        decay_hook(settings["decay"], center=center),
        blur_hook(settings["blur_every"], settings["blur_sigma"]),
        clip_norm(settings["norm_pct"], center=center),
        clip_contribution(settings["contribution_pct"], center=center),
    ]
    jitter = max(1, size // 16) if jitter is None else jitter
    return optimize(model, objective, param=param, transforms=[jitter_transform(jitter)], steps=steps,
                    lr=0.02 if lr is None else lr, optimizer="normalized", post_step=hooks, desc="visualize")


def selective_units(model, images, labels, layers, *, count: int = 3, groups: int | None = None):
    """Units to visualize, chosen by their class selectivity (Morcos et al. 2018; lecture 03) rather than by index.

    The last layer of ``layers`` picks the classes: its ``count`` most selective units whose favourite
    classes differ. Every other layer then gets, for each of those classes, its most selective unit
    among those that prefer it (or, if none does, its most selective unit overall for that slot).

    Args:
        model: a network; images: ``(N, 3, H, W)`` in [0, 1]; labels: ``(N,)`` class of each image.
        layers: layer names, e.g. ``[model.roles["content"], model.roles["last_conv"]]``.
        count: how many classes (and units per layer). groups: the number of classes.

    Returns:
        ``(favourites, units, selectivity)``: the ``count`` class indices, ``{layer: [unit, ...]}`` (one
        unit per class, in that order) and ``{layer: patches.Selectivity}``.
    """
    from ..patches import class_selectivity, peak_activations

    layers = list(layers)
    selectivity = {layer: class_selectivity(peak_activations(model, images, layer), labels, groups=groups) for layer in layers}
    last = selectivity[layers[-1]]
    favourites, units = [], {layer: [] for layer in layers}
    for unit in last.index.argsort(descending=True).tolist():
        if int(last.group[unit]) not in favourites:
            favourites.append(int(last.group[unit]))
            units[layers[-1]].append(unit)
        if len(favourites) == count:
            break
    for layer in layers[:-1]:
        index, group = selectivity[layer]
        for favourite in favourites:
            units[layer].append(int(torch.where(group == favourite, index, -1).argmax()))
    return favourites, units, selectivity


__all__ = ["visualize", "PRESETS", "pixel_center", "selective_units"]
