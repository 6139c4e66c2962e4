import time

import pytest
import torch

from course_utils import data
from course_utils.data import synthetic


def test_every_listed_photo_loads_as_rgb_in_range():
    names = data.list_photos()
    assert {"astronaut", "chelsea", "coffee", "rocket", "motorcycle", "horse", "china", "flower",
            "grace_hopper", "brick", "grass", "gravel"} <= set(names)  # fmt: skip
    for name in names:
        image = data.load_photo(name, size=32)
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32, name
        assert 0 <= image.min() and image.max() <= 1, name
        assert image.std() > 0.01, f"{name} is blank"
        assert name in data.describe_photo(name)


def test_photo_sizes_and_batches():
    assert data.load_photo("chelsea", size=None).shape == (3, 300, 451)
    assert data.load_photo("chelsea", size=(50, 70)).shape == (3, 50, 70)
    assert data.load_photos(["chelsea", "coffee"], size=40).shape == (2, 3, 40, 40)
    gray = data.load_photo("camera", size=16)  # grayscale source -> 3 equal channels
    assert torch.equal(gray[0], gray[1])


def test_scikit_learn_photos_are_its_sample_images_read_without_importing_it():
    import subprocess
    import sys

    import numpy as np
    from sklearn.datasets import load_sample_image

    from course_utils.data.photos import PHOTOS

    for name, filename in (("china", "china.jpg"), ("flower", "flower.jpg")):
        assert np.array_equal(PHOTOS[name].load_array(), load_sample_image(filename)), name
    # In a fresh interpreter, the synthetic shapes (whose backgrounds include both) leave scikit-learn unimported
    code = "import sys; from course_utils.data import make_shapes; make_shapes(2, seed=0); print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_unknown_photo_lists_available_names():
    with pytest.raises(ValueError, match="available photos: astronaut"):
        data.load_photo("cat_picture")


def test_make_shapes_shapes_ranges_and_determinism():
    batch = data.make_shapes(40, seed=5, size=48)
    assert batch.images.shape == (40, 3, 48, 48) and batch.images.dtype == torch.float32
    assert batch.masks.shape == (40, 48, 48) and batch.masks.dtype == torch.bool
    assert batch.labels.shape == (40,) and batch.labels.dtype == torch.int64
    assert 0 <= batch.images.min() and batch.images.max() <= 1
    again = data.make_shapes(40, seed=5, size=48)
    assert torch.equal(batch.images, again.images) and torch.equal(batch.masks, again.masks)
    other = data.make_shapes(40, seed=6, size=48)
    assert not torch.equal(batch.images, other.images)
    assert len(batch.classes) >= 10 and len(set(batch.classes)) == len(batch.classes)


def test_masks_cover_the_object_and_the_object_differs_from_background():
    labels = torch.arange(len(data.SHAPE_CLASSES)).repeat(3)
    batch = data.make_shapes(len(labels), seed=2, labels=labels)
    assert torch.equal(batch.labels, labels)
    area = batch.masks.float().mean((1, 2))
    assert (area > 0.03).all() and (area < 0.5).all()
    # Pixels inside the mask have a colour distinct from the ring just outside it.
    inside = (batch.images * batch.masks[:, None]).sum((2, 3)) / batch.masks.sum((1, 2))[:, None]
    dilated = torch.nn.functional.max_pool2d(batch.masks[:, None].float(), 7, 1, 3)[:, 0].bool()
    ring = dilated & ~batch.masks
    outside = (batch.images * ring[:, None]).sum((2, 3)) / ring.sum((1, 2))[:, None]
    assert ((inside - outside).norm(dim=1) > 0.1).float().mean() > 0.8


def test_shape_masks_match_the_signed_distance_definition():
    # A naive per-pixel evaluation of the disk SDF agrees with the vectorized masks' area.
    u = torch.linspace(-1.5, 1.5, 301)
    uu, vv = torch.meshgrid(u, u, indexing="ij")
    area = (synthetic._disk(uu, vv) < 0).float().mean() * 9
    assert area.item() == pytest.approx(torch.pi * 0.95**2, rel=0.02)
    square = (synthetic._square(uu, vv) < 0).float().mean() * 9
    assert square.item() == pytest.approx(1.56**2, rel=0.03)


def test_ten_thousand_images_in_seconds():
    start = time.perf_counter()
    batch = data.make_shapes(10_000, seed=0)
    assert len(batch) == 10_000
    assert time.perf_counter() - start < 60  # generous: a correctness guard, not a benchmark


def test_make_shapes_rejects_bad_arguments():
    with pytest.raises(ValueError, match="labels"):
        data.make_shapes(3, labels=[0, 1])
    with pytest.raises(ValueError, match="class indices"):
        data.make_shapes(2, labels=[0, 99])
    with pytest.raises(ValueError, match="size"):
        data.make_shapes(2, size=4)


def test_dataset_wrapper():
    dataset = data.SyntheticShapes(12, seed=1)
    image, label = dataset[3]
    assert image.shape == (3, 64, 64) and isinstance(label, int) and len(dataset) == 12


def test_digits():
    images, labels, classes = data.load_digits()
    assert images.shape == (1797, 3, 8, 8) and labels.shape == (1797,)
    assert 0 <= images.min() and images.max() <= 1 and classes[3] == "3"
    assert data.load_digits(size=32)[0].shape == (1797, 3, 32, 32)


def test_cifar10_offline_gives_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="make_shapes"):
        data.load_cifar10(root=tmp_path)
