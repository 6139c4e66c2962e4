"""The wrapper every course model shares: normalization inside, class names and layer roles.

A :class:`CourseModel` takes RGB images ``(N, 3, H, W)`` in [0, 1]; its first layer
normalizes them, so pixel-space code (clamping, epsilons in 1/255 units) never needs to
know the dataset statistics.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; ``mean`` and ``std`` are RGB triples."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def extra_repr(self) -> str:
        fmt = lambda t: "(" + ", ".join(f"{v:.3f}" for v in t.flatten().tolist()) + ")"  # noqa: E731
        return f"mean={fmt(self.mean)}, std={fmt(self.std)}"


class CourseModel(nn.Module):
    """A network with its input normalization, class names and named layer roles.

    Attributes:
        name: the registry name, e.g. ``"vgg16"`` or ``"shapenet"``.
        source: ``"imagenet"``, ``"offline"`` or ``"random"`` (where the weights came from).
        classes: class names, index-aligned with the output scores (empty for a pure
            feature extractor).
        roles: the layers the lecture refers to, by role: ``"first_conv"``, ``"code"``,
            ``"content"``, ``"style"`` (a list), ``"deepdream"``, ... Values are layer names
            of ``net`` (see :func:`course_utils.hooks.layer_names`).
        input_size: the image side the network was trained on.
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        name: str,
        source: str,
        classes: Sequence[str],
        roles: dict,
        mean: Sequence[float],
        std: Sequence[float],
        input_size: int,
    ):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.name, self.source, self.input_size = name, source, input_size
        self.classes = list(classes)
        self.roles = dict(roles)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` RGB in [0, 1] -> the network's output (class scores for classifiers)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"{self.name} takes RGB images of shape (N, 3, H, W) in [0, 1], got {tuple(images.shape)}"
            )
        if not images.is_floating_point():
            raise TypeError(
                f"{self.name} takes float images in [0, 1], got dtype {images.dtype}; "
                "for uint8 pixels use images.float() / 255"
            )
        try:
            return self.net(self.normalize(images))
        except RuntimeError as error:
            smallest = self.min_input_size()
            if min(images.shape[-2:]) < smallest:
                raise ValueError(
                    f"{self.name} needs images of at least {smallest}x{smallest} pixels, got "
                    f"{images.shape[-2]}x{images.shape[-1]}; resize with course_utils.imaging.resize"
                ) from error
            raise

    def min_input_size(self) -> int:
        """The smallest square side the network accepts (found once, by trying sizes)."""
        if getattr(self, "_min_input_size", None) is None:
            parameter = next(self.parameters())
            probe = lambda side: self.net(torch.zeros(1, 3, side, side, device=parameter.device))  # noqa: E731
            low, high = 1, max(self.input_size, 1)  # invariant: ``high`` works, sides below ``low`` fail
            with torch.no_grad():
                while low < high:
                    middle = (low + high) // 2
                    try:
                        probe(middle)
                        high = middle
                    except RuntimeError:
                        low = middle + 1
            self._min_input_size = high
        return self._min_input_size

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters: move inputs there with ``images.to(model.device)``."""
        return self.normalize.mean.device

    def role(self, role: str):
        """The layer name (or list of names) for ``role``; a clear error lists the known roles."""
        if role not in self.roles:
            raise KeyError(f"{self.name} has no role {role!r}; its roles are: {', '.join(self.roles)}")
        return self.roles[role]

    def extra_repr(self) -> str:
        return f"name={self.name!r}, source={self.source!r}, classes={len(self.classes)}"
