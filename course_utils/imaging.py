"""Images in and out: loading, converting to RGB tensors in [0, 1], resizing, display.

The course convention: an image is a float tensor ``(3, H, W)`` and a batch is
``(N, 3, H, W)``, RGB, with values in [0, 1]. Normalization belongs to the model.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ImageLike = Union[str, Path, Image.Image, np.ndarray, torch.Tensor]

# Tolerance for float round-off when checking that pixels lie in [0, 1].
_RANGE_TOL = 1e-4


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Check that ``images`` is a batch ``(N, 3, H, W)`` of finite floats in [0, 1].

    Returns ``images`` unchanged, so it can be used inline. Raises ``TypeError`` or
    ``ValueError`` that names the problem and what is accepted.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, 3, H, W), got {type(images).__name__}; "
            "convert pictures with course_utils.imaging.to_tensor(...)"
        )
    if images.ndim == 3 and images.shape[0] == 3:
        raise ValueError(
            f"{name} has shape {tuple(images.shape)}: that is one image; "
            f"add the batch dimension with {name}.unsqueeze(0) to get (1, 3, H, W)"
        )
    if images.ndim != 4:
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(images.shape)}")
    if images.shape[1] != 3:
        hint = {
            1: "grayscale: repeat the channel with images.expand(-1, 3, -1, -1)",
            4: "RGBA: drop or composite the alpha channel (course_utils.imaging.to_tensor does this)",
        }.get(images.shape[1], "the models take RGB images")
        raise ValueError(
            f"{name} must have 3 (RGB) channels in dimension 1, got shape {tuple(images.shape)} ({hint})"
        )
    if not images.is_floating_point():
        raise TypeError(
            f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}; "
            f"for uint8 pixels use {name}.float() / 255"
        )
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = images.min().item(), images.max().item()
    if low < -_RANGE_TOL or high > 1 + _RANGE_TOL:
        raise ValueError(
            f"{name} must hold pixel values in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
            "pass un-normalized RGB (the models normalize internally); clamp with .clamp(0, 1)"
        )
    return images


def _array_to_chw(array: np.ndarray) -> torch.Tensor:
    """(H, W), (H, W, C) array, uint8 or float in [0, 1] -> (C, H, W) float tensor."""
    if array.dtype == np.uint8:
        tensor = torch.from_numpy(array.astype(np.float32) / 255.0)
    elif array.dtype == bool:
        tensor = torch.from_numpy(array.astype(np.float32))
    elif np.issubdtype(array.dtype, np.floating):
        tensor = torch.from_numpy(array.astype(np.float32))
    elif np.issubdtype(array.dtype, np.integer) and array.max(initial=0) <= 255:
        tensor = torch.from_numpy(array.astype(np.float32) / 255.0)
    else:
        raise TypeError(f"unsupported array dtype {array.dtype}; use uint8 (0-255) or float (0-1)")
    if tensor.ndim == 2:
        return tensor.unsqueeze(0)
    if tensor.ndim == 3 and tensor.shape[-1] in (1, 3, 4):
        return tensor.permute(2, 0, 1)
    raise ValueError(
        f"an image array must have shape (H, W) or (H, W, C) with C in 1, 3, 4; got {array.shape}"
    )


def _to_rgb(chw: torch.Tensor) -> torch.Tensor:
    """Grayscale -> 3 equal channels; RGBA -> RGB composited over a white background."""
    channels = chw.shape[0]
    if channels == 3:
        return chw
    if channels == 1:
        return chw.expand(3, -1, -1).clone()
    if channels == 4:
        rgb, alpha = chw[:3], chw[3:4]
        return rgb * alpha + (1.0 - alpha)
    raise ValueError(f"an image must have 1 (gray), 3 (RGB) or 4 (RGBA) channels, got {channels}")


def to_tensor(image: ImageLike, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Convert a picture to a ``(3, H, W)`` float tensor in [0, 1].

    Args:
        image: a file path, a PIL image, an array ``(H, W)`` / ``(H, W, C)`` (uint8 0-255 or
            float 0-1) or a tensor ``(C, H, W)`` / ``(H, W)``. Grayscale is repeated to RGB;
            RGBA is composited over white.
        size: ``None`` keeps the size; an int resizes the *shorter* side and center-crops to a
            square ``size x size``; a pair ``(H, W)`` resizes exactly.

    Example:
        >>> to_tensor(np.zeros((10, 20), np.uint8), size=8).shape
        torch.Size([3, 8, 8])
    """
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.exists():
            raise FileNotFoundError(f"no image file at {path}")
        with Image.open(path) as pil:
            image = pil.convert("RGBA" if pil.mode in ("RGBA", "LA", "P") else "RGB")
    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        image = np.asarray(image)
    if isinstance(image, np.ndarray):
        chw = _array_to_chw(image)
    elif isinstance(image, torch.Tensor):
        chw = image.detach().float()
        if chw.ndim == 2:
            chw = chw.unsqueeze(0)
        if chw.ndim != 3:
            raise ValueError(
                f"a single image tensor must have shape (C, H, W) or (H, W), got {tuple(image.shape)}; "
                "for a batch use to_batch"
            )
    else:
        raise TypeError(f"cannot read an image from {type(image).__name__}")
    if not torch.isfinite(chw).all():
        raise ValueError("the image contains NaN or infinite values")
    rgb = _to_rgb(chw).clamp(0.0, 1.0)
    return rgb if size is None else resize(rgb, size)


def to_batch(images, size: int | tuple[int, int] | None = 224) -> torch.Tensor:
    """Stack several pictures (anything :func:`to_tensor` reads) into ``(N, 3, H, W)``."""
    return torch.stack([to_tensor(image, size) for image in images])


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize ``(3, H, W)`` or ``(N, 3, H, W)`` with antialiasing.

    An int resizes the shorter side to ``size`` and center-crops a square; a pair
    ``(H, W)`` resizes to exactly that size.
    """
    single = images.ndim == 3
    batch = images.unsqueeze(0) if single else images
    height, width = batch.shape[-2:]
    if isinstance(size, int):
        scale = size / min(height, width)
        new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
        batch = F.interpolate(batch, (new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        batch = batch[..., top : top + size, left : left + size]
    else:
        batch = F.interpolate(batch, tuple(size), mode="bilinear", antialias=True, align_corners=False)
    batch = batch.clamp(0.0, 1.0)
    return batch[0] if single else batch



def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with standard deviation ``sigma`` pixels.

    Kernel radius ``ceil(3 sigma)``, reflect padding (replicate when the image is too small);
    ``sigma <= 0`` returns the images unchanged. Differentiable; one depthwise conv per axis.
    Used by the regularizers and transforms of image synthesis and by the blurred occluder.
    """
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()  # (2r+1,)
    channels = images.shape[1]
    mode = "reflect" if min(images.shape[-2:]) > radius else "replicate"
    padded = F.pad(images, (radius, radius, radius, radius), mode=mode)
    rows = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    cols = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    return F.conv2d(F.conv2d(padded, rows, groups=channels), cols, groups=channels)

def to_display(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` float array for ``plt.imshow``."""
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"to_display takes one image (3, H, W), got shape {tuple(image.shape)}")
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def to_pil(image: torch.Tensor) -> Image.Image:
    """``(3, H, W)`` tensor in [0, 1] -> 8-bit PIL image (the inverse of :func:`to_tensor`)."""
    return Image.fromarray(np.round(to_display(image) * 255).astype(np.uint8))
