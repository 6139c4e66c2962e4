"""Class targets: one class index per image from an int, a class name, or one of those per image.

Every technique that takes a ``target`` (saliency, guided backprop, occlusion, class models,
attacks) resolves it here, so the same inputs are accepted and the same errors raised everywhere.
"""
from __future__ import annotations

import difflib
from typing import Sequence, Union

import torch

Target = Union[int, str, Sequence[Union[int, str]], torch.Tensor]


def class_index(classes: Sequence[str], name: str) -> int:
    """The index of class ``name``; an unknown name raises ``ValueError`` with close matches and
    the valid names."""
    classes = list(classes)
    if not classes:
        raise ValueError(f"target {name!r} is a class name, but this model has no class names; pass an int")
    if name in classes:
        return classes.index(name)
    close = difflib.get_close_matches(name, classes, n=5, cutoff=0.5)
    hint = f"close matches: {', '.join(map(repr, close))}; " if close else ""
    shown = ", ".join(map(repr, classes[:20])) + (f", ... ({len(classes)} classes, see model.classes)" if len(classes) > 20 else "")
    raise ValueError(f"unknown class name {name!r}; {hint}valid class names are: {shown}")


def resolve_targets(model, target: Target, n: int, device=None) -> torch.Tensor:
    """Turn ``target`` into one class index per image: an int64 tensor ``(n,)`` on ``device``.

    Args:
        model: the classifier (its ``classes``, when it has them, give names and the valid range).
        target: an int (the same class for every image), a class name (``"ring"``), or a
            sequence / 1-d tensor of ``n`` ints or names, one per image.
        n: the number of images.
        device: where the result lives (that of the images).

    Raises ``ValueError`` for an unknown name (listing close matches and the valid names), an
    index out of range, or a count other than 1 or ``n``; ``TypeError`` for anything else.

    Example:
        >>> resolve_targets(model, "ring", 3, "cpu")
        tensor([5, 5, 5])
    """
    classes = list(getattr(model, "classes", None) or [])
    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.is_complex() or target.ndim > 1:
            raise TypeError(f"a target tensor must hold integer class indices, one per image; got {target.dtype} {tuple(target.shape)}")
        target = int(target) if target.ndim == 0 else target.tolist()
    if isinstance(target, bool) or target is None:
        raise TypeError(f"target must be an int, a class name or one per image, got {target!r}")
    if isinstance(target, (int, str)):
        target = [target] * n
    try:
        items = list(target)
    except TypeError:
        raise TypeError(f"target must be an int, a class name or one per image, got {type(target).__name__}") from None
    if len(items) != n:
        raise ValueError(f"got {len(items)} targets for {n} images; give one target, or one per image")
    indices = []
    for item in items:
        if isinstance(item, str):
            item = class_index(classes, item)
        elif isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"each target must be an int or a class name, got {item!r}")
        if item < 0 or (classes and item >= len(classes)):
            valid = f"0..{len(classes) - 1}" if classes else "non-negative"
            raise ValueError(f"class index {item} is out of range; valid indices are {valid}")
        indices.append(item)
    return torch.tensor(indices, dtype=torch.long, device=device)


__all__ = ["resolve_targets", "class_index", "Target"]
