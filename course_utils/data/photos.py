"""Real photographs that ship inside installed packages, loaded by name.

Nothing is downloaded: the files come with scikit-image, scikit-learn and matplotlib.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..imaging import to_tensor


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo pairs: left image

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        # The JPEG is read straight from scikit-learn's folder: importing scikit-learn for it
        # would cost about a second (in every fresh kernel that makes synthetic shapes).
        spec = importlib.util.find_spec("sklearn")
        path = Path(spec.origin).parent / "datasets" / "images" / filename if spec and spec.origin else None
        if path is None or not path.is_file():  # another layout: ask scikit-learn itself
            from sklearn.datasets import load_sample_image

            return load_sample_image(filename)
        return _read_rgb(path)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(filename) as file:
            return _read_rgb(file)

    return load


def _read_rgb(file) -> np.ndarray:
    """An image file (a path or an open binary file) as an ``(H, W, 3)`` uint8 RGB array."""
    from PIL import Image

    with Image.open(file) as pil:
        return np.asarray(pil.convert("RGB"))


@dataclass(frozen=True)
class Photo:
    """One bundled photo: where it comes from and what it shows."""

    name: str
    description: str
    source: str
    load_array: Callable[[], np.ndarray]


_PHOTOS = [
    Photo("astronaut", "astronaut Eileen Collins, portrait", "scikit-image", _skimage("astronaut")),
    Photo("chelsea", "Chelsea the cat (a tabby)", "scikit-image", _skimage("chelsea")),
    Photo("coffee", "a cup of coffee on a saucer", "scikit-image", _skimage("coffee")),
    Photo("rocket", "a rocket on its launch pad", "scikit-image", _skimage("rocket")),
    Photo("motorcycle", "a motorcycle (left view of a stereo pair)", "scikit-image", _skimage("stereo_motorcycle")),
    Photo("horse", "a horse silhouette (binary image)", "scikit-image", _skimage("horse")),
    Photo("camera", "the cameraman (grayscale)", "scikit-image", _skimage("camera")),
    Photo("coins", "Greek coins (grayscale)", "scikit-image", _skimage("coins")),
    Photo("hubble", "the Hubble deep field", "scikit-image", _skimage("hubble_deep_field")),
    Photo("logo", "the scikit-image logo (RGBA)", "scikit-image", _skimage("logo")),
    Photo("china", "a Chinese temple", "scikit-learn", _sklearn("china.jpg")),
    Photo("flower", "a flower close-up", "scikit-learn", _sklearn("flower.jpg")),
    Photo("grace_hopper", "Rear Admiral Grace Hopper, portrait", "matplotlib", _matplotlib("grace_hopper.jpg")),
    Photo("brick", "texture: a brick wall (grayscale)", "scikit-image", _skimage("brick")),
    Photo("grass", "texture: grass (grayscale)", "scikit-image", _skimage("grass")),
    Photo("gravel", "texture: gravel (grayscale)", "scikit-image", _skimage("gravel")),
]
PHOTOS: dict[str, Photo] = {photo.name: photo for photo in _PHOTOS}
TEXTURES = ("brick", "grass", "gravel")


def list_photos() -> list[str]:
    """Names of the bundled photos, e.g. ``['astronaut', 'chelsea', ...]``."""
    return list(PHOTOS)


def _get(name: str) -> Photo:
    try:
        return PHOTOS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown photo {name!r}; available photos: {', '.join(PHOTOS)}") from None


def load_photo(name: str, size: int | tuple[int, int] | None = 224) -> torch.Tensor:
    """Load a bundled photo as a ``(3, H, W)`` RGB tensor in [0, 1].

    Args:
        name: one of :func:`list_photos`.
        size: an int resizes the shorter side and center-crops a square; ``(H, W)`` resizes
            exactly; ``None`` keeps the original size. Grayscale and RGBA become RGB.
    """
    return to_tensor(_get(name).load_array(), size)


def load_photos(names, size: int | tuple[int, int] = 224) -> torch.Tensor:
    """Load several bundled photos as one batch ``(N, 3, size, size)`` in [0, 1]."""
    if isinstance(names, str):
        names = [names]
    return torch.stack([load_photo(name, size) for name in names])


def describe_photo(name: str) -> str:
    """One line on what the photo shows and which package ships it."""
    photo = _get(name)
    return f"{photo.name}: {photo.description} (from {photo.source})"
