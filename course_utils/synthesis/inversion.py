"""Feature inversion (Mahendran & Vedaldi 2015): which images does a layer see as this one?"""
from __future__ import annotations

import torch

from .. import config
from ..hooks import activations, get_layer
from ..imaging import check_images
from .losses import feature_match, tv
from .optimize import SynthesisResult, optimize
from .params import pixel_image
from .transforms import jitter as jitter_transform


def layer_features(model, images: torch.Tensor, layer: str | None) -> torch.Tensor:
    """``Phi_0``: the features of ``images`` at ``layer`` (detached), or the class scores for
    ``None``, or their log-softmax for ``"log_probs"``."""
    if layer in (None, "log_probs"):
        with torch.no_grad():
            output = model(images)
        return torch.log_softmax(output, dim=1) if layer == "log_probs" else output
    return activations(model, images, layer)[layer]


def invert(model, image: torch.Tensor, layer: str | None, *, steps: int | None = None, tv_weight: float = 0.02,
           beta: float = 2.0, lr: float = 0.03, jitter: int = 0, seed: int | None = 0,
           desc: str = "invert") -> SynthesisResult:  # fmt: skip
    """Reconstruct images from their features at one layer (Mahendran & Vedaldi 2015, eq. 1-5).

    ``x* = argmin_x ||Phi(x) - Phi_0||^2 / ||Phi_0||^2 + tv_weight * R_TV^beta(x)`` over pixels
    ``x`` in the box [0, 1] (the norm bound: every step projects onto it), from grey plus noise,
    with Adam and a learning rate that decays to a tenth.

    Args:
        model: a course model (or any module); left unchanged.
        image: ``(N, 3, H, W)`` in [0, 1]: the images whose features are inverted (all at once).
        layer: a layer name (``model.roles[...]``, ``hooks.layer_names(model)``), ``None`` for
            the class scores, or ``"log_probs"`` for the class log-probabilities.
        steps: default ``config.pick(200, 600)``.
        tv_weight: ``lambda`` of the total-variation prior (:func:`~.losses.tv_loss`).
        beta: the TV exponent (2: smooth; 1: sharper edges).
        lr: Adam's initial step size, in pixel units.
        jitter: random shift in pixels before each forward pass (default 0: the features of a
            shifted image no longer match ``Phi_0`` exactly, which costs accuracy).
        seed: seeds the start image and the jitter (``None``: not seeded); the global RNG
            state is given back afterwards (:func:`course_utils.config.seeded`).

    Returns:
        a :class:`~.optimize.SynthesisResult`: ``image`` the reconstruction ``(N, 3, H, W)``,
        ``history`` the total loss ``(steps, N)``, and ``records["feature_loss"]`` the normalized
        feature distance alone ``(steps, N)``.

    Example:
        >>> result = invert(model, images, model.roles["content"])
        >>> result.records["feature_loss"][-1] / result.records["feature_loss"][0]  # well below 0.1
    """
    check_images(image, "image")
    if layer not in (None, "log_probs"):
        get_layer(model, layer)  # a clear error for an unknown name
    steps = config.pick(200, 600) if steps is None else steps
    device = next(model.parameters()).device
    image = image.to(device)
    target = layer_features(model, image, layer)
    matched = feature_match(layer, target)

    def decay_lr(state):  # linear decay to lr / 10 over the run
        state.optimizer.param_groups[0]["lr"] = lr * (1 - 0.9 * (state.step + 1) / max(state.steps, 1))

    with config.seeded(seed):  # the start noise and the jitter; the caller's RNG is left alone
        start = pixel_image(tuple(image.shape[-2:]), batch=image.shape[0], device=device)
        return optimize(
            model, matched + tv_weight * tv(beta), param=start, transforms=[jitter_transform(jitter)], steps=steps,
            lr=lr, optimizer="adam", post_step=[decay_lr], minimize=True, record={"feature_loss": matched}, desc=desc,
        )  # fmt: skip


__all__ = ["invert", "layer_features"]
