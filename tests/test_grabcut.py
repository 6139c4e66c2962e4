"""GrabCut seeded by a saliency map (lecture 07)."""
import numpy as np
import pytest
import torch

from course_utils import attribution
from course_utils.data import make_shapes
from course_utils.evaluation import mask_iou


def _scene(seed: int = 0):
    """A red disk on a noisy blue-green background, and a blurry, noisy 'saliency' around it."""
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    disk = (ys - 20) ** 2 + (xs - 27) ** 2 <= 11**2
    image = torch.stack([torch.full((48, 48), 0.1), torch.full((48, 48), 0.5), torch.full((48, 48), 0.7)])
    image[:, disk] = torch.tensor([0.9, 0.15, 0.1])[:, None]
    image = (image + 0.05 * torch.randn(3, 48, 48, generator=generator)).clamp(0, 1)
    distance = torch.sqrt((ys - 20) ** 2 + (xs - 27) ** 2)
    saliency = torch.exp(-((distance / 12) ** 2)) + 0.2 * torch.rand(48, 48, generator=generator)
    return image, saliency, disk


def test_grabcut_recovers_an_object_from_a_rough_saliency_map():
    image, saliency, disk = _scene()
    mask = attribution.grabcut_from_saliency(image, saliency)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == (48, 48)
    assert mask_iou(mask, disk).item() > 0.9
    # The saliency alone, thresholded at the same seeds, is a much rougher segmentation.
    assert mask_iou(saliency >= saliency.quantile(0.95), disk).item() < 0.5


def test_seeds_are_kept_and_inputs_untouched():
    image, saliency, _ = _scene(1)
    image_before, saliency_before = image.clone(), saliency.clone()
    mask = attribution.grabcut_from_saliency(image[None], saliency.numpy(), foreground_quantile=0.9,
                                             background_quantile=0.5, largest_component=False)  # fmt: skip
    low, high = np.quantile(saliency.numpy(), [0.5, 0.9])
    assert mask[saliency.numpy() >= high].all(), "the most salient pixels are fixed foreground"
    assert not mask[saliency.numpy() <= low].any(), "the least salient pixels are fixed background"
    assert torch.equal(image, image_before) and torch.equal(saliency, saliency_before)


def test_largest_component_keeps_one_region():
    from scipy import ndimage

    image, saliency, _ = _scene(2)
    image[:, 40:46, 2:8] = torch.tensor([0.9, 0.15, 0.1])[:, None, None]  # a second red patch
    saliency[40:46, 2:8] = 2.0  # very salient too
    everything = attribution.grabcut_from_saliency(image, saliency, largest_component=False)
    largest = attribution.grabcut_from_saliency(image, saliency)
    assert ndimage.label(everything)[1] >= 2 and ndimage.label(largest)[1] == 1
    assert largest.sum() > 200 and (largest <= everything).all()


def test_grabcut_on_synthetic_shapes_beats_the_saliency_threshold(shapenet):
    batch = make_shapes(12, seed=99)
    maps = attribution.saliency(shapenet, batch.images, batch.labels)
    grabcut = np.mean([mask_iou(attribution.grabcut_from_saliency(image, m), truth).item()
                       for image, m, truth in zip(batch.images, maps, batch.masks)])  # fmt: skip
    threshold = mask_iou(maps >= maps.flatten(1).quantile(0.8, dim=1)[:, None, None], batch.masks).mean().item()
    assert grabcut > 0.3 and grabcut > threshold, (grabcut, threshold)


def test_errors():
    image, saliency, _ = _scene()
    with pytest.raises(ValueError, match="size"):
        attribution.grabcut_from_saliency(image, saliency[:40])
    with pytest.raises(ValueError, match="no contrast"):
        attribution.grabcut_from_saliency(image, torch.ones(48, 48))
    with pytest.raises(ValueError, match="background_quantile < foreground_quantile"):
        attribution.grabcut_from_saliency(image, saliency, foreground_quantile=0.2, background_quantile=0.3)
    with pytest.raises(ValueError, match="one image"):
        attribution.grabcut_from_saliency(torch.stack([image, image]), saliency)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attribution.grabcut_from_saliency(image * 255, saliency)
    with pytest.raises(ValueError, match="iterations"):
        attribution.grabcut_from_saliency(image, saliency, iterations=0)
    with pytest.raises(ValueError, match="NaN"):
        attribution.grabcut_from_saliency(image, saliency.masked_fill(saliency > 1, float("nan")))
