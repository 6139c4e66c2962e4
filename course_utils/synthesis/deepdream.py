"""DeepDream (Mordvintsev, Olah & Tyka 2015): amplify whatever a layer already sees in a photo."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import config
from ..hooks import activations, get_layer
from ..imaging import check_images, resize
from .losses import dream, guided_dream
from .objectives import Objective
from .optimize import optimize
from .transforms import jitter as jitter_transform


def octave_sizes(height: int, width: int, octaves: int, scale: float, smallest: int = 1) -> list[tuple[int, int]]:
    """Image sizes from the smallest octave to the original: each ``scale`` times the previous.

    Octaves whose shorter side would fall below ``smallest`` (the model's minimum input size)
    are dropped, so a small image gets fewer octaves instead of an error.
    """
    if octaves < 1 or scale <= 1:
        raise ValueError(f"need octaves >= 1 and scale > 1, got octaves={octaves}, scale={scale}")
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in reversed(range(octaves))]
    return [size for size in sizes if min(size) >= smallest] or [(height, width)]


def _guide_features(model, guide: torch.Tensor, layer: str) -> torch.Tensor:
    """``(M, C)``: the feature vectors of the guide image(s) at ``layer``, one per position."""
    check_images(guide, "guide")
    act = activations(model, guide.to(next(model.parameters()).device), layer)[layer]  # (G, C, h, w)
    if act.ndim != 4:
        raise ValueError(f"a guided dream needs a convolutional layer, {layer!r} gives shape {tuple(act.shape)}")
    return act.transpose(0, 1).flatten(1).T  # (G h w, C)


def deepdream(model, image: torch.Tensor, layer: str | None = None, *, octaves: int = 4, scale: float = 1.4,
              steps: int = 10, step_size: float = 1.5, jitter: int = 32, guide: torch.Tensor | None = None,
              seed: int | None = 0, per_position: bool = False):  # fmt: skip
    """Dream: gradient ascent on ``||a||^2 / 2`` at ``layer``, at several scales (octaves).

    Each step (the lecture's, and the original Caffe notebook's): roll the image by a random
    shift of up to ``jitter`` pixels, forward to ``layer``, set the layer's gradient to its own
    activation (the gradient of ``||a||^2 / 2``), backpropagate to the pixels, step by
    ``step_size * g / mean|g|`` (per image; a zero gradient gives a zero step, never NaN), roll
    back, clamp to [0, 1]. The octaves run from small to large; the detail the dream added at one
    scale (dream minus that octave's image) is upscaled and carried to the next.

    Args:
        model: a course model (or any module); left unchanged.
        image: ``(N, 3, H, W)`` in [0, 1].
        layer: default ``model.roles["deepdream"]``.
        octaves, scale: number of scales and the ratio between them (the original's 4 and 1.4).
        steps: ascent steps per octave (the original's 10).
        step_size: in 0-255 pixel units, as in the original (1.5, i.e. 1.5 / 255 in [0, 1]).
        jitter: the largest random roll in pixels (the original's 32; the roll wraps around).
        guide: ``(G, 3, h, w)`` in [0, 1]: a guided dream, pulling each position's features
            towards the most similar feature vector of the guide image(s).
        seed: seeds the jitter (``None``: not seeded); the global RNG state is given back
            afterwards (:func:`course_utils.config.seeded`).
        per_position: divide the history by the number of positions ``h * w`` of the layer at
            each octave (the mean over positions of ``sum_c a^2 / 2``), so that a larger octave
            is not read as growth. The dream itself does not change (the step is normalized).

    Returns:
        ``(dream, history)``: the dreamed images ``(N, 3, H, W)`` in [0, 1], and the objective
        ``(octaves * steps, N)`` at each step, before that step's update: ``history[0]`` is the
        value of the photo itself at the smallest octave (it grows within each octave).

    Example:
        >>> dreamed, history = deepdream(model, photo[None], model.roles["deepdream"])
    """
    check_images(image, "image")
    layer = getattr(model, "roles", {}).get("deepdream") if layer is None else layer
    if layer is None:
        raise ValueError("name a layer: this model has no 'deepdream' role")
    get_layer(model, layer)
    if steps < 1 or step_size <= 0:
        raise ValueError(f"need steps >= 1 and step_size > 0, got steps={steps}, step_size={step_size}")
    objective = dream(layer) if guide is None else guided_dream(layer, _guide_features(model, guide, layer))
    device = next(model.parameters()).device
    base = image.to(device)
    smallest = model.min_input_size() if hasattr(model, "min_input_size") else 1
    sizes = octave_sizes(*base.shape[-2:], octaves, scale, smallest)
    detail = torch.zeros(base.shape[0], 3, *sizes[0], device=device)  # what the dream added so far
    histories = []
    # h * w of the layer, read from the step's own forward pass (no extra pass)
    positions = Objective(lambda ctx: ctx.acts[layer].new_full((ctx.image.shape[0],), ctx.acts[layer][0, 0].numel()),
                          [layer], "positions")  # fmt: skip
    with config.seeded(seed):  # the jitter; the caller's RNG is left alone
        for index, size in enumerate(sizes):
            octave = resize(base, size) if size != tuple(base.shape[-2:]) else base  # (N, 3, h, w)
            if detail.shape[-2:] != size:  # signed values: plain interpolation, no clamping
                detail = F.interpolate(detail, size, mode="bilinear", align_corners=False)
            shift = min(jitter, math.ceil(min(size) / 2))  # rolls beyond half the image only repeat
            result = optimize(
                model, objective, param=(octave + detail).clamp(0, 1), transforms=[jitter_transform(shift)],
                steps=steps, lr=step_size / 255, optimizer="normalized", desc=f"octave {index + 1}/{len(sizes)}",
                record={"positions": positions} if per_position else None,
            )  # fmt: skip
            detail = result.image - octave
            histories.append(result.history / result.records["positions"] if per_position else result.history)
    return result.image, torch.cat(histories)


__all__ = ["deepdream", "octave_sizes"]
