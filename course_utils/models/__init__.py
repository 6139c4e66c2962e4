"""The course's models: ``load(name)`` and top-k predictions with class names."""
from .base import CourseModel, Normalize
from .predict import topk_predictions
from .registry import IMAGENET_MODELS, OFFLINE_MODELS, available_models, describe, load, offline_counterpart

__all__ = [
    "CourseModel", "Normalize", "topk_predictions", "IMAGENET_MODELS", "OFFLINE_MODELS",
    "available_models", "describe", "load", "offline_counterpart",
]  # fmt: skip
