"""Object segmentation from a saliency map with GrabCut (lecture 07).

Simonyan et al. 2014 (Sec. 3.2) seed GrabCut (Rother et al. 2004) with the saliency map: the most
salient pixels are foreground, the least salient background, and GrabCut's colour models and
graph cut decide the rest. GrabCut itself is OpenCV's ``cv2.grabCut``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..imaging import check_images, to_display

__all__ = ["grabcut_from_saliency"]


def _as_array(saliency, shape) -> np.ndarray:
    if isinstance(saliency, torch.Tensor):
        saliency = saliency.detach().float().cpu().numpy()
    saliency = np.asarray(saliency, dtype=np.float64)
    if saliency.ndim == 3 and saliency.shape[0] == 1:
        saliency = saliency[0]
    if saliency.shape != shape:
        raise ValueError(
            f"saliency must be one (H, W) map of the image's size {shape}, got {saliency.shape}; "
            "upsample coarse maps first (e.g. torch.nn.functional.interpolate)"
        )
    if not np.isfinite(saliency).all():
        raise ValueError("saliency contains NaN or infinite values")
    return saliency


def grabcut_from_saliency(
    image: torch.Tensor,
    saliency,
    *,
    foreground_quantile: float = 0.95,
    background_quantile: float = 0.3,
    iterations: int = 5,
    largest_component: bool = True,
) -> np.ndarray:
    """Segment the object of ``image`` with GrabCut, seeded by its saliency map.

    Pixels with saliency at or above the ``foreground_quantile`` are fixed foreground, those at
    or below the ``background_quantile`` fixed background; the pixels in between start as
    "probably foreground" when above the median of the in-between saliencies and "probably
    background" otherwise. GrabCut fits a colour model to each side and cuts the graph
    ``iterations`` times.

    Args:
        image: one image ``(3, H, W)`` (or ``(1, 3, H, W)``) float in [0, 1].
        saliency: its map ``(H, W)`` (tensor or array, any non-negative range), e.g. from
            :func:`course_utils.attribution.saliency`.
        foreground_quantile: default 0.95, as in the paper.
        background_quantile: default 0.3, as in the paper; must be below ``foreground_quantile``.
        iterations: GrabCut iterations (default 5).
        largest_component: keep only the largest connected foreground region (default, as in
            the paper); ``False`` returns GrabCut's labelling as it is.

    Returns:
        a bool array ``(H, W)``, True on the object.

    Simonyan et al. 2014, Sec. 3.2; Rother, Kolmogorov & Blake 2004, "GrabCut".

    Example:
        >>> mask = grabcut_from_saliency(images[0], saliency(model, images, labels)[0])
    """
    import cv2
    from scipy import ndimage

    if isinstance(image, torch.Tensor) and image.ndim == 3:
        image = image.unsqueeze(0)
    check_images(image, "image")
    if len(image) != 1:
        raise ValueError(f"grabcut_from_saliency segments one image (3, H, W), got a batch of {len(image)}")
    height, width = image.shape[-2:]
    values = _as_array(saliency, (height, width))
    if not 0 < background_quantile < foreground_quantile < 1:
        raise ValueError(
            "quantiles must satisfy 0 < background_quantile < foreground_quantile < 1, got "
            f"background_quantile={background_quantile}, foreground_quantile={foreground_quantile}"
        )
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    low, high = np.quantile(values, [background_quantile, foreground_quantile])
    if not high > low:
        raise ValueError(
            "the saliency map has no contrast between its quantiles (constant or nearly so), so it "
            "gives GrabCut no foreground and background seeds"
        )
    middle = (values > low) & (values < high)
    split = np.median(values[middle]) if middle.any() else (low + high) / 2
    mask = np.where(values > split, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)  # (H, W)
    mask[values >= high] = cv2.GC_FGD
    mask[values <= low] = cv2.GC_BGD
    pixels = np.ascontiguousarray(np.round(to_display(image[0]) * 255).astype(np.uint8))  # (H, W, 3)
    background_model, foreground_model = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(pixels, mask, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if largest_component and foreground.any():
        labels, count = ndimage.label(foreground)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        foreground = labels == 1 + int(np.argmax(sizes))
    return foreground
