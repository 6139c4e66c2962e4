"""Parameterizations: how the optimized tensors become an image ``(N, 3, H, W)`` in [0, 1].

* :class:`PixelImage`   the pixels themselves, projected (clamped) to [0, 1] after every step.
* :class:`FourierImage` a colour-decorrelated, 1/f-scaled Fourier spectrum through a sigmoid
  (Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017).

Adding a parameterization: subclass :class:`Parameterization` and give it ``parameters()``
(the leaf tensors the optimizer updates, ``requires_grad=True``), ``__call__()`` (the image, in
the autograd graph) and, if needed, ``project()`` (called without gradients after each step).
"""
from __future__ import annotations

import torch

from ..imaging import check_images


class Parameterization:
    """Base class: tensors to optimize and the map from them to an image in [0, 1]."""

    pixels = False  # True when parameters()[0] *is* the image (pixel-space regularizers need it)

    def parameters(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def __call__(self) -> torch.Tensor:
        raise NotImplementedError

    def project(self) -> None:
        """Bring the parameters back into their valid set after a step (default: nothing)."""

    @property
    def shape(self) -> torch.Size:
        with torch.no_grad():
            return self().shape


class PixelImage(Parameterization):
    """The pixels are the parameters: ``(N, 3, H, W)``, clamped to [0, 1] after each step.

    Args:
        image: the starting image ``(N, 3, H, W)`` in [0, 1] (copied, never modified).
        clamp: project to [0, 1] after each step (default ``True``).
    """

    pixels = True

    def __init__(self, image: torch.Tensor, *, clamp: bool = True):
        check_images(image, "initial image")
        self.image = image.detach().clone().requires_grad_(True)
        self.clamp = clamp

    def parameters(self) -> list[torch.Tensor]:
        return [self.image]

    def __call__(self) -> torch.Tensor:
        return self.image

    def project(self) -> None:
        if self.clamp:
            self.image.clamp_(0.0, 1.0)


def _size(size) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {size}")
    return int(height), int(width)


def pixel_image(size=64, *, batch: int = 1, init: torch.Tensor | None = None, noise: float = 0.05,
                device=None, clamp: bool = True) -> PixelImage:
    """A pixel parameterization: ``init`` if given, else grey (0.5) plus uniform noise of ``noise``.

    Example:
        >>> param = pixel_image(64, batch=4)
        >>> param().shape
        torch.Size([4, 3, 64, 64])
    """
    if init is None:
        height, width = _size(size)
        init = (0.5 + noise * (2 * torch.rand(batch, 3, height, width, device=device) - 1)).clamp(0, 1)
    elif device is not None:
        init = init.to(device)
    return PixelImage(init, clamp=clamp)


# Square root of the colour correlation of natural (ImageNet) images, from an SVD; the
# normalized matrix maps decorrelated channels back to RGB (the values Lucid/Lucent use).
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImage(Parameterization):
    """A colour-decorrelated Fourier parameterization (Olah et al. 2017), always in (0, 1).

    ``image = sigmoid(C · irfft2(spectrum * scale) / 4)``: ``scale = 1 / max(f, 1/max(H, W))^decay``
    whitens the spectrum (natural images have ~1/f amplitudes, so a gradient step changes all
    frequencies alike); ``C`` (3x3) decorrelates the colours. Optimizing in this basis is a
    preconditioner: the same objective gives images with less high-frequency noise.

    Args:
        batch, size: the image shape; ``init``: an optional image ``(N, 3, H, W)`` to start from.
        sd: standard deviation of the random spectrum; decay: the spectrum's power law.
    """

    def __init__(self, size=64, *, batch: int = 1, sd: float = 0.01, decay: float = 1.0,
                 init: torch.Tensor | None = None, device=None):
        if init is not None:
            check_images(init, "initial image")
            batch, size, device = init.shape[0], tuple(init.shape[-2:]), device or init.device
        self.height, self.width = _size(size)
        fy = torch.fft.fftfreq(self.height, device=device)[:, None]  # (H, 1)
        fx = torch.fft.rfftfreq(self.width, device=device)[None, :]  # (1, W//2+1)
        freqs = (fx**2 + fy**2).sqrt()
        self.scale = 1.0 / freqs.clamp(min=1.0 / max(self.height, self.width)) ** decay  # (H, W//2+1)
        self.color = _COLOR.to(device)
        if init is None:
            spectrum = sd * torch.randn(batch, 3, *freqs.shape, 2, device=device)
        else:
            spectrum = self._spectrum_of(init.to(device))
        self.spectrum = spectrum.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def __call__(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale  # (N, 3, H, W//2+1)
        decorrelated = torch.fft.irfft2(spectrum, s=(self.height, self.width), norm="ortho") / 4.0
        rgb = torch.einsum("ij,njhw->nihw", self.color, decorrelated)  # (N, 3, H, W)
        return torch.sigmoid(rgb)

    def _spectrum_of(self, image: torch.Tensor) -> torch.Tensor:
        """The inverse map: the spectrum whose image is ``image`` (clamped away from 0 and 1)."""
        logits = torch.logit(image.clamp(1e-3, 1 - 1e-3))
        decorrelated = torch.einsum("ij,njhw->nihw", torch.linalg.inv(self.color), logits) * 4.0
        spectrum = torch.fft.rfft2(decorrelated, norm="ortho") / self.scale
        return torch.view_as_real(spectrum).contiguous()


def fourier_image(size=64, *, batch: int = 1, sd: float = 0.01, decay: float = 1.0,
                  init: torch.Tensor | None = None, device=None) -> FourierImage:
    """A :class:`FourierImage` (see there). Example: ``optimize(model, obj, param=fourier_image(64))``."""
    return FourierImage(size, batch=batch, sd=sd, decay=decay, init=init, device=device)


def as_param(param, *, size=64, batch: int = 1, device=None) -> Parameterization:
    """A :class:`Parameterization` from ``None`` (grey + noise), an image tensor, or a parameterization."""
    if param is None:
        return pixel_image(size, batch=batch, device=device)
    if isinstance(param, Parameterization):
        return param
    if isinstance(param, torch.Tensor):
        return PixelImage(param.to(device) if device is not None else param)
    raise TypeError(
        f"param must be None, an image tensor (N, 3, H, W) in [0, 1] or a Parameterization "
        f"(pixel_image(...), fourier_image(...)), got {type(param).__name__}"
    )


__all__ = ["Parameterization", "PixelImage", "FourierImage", "pixel_image", "fourier_image", "as_param"]
