"""Classify images: the top-k class names and probabilities."""
from __future__ import annotations

import torch

from ..hooks import eval_mode
from ..imaging import check_images


@torch.no_grad()
def topk_predictions(model, images: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes of each image, most probable first.

    Args:
        model: a classifier with ``.classes`` (e.g. from :func:`course_utils.models.load`).
        images: ``(N, 3, H, W)`` RGB in [0, 1].
        k: how many classes per image, ``1 <= k <= len(model.classes)``.

    Returns:
        ``N`` lists of ``k`` pairs ``(class name, softmax probability)``.

    Example:
        >>> topk_predictions(model, images, k=2)[0]  # doctest: +SKIP
        [('tabby', 0.61), ('tiger cat', 0.22)]
    """
    classes = getattr(model, "classes", None)
    if not classes:
        raise ValueError(f"{getattr(model, 'name', 'this model')} has no class names: it is not a classifier")
    if not isinstance(k, int) or not 1 <= k <= len(classes):
        raise ValueError(f"k must be an integer between 1 and {len(classes)} (the number of classes), got {k!r}")
    check_images(images)
    device = next(model.parameters()).device
    with eval_mode(model):
        probabilities = model(images.to(device)).softmax(dim=1)  # (N, num_classes)
    top_p, top_i = probabilities.topk(k, dim=1)  # (N, k)
    return [
        [(classes[i], p) for i, p in zip(row_i.tolist(), row_p.tolist())]
        for row_i, row_p in zip(top_i, top_p)
    ]
