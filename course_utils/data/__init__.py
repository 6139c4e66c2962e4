"""Offline data: bundled photos, synthetic shapes with masks, digits, and CIFAR-10 when online."""
from .examples import OBJECT_PHOTOS, example_images
from .datasets import load_cifar10, load_digits
from .photos import TEXTURES, describe_photo, list_photos, load_photo, load_photos
from .synthetic import CLASSES as SHAPE_CLASSES
from .synthetic import ShapesBatch, SyntheticShapes, make_shapes

__all__ = [
    "TEXTURES", "describe_photo", "list_photos", "load_photo", "load_photos", "SHAPE_CLASSES",
    "ShapesBatch", "SyntheticShapes", "make_shapes", "load_digits", "load_cifar10", "example_images", "OBJECT_PHOTOS",
]  # fmt: skip
