"""Gradients of a score with respect to the pixels: saliency maps, SmoothGrad, neuron gradients,
Grad-CAM (lecture 07).

Every function runs in eval mode with frozen parameters and differentiates with
``torch.autograd.grad`` on the input (or one layer) only, so the model is left exactly as it was:
same mode, no hooks, no ``.grad`` on its parameters. Scores are taken *before* the softmax.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Union

import torch
import torch.nn.functional as F
from torch import nn

from .. import hooks
from ..imaging import check_images
from ..targets import Target, resolve_targets

Unit = Union[int, tuple[int, int, int]]

__all__ = ["resolve_targets", "class_scores", "input_gradient", "saliency", "neuron_gradient", "grad_cam"]


# ---------------------------------------------------------------------------- targets


def class_scores(scores: torch.Tensor, targets: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
    """``scores (N, K)`` (logits), ``targets (N,)`` -> ``(N,)``: each image's score of its target class.

    Raises ``ValueError`` when the model's output is not ``(N, K)`` or an index is ``>= K``. With
    ``checked=True`` (the targets were already checked against the model's class names) the index
    check is skipped: on a GPU it would wait for the forward pass to finish before the backward
    pass can be queued.
    """
    if scores.ndim != 2:
        raise ValueError(f"the model must output class scores (N, K), got shape {tuple(scores.shape)}")
    if not checked and len(targets) and int(targets.max()) >= scores.shape[1]:
        raise ValueError(f"class index {int(targets.max())} is out of range for {scores.shape[1]} classes")
    return scores.gather(1, targets[:, None]).squeeze(1)  # (N,)


def _target_scores(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``model(images)``'s score of each image's target class, ``(N,)``."""
    named = bool(getattr(model, "classes", None))  # resolve_targets checked the range already
    return class_scores(model(images), targets, checked=named)


# ---------------------------------------------------------------------------- helpers


def _check_device(model: nn.Module, images: torch.Tensor) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != images.device:
        raise ValueError(
            f"images are on {images.device} but the model is on {parameter.device}; "
            "move them with images.to(model.device)"
        )


@contextmanager
def _untouched(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and frozen parameters inside the block; both restored afterwards."""
    with hooks.eval_mode(model), hooks.frozen(model), torch.enable_grad():
        yield model


def _prepare(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    check_images(images)
    _check_device(model, images)
    return images.detach().clone().requires_grad_(True)


# ---------------------------------------------------------------------------- input gradients


def input_gradient(model: nn.Module, images: torch.Tensor, target: Target) -> torch.Tensor:
    """The gradient of each image's target class score (before softmax) with respect to its pixels.

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1] (a course model or any module).
        images: ``(N, 3, H, W)`` float in [0, 1], on the model's device.
        target: an int, a class name, or one per image (see :func:`resolve_targets`).

    Returns:
        ``(N, 3, H, W)``: ``dS_c(I) / dI``, signed, one batched forward and backward pass.

    Simonyan et al. 2014, "Deep Inside Convolutional Networks", Sec. 3: w = dS_c/dI at I_0 (eq. 2).

    Example:
        >>> grad = input_gradient(model, images, "disk")  # (N, 3, H, W)
    """
    x = _prepare(model, images)
    with _untouched(model):
        targets = resolve_targets(model, target, len(x), x.device)
        score = _target_scores(model, x, targets).sum()  # images are independent: one backward pass
        (grad,) = torch.autograd.grad(score, x)
    return grad


def saliency(
    model: nn.Module,
    images: torch.Tensor,
    target: Target,
    *,
    smoothgrad: int = 0,
    noise: float = 0.15,
    batch_size: int = 64,
    seed: int | None = None,
) -> torch.Tensor:
    """Image-specific class saliency: the largest absolute input gradient over the colour channels.

    ``M_ij = max_c |w_(i,j,c)|``, with ``w`` from :func:`input_gradient` (reduction: abs, then max
    over the 3 channels; Captum's ``Saliency(abs=True)`` keeps the channels).

    Args:
        model, images, target: as for :func:`input_gradient`.
        smoothgrad: 0 (default) for the plain map; ``n > 0`` averages the maps of ``n`` noisy
            copies of each image (SmoothGrad). The noisy copies are stacked along the batch and
            processed ``batch_size`` images at a time.
        noise: SmoothGrad's noise level: the standard deviation of the Gaussian noise as a fraction
            of each image's range ``max - min`` (default 0.15; the noisy copies are not clamped).
        batch_size: the most images per forward/backward pass for SmoothGrad (default 64).
        seed: seeds the noise (drawn on the images' device, one ``(N, 3, H, W)`` draw per sample,
            so the result does not depend on ``batch_size``); ``None`` uses the global generator.

    Returns:
        ``(N, H, W)``, non-negative.

    Simonyan et al. 2014, Sec. 3.1 (M_ij = max_c |w_h(i,j,c)|); Smilkov et al. 2017, "SmoothGrad",
    eq. 3: M̂(x) = 1/n sum_k M(x + N(0, sigma^2)).

    Example:
        >>> maps = saliency(model, images, labels)                 # (N, H, W)
        >>> smooth = saliency(model, images, labels, smoothgrad=25)
    """
    if not isinstance(smoothgrad, int) or isinstance(smoothgrad, bool) or smoothgrad < 0:
        raise ValueError(f"smoothgrad is the number of noisy samples, an int >= 0; got {smoothgrad!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (a fraction of the image range), got {noise}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if smoothgrad == 0:
        return input_gradient(model, images, target).abs().amax(dim=1)
    x = _prepare(model, images).detach()
    count = len(x)
    targets = resolve_targets(model, target, count, x.device)
    low, high = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
    sigma = noise * (high - low)  # (N, 1, 1, 1)
    generator = None if seed is None else torch.Generator(device=x.device).manual_seed(seed)
    per_pass = max(1, batch_size // max(count, 1))  # whole samples (all N images) per pass
    total = torch.zeros(count, *x.shape[-2:], device=x.device, dtype=x.dtype)  # (N, H, W)
    with _untouched(model):
        for start in range(0, smoothgrad, per_pass):
            samples = min(per_pass, smoothgrad - start)
            draws = [torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) for _ in range(samples)]
            noisy = (x + torch.stack(draws) * sigma).flatten(0, 1).requires_grad_(True)  # (samples*N, 3, H, W)
            score = _target_scores(model, noisy, targets.repeat(samples)).sum()
            (grad,) = torch.autograd.grad(score, noisy)
            total += grad.abs().amax(dim=1).view(samples, count, *x.shape[-2:]).sum(0)
    return total / smoothgrad


# ---------------------------------------------------------------------------- neurons and layers


def _unit_seed(output: torch.Tensor, layer: str, unit: Unit) -> torch.Tensor:
    """The gradient to start from at ``layer``: zeros, with ones at ``unit`` (a channel or a position)."""
    if output.ndim < 2:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(output.shape)}; expected (N, C, ...)")
    channels, spatial = output.shape[1], tuple(output.shape[2:])
    position = ()
    if isinstance(unit, (tuple, list)):
        if len(unit) != 1 + len(spatial) or not all(isinstance(u, int) for u in unit):
            raise ValueError(
                f"unit must be a channel int or (channel, y, x) ints; layer {layer!r} has output "
                f"{tuple(output.shape)}, got {unit!r}"
            )
        unit, position = unit[0], tuple(unit[1:])
    if isinstance(unit, bool) or not isinstance(unit, int):
        raise TypeError(f"unit must be a channel int or (channel, y, x), got {unit!r}")
    if not 0 <= unit < channels:
        raise ValueError(f"channel {unit} is out of range: layer {layer!r} has {channels} channels (0..{channels - 1})")
    for coordinate, side in zip(position, spatial):
        if not 0 <= coordinate < side:
            raise ValueError(f"position {position} is outside layer {layer!r}'s {spatial} feature map")
    seed = torch.zeros_like(output)
    seed[(slice(None), unit) + position] = 1.0  # one unit, or every position of the channel
    return seed


def neuron_gradient(model: nn.Module, images: torch.Tensor, layer: str, unit: Unit) -> torch.Tensor:
    """The gradient of one neuron (or one whole channel) of ``layer`` with respect to the pixels.

    The lecture's recipe: forward the image, set the gradient at ``layer`` to zero everywhere
    except a 1 at the neuron of interest, backpropagate to the image.

    Args:
        model, images: as for :func:`input_gradient`.
        layer: a layer name (``hooks.layer_names(model)``; e.g. ``model.roles["last_conv"]``).
        unit: a channel ``c`` (the gradient of the sum of that channel over all positions, or the
            neuron ``c`` of a fully connected layer), or ``(c, y, x)`` for one position.

    Returns:
        ``(N, 3, H, W)``, signed.

    Simonyan et al. 2014, Sec. 3 (the gradient of any unit, not only a class score); Zeiler & Fergus 2013.

    Example:
        >>> grad = neuron_gradient(model, images, model.roles["last_conv"], (5, 2, 2))
    """
    x = _prepare(model, images)
    hooks.get_layer(model, layer)  # a clear error for unknown names, before any work
    with _untouched(model), hooks.capture_activations(model, layer, detach=False) as store:
        model(x)
        output = store[layer]  # (N, C, h, w) or (N, C)
        (grad,) = torch.autograd.grad(output, x, grad_outputs=_unit_seed(output, layer, unit))
    return grad


def _per_image_unit_gradient(model: nn.Module, images: torch.Tensor, layer: str, units) -> torch.Tensor:
    """:func:`neuron_gradient` with its own neuron ``units[n] = (c, y, x)`` for each image ``n``, in
    one batched pass (the images are independent in eval mode, so each gets exactly its own gradient)."""
    x = _prepare(model, images)
    hooks.get_layer(model, layer)
    if len(units) != len(x):
        raise ValueError(f"{len(units)} units for {len(x)} images: give one (c, y, x) per image")
    with _untouched(model), hooks.capture_activations(model, layer, detach=False) as store:
        model(x)
        output = store[layer]  # (N, C, h, w)
        seed = torch.stack([_unit_seed(output[n : n + 1], layer, tuple(unit))[0] for n, unit in enumerate(units)])
        (grad,) = torch.autograd.grad(output, x, grad_outputs=seed)
    return grad


def grad_cam(model: nn.Module, images: torch.Tensor, target: Target, *, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM: a layer's feature maps weighted by their average gradient, ReLU, upsampled.

    Args:
        model, images, target: as for :func:`input_gradient`.
        layer: a convolutional layer's name; default ``model.roles["last_conv"]`` (its output).

    Returns:
        ``(N, H, W)``, non-negative: ``ReLU(sum_k alpha_k A^k)`` with ``alpha_k`` the mean over
        positions of ``dS_c / dA^k``, bilinearly upsampled from the layer's ``(h, w)`` to the image's.

    Selvaraju et al. 2017, "Grad-CAM", eqs. 1-2.

    Example:
        >>> cam = grad_cam(model, images, "ring")  # (N, H, W)
    """
    if layer is None:
        roles = getattr(model, "roles", None) or {}
        if "last_conv" not in roles:
            raise ValueError("this model has no role 'last_conv'; name the layer with layer=...")
        layer = roles["last_conv"]
    x = _prepare(model, images)
    hooks.get_layer(model, layer)
    with _untouched(model), hooks.capture_activations(model, layer, detach=False) as store:
        targets = resolve_targets(model, target, len(x), x.device)
        score = _target_scores(model, x, targets).sum()
        maps = store[layer]
        if maps.ndim != 4:
            raise ValueError(f"Grad-CAM needs a convolutional layer with (N, C, h, w) output; {layer!r} gives {tuple(maps.shape)}")
        (grad,) = torch.autograd.grad(score, maps)  # (N, C, h, w)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1): alpha_k
    cam = F.relu((weights * maps.detach()).sum(dim=1, keepdim=True))  # (N, 1, h, w)
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
