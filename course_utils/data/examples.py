"""Example images that suit a model: photos for ImageNet networks, shapes for ShapeNet."""
from __future__ import annotations

import torch

from .photos import load_photos
from .synthetic import make_shapes

# Photos with one clear subject, in the order the lecture shows them.
OBJECT_PHOTOS = ("chelsea", "coffee", "rocket", "motorcycle", "flower", "astronaut", "grace_hopper", "china")


def example_images(model, n: int = 6, *, seed: int = 0, size: int | None = None) -> tuple[torch.Tensor, list[str]]:
    """``n`` images the model was made for, with captions.

    An ImageNet model (or a feature extractor) gets bundled photos captioned with their names;
    the offline ShapeNet gets synthetic shapes captioned with their true class, so a cat is
    never shown to a network that only knows shapes.

    Returns:
        ``images (n, 3, size, size)`` in [0, 1] (``size`` defaults to ``model.input_size``) and
        ``n`` captions.
    """
    size = size or getattr(model, "input_size", 224)
    if getattr(model, "name", None) == "shapenet":
        batch = make_shapes(n, size=size, seed=seed)
        return batch.images, [f"true: {batch.classes[label]}" for label in batch.labels.tolist()]
    if not 1 <= n <= len(OBJECT_PHOTOS):
        raise ValueError(f"n must be between 1 and {len(OBJECT_PHOTOS)} for photos, got {n}")
    names = list(OBJECT_PHOTOS[:n])
    return load_photos(names, size=size), names
