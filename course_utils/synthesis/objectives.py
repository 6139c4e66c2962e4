"""Objectives: what an image optimization maximizes, as small composable callables.

An :class:`Objective` maps a :class:`Context` (the image, the model's output and the captured
activations of one forward pass) to **one value per image**, shape ``(N,)``. The loop of
:func:`course_utils.synthesis.optimize` maximizes their sum, so the images of a batch are
optimized independently (the model is in eval mode: batch norm does not mix them).

Objectives combine like numbers: ``class_score("ring") - 0.1 * l2()``, ``a + b``, ``-a``,
``2 * a``; :func:`add`, :func:`scale` and :func:`negate` are the same operations by name.

Adding an objective: write ``fn(ctx) -> (N,)`` and wrap it with the layers it reads::

    def mean_activation(layer):
        return Objective(lambda ctx: ctx.acts[layer].mean(dim=(1, 2, 3)), layers=[layer],
                         name=f"mean({layer})")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Callable, Sequence, Union

import torch

from ..targets import resolve_targets

Target = Union[int, str, Sequence[Union[int, str]], torch.Tensor]


@dataclass
class Context:
    """What one forward pass gives an objective.

    Attributes:
        image: ``(N, 3, H, W)`` the image of the parameterization, in [0, 1], before transforms.
        input: ``(N, 3, H', W')`` what the model saw (after the transforms).
        output: the model's output, e.g. ``(N, classes)`` class scores before the softmax.
        acts: ``{layer name: activation}`` of the layers the objective asked for (in the graph).
        model: the model (read-only; for class names).
        values: ``{objective: (N,) values}`` already computed from this pass: an objective that
            appears twice (in the loss and in ``record=``) is computed once.
    """

    image: torch.Tensor
    input: torch.Tensor
    output: torch.Tensor
    acts: dict = field(default_factory=dict)
    model: object = None
    values: dict = field(default_factory=dict)


class Objective:
    """A per-image quantity to maximize: ``fn(ctx) -> (N,)`` plus the layers it reads.

    Args:
        fn: ``Context -> (N,)`` tensor (one value per image, in the autograd graph).
        layers: layer names whose activations ``fn`` reads from ``ctx.acts``.
        name: a short description for titles and ``repr``.
        batch: the number of images it is written for (one target or unit per image), or ``None``
            for any batch; the loop's default image uses it.
    """

    def __init__(self, fn: Callable[[Context], torch.Tensor], layers: Sequence[str] = (), name: str = "objective",
                 batch: int | None = None):
        self.fn, self.layers, self.name, self.batch = fn, tuple(dict.fromkeys(layers)), name, batch

    def __call__(self, ctx: Context) -> torch.Tensor:
        if self in ctx.values:  # computed already from this forward pass
            return ctx.values[self]
        values = self.fn(ctx)
        if not isinstance(values, torch.Tensor) or values.ndim != 1 or values.shape[0] != ctx.image.shape[0]:
            shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
            raise ValueError(f"objective {self.name!r} must return one value per image, shape "
                             f"({ctx.image.shape[0]},), got {shape}")
        ctx.values[self] = values
        return values

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return add(self, negate(other))

    def __rsub__(self, other):
        return add(other, negate(self))

    def __neg__(self):
        return negate(self)

    def __mul__(self, weight):
        return scale(self, weight)

    __rmul__ = __mul__

    def __truediv__(self, weight):
        return scale(self, 1.0 / weight)


def _as_objective(value) -> Objective:
    if isinstance(value, Objective):
        return value
    if isinstance(value, Real):
        return Objective(lambda ctx: ctx.image.new_full((ctx.image.shape[0],), float(value)), name=repr(value))
    raise TypeError(f"cannot combine an objective with {type(value).__name__}; use an Objective or a number")


def add(*objectives) -> Objective:
    """The sum of objectives (numbers count as constants)."""
    parts = [_as_objective(o) for o in objectives]
    layers = [layer for part in parts for layer in part.layers]
    batches = {part.batch for part in parts if part.batch is not None}
    if len(batches) > 1:
        raise ValueError(f"cannot add objectives written for different batch sizes {sorted(batches)}")
    return Objective(lambda ctx: sum(part(ctx) for part in parts), layers, " + ".join(p.name for p in parts),
                     batches.pop() if batches else None)


def scale(objective, weight: float) -> Objective:
    """``weight * objective``."""
    part = _as_objective(objective)
    if not isinstance(weight, Real):
        raise TypeError(f"an objective scales by a number, got {type(weight).__name__}")
    return Objective(lambda ctx: weight * part(ctx), part.layers, f"{weight:g}*{part.name}", part.batch)


def negate(objective) -> Objective:
    """``-objective`` (turns a loss into something to maximize, and back)."""
    part = _as_objective(objective)
    return Objective(lambda ctx: -part(ctx), part.layers, f"-({part.name})", part.batch)


def class_indices(model, target: Target, count: int | None = None) -> torch.Tensor:
    """Class indices ``(N,)`` (int64, CPU) from an int, a class name, or one of those per image.

    ``count`` repeats a single target (or a list of one) ``count`` times, or checks that a list
    has that length. Names and ranges are checked by :func:`course_utils.targets.resolve_targets`.
    """
    items = target.tolist() if isinstance(target, torch.Tensor) else target
    single = isinstance(items, (int, str))
    if not single:
        items = list(items)
        if not items:
            raise ValueError("target is empty; give a class index, a class name, or one per image")
        if len(items) == 1:
            items, single = items[0], True
    return resolve_targets(model, items, count if count is not None else (1 if single else len(items)))


def class_score(target: Target) -> Objective:
    """The class score ``S_c(I)`` before the softmax (Simonyan et al. 2014, eq. 1).

    ``target``: an int, a class name, or one per image. Reads the model's output ``(N, classes)``.
    """

    cache: dict = {}

    def fn(ctx: Context) -> torch.Tensor:
        if ctx.output.ndim != 2:
            raise ValueError(f"class_score needs class scores (N, classes) as model output, got {tuple(ctx.output.shape)}")
        key = (ctx.output.shape[0], ctx.output.device)
        if key not in cache:  # resolve names once, not at every step
            cache[key] = class_indices(ctx.model, target, key[0]).to(key[1])
        return ctx.output.gather(1, cache[key][:, None])[:, 0]  # (N,)

    return Objective(fn, name=f"class_score({target})", batch=_batch(target))


def _batch(target) -> int | None:
    """One image per entry when ``target`` is a list (or 1-D tensor) of several, else ``None``."""
    if isinstance(target, (int, str)) or (isinstance(target, torch.Tensor) and target.ndim == 0):
        return None
    count = len(target)
    return count if count > 1 else None


def _units(unit, count: int, device) -> torch.Tensor:
    units = torch.as_tensor(unit, dtype=torch.long).flatten()
    if units.numel() == 1:
        units = units.expand(count)
    elif units.numel() != count:
        raise ValueError(f"got {units.numel()} units for {count} images; give one unit or one per image")
    return units.to(device)


def _check_units(units: torch.Tensor, size: int, layer: str) -> None:
    if units.min() < 0 or units.max() >= size:
        raise ValueError(f"unit {units.tolist()} out of range: layer {layer!r} has {size} units/channels (0..{size - 1})")


def channel(layer: str, unit) -> Objective:
    """Mean activation of channel ``unit`` of ``layer`` over all positions, per image.

    ``unit``: an int, or one per image (visualize several channels in one batch). For a fully
    connected layer ``(N, units)`` it is that unit's value.
    """

    def fn(ctx: Context) -> torch.Tensor:
        act = ctx.acts[layer]  # (N, C, h, w) or (N, C)
        units = _units(unit, act.shape[0], act.device)
        _check_units(units, act.shape[1], layer)
        picked = act.gather(1, units.view(-1, *[1] * (act.ndim - 1)).expand(-1, 1, *act.shape[2:]))
        return picked.flatten(1).mean(dim=1)  # (N,)

    return Objective(fn, [layer], f"channel({layer}, {unit})", _batch(unit))


def neuron(layer: str, unit, position=None) -> Objective:
    """One neuron: channel ``unit`` of ``layer`` at ``position = (row, col)`` (default: the centre), or
    a list of positions, one per image (with a list of units: image ``i`` maximizes ``unit[i]`` at
    ``position[i]``).

    The slide's "gradient all zero except a 1 for the neuron of interest" is the gradient of this.
    """

    def fn(ctx: Context) -> torch.Tensor:
        act = ctx.acts[layer]
        units = _units(unit, act.shape[0], act.device)
        _check_units(units, act.shape[1], layer)
        rows = torch.arange(act.shape[0], device=act.device)
        if act.ndim == 2:
            return act[rows, units]
        if act.ndim != 4:
            raise ValueError(f"neuron needs a (N, C) or (N, C, h, w) layer output, {layer!r} gives {tuple(act.shape)}")
        positions = [position] if position is None or isinstance(position[0], int) else list(position)
        if len(positions) not in (1, act.shape[0]):
            raise ValueError(f"got {len(positions)} positions for {act.shape[0]} images; give one, or one per image")
        positions = [(act.shape[2] // 2, act.shape[3] // 2) if p is None else tuple(p) for p in positions]
        for row, col in positions:
            if not (0 <= row < act.shape[2] and 0 <= col < act.shape[3]):
                raise ValueError(f"position {(row, col)} outside layer {layer!r} of size {tuple(act.shape[2:])}")
        row, col = (torch.tensor(axis, device=act.device) for axis in zip(*positions))  # (1,) or (N,)
        return act[rows, units, row, col]

    batch = _batch(unit) or (len(position) if position is not None and not isinstance(position[0], int) else None)
    return Objective(fn, [layer], f"neuron({layer}, {unit}, {position})", batch)


def l2(center: float = 0.5) -> Objective:
    """``||I - center||^2`` per image (sum over pixels and channels), of the untransformed image.

    Subtract it as a prior: ``class_score(c) - lam * l2()`` is Simonyan et al.'s
    ``S_c(I) - lambda ||I||^2`` with the image measured from grey (our pixels are in [0, 1]).
    """
    return Objective(lambda ctx: (ctx.image - center).pow(2).flatten(1).sum(dim=1), name="l2")
