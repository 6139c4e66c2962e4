"""Small real datasets: scikit-learn's digits (bundled) and CIFAR-10 (downloaded when online)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import cache_dir, offline_mode


def load_digits(size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """scikit-learn's 1,797 handwritten digits (8x8, bundled with scikit-learn).

    Args:
        size: ``None`` keeps 8x8; an int upsamples (bilinear) to ``size x size``.

    Returns:
        ``images (N, 3, H, W)`` RGB in [0, 1] (gray repeated, white digits on black),
        ``labels (N,)`` int64 and the class names ``['0', ..., '9']``.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.from_numpy(bunch.images).float().div(16.0).unsqueeze(1)  # (N, 1, 8, 8)
    if size is not None:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return images.expand(-1, 3, -1, -1).contiguous(), torch.from_numpy(bunch.target).long(), [str(d) for d in range(10)]


def load_cifar10(train: bool = True, root=None):
    """CIFAR-10 through torchvision, downloaded on first use into ``config.cache_dir()``.

    Returns a torchvision dataset of ``(image (3, 32, 32) in [0, 1], label)`` pairs.
    Raises ``RuntimeError`` with advice when it is neither cached nor downloadable
    (e.g. with ``COURSE_OFFLINE=1`` or no network): use ``make_shapes`` or ``load_digits``.
    """
    from torchvision import datasets, transforms

    root = root or cache_dir() / "cifar10"
    try:
        return datasets.CIFAR10(root, train=train, download=False, transform=transforms.ToTensor())
    except RuntimeError:
        pass  # not cached yet
    if offline_mode():
        raise RuntimeError(
            f"CIFAR-10 is not in {root} and COURSE_OFFLINE is set; use course_utils.data.make_shapes "
            "or load_digits offline, or unset COURSE_OFFLINE to download it (170 MB)"
        )
    try:
        return datasets.CIFAR10(root, train=train, download=True, transform=transforms.ToTensor())
    except Exception as error:
        raise RuntimeError(
            f"CIFAR-10 could not be downloaded into {root} ({type(error).__name__}: {error}); "
            "without a network use course_utils.data.make_shapes or load_digits instead"
        ) from error
