"""Losses on images and feature maps, and the matching objectives for the optimization loop.

Plain functions (``tv_loss``, ``gram_matrix``, ``content_loss``, ``style_loss``) take tensors and
return one value per image ``(N,)``; the objectives (``tv``, ``feature_match``, ``gram_match``,
``dream``, ``guided_dream``) wrap them for :func:`course_utils.synthesis.optimize`.

Normalizations, stated once (style weights only transfer between implementations that agree):

* ``gram_matrix``: ``G = F F^T / (H W)`` for the ``(C, H W)`` feature matrix ``F`` (the mean over
  positions of the outer products of feature vectors).
* ``style_loss``: per layer, the mean over the ``C x C`` entries of ``(G - A)^2``; with Gatys et
  al.'s unnormalized Gram matrices this is ``4 E_l`` of their eq. 4.
* ``content_loss``: the mean over ``(C, H, W)`` of ``(F - P)^2`` (Gatys et al.'s eq. 1 divided by
  ``C H W / 2``).
* ``tv_loss``: the sum over pixels of ``((dx)^2 + (dy)^2)^(beta / 2)`` (Mahendran & Vedaldi's
  eq. 5), divided by the number of pixels ``H W``.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .objectives import Context, Objective


def tv_loss(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Total variation ``R_TV^beta`` of Mahendran & Vedaldi (2015), eq. 5, per image.

    ``(1 / HW) sum_ij ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta / 2)``, summed over
    channels, for ``images`` ``(N, C, H, W)``; returns ``(N,)``. ``beta = 2`` penalizes all edges
    alike; ``beta = 1`` (the classic TV) prefers a few sharp edges to many soft ones.

    Example:
        >>> tv_loss(torch.zeros(2, 3, 8, 8))
        tensor([0., 0.])
    """
    if images.ndim != 4:
        raise ValueError(f"tv_loss takes images (N, C, H, W), got shape {tuple(images.shape)}")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    dx = images[..., :-1, 1:] - images[..., :-1, :-1]  # (N, C, H-1, W-1)
    dy = images[..., 1:, :-1] - images[..., :-1, :-1]  # (N, C, H-1, W-1)
    squared = dx.pow(2) + dy.pow(2)
    # The gradient of s^(beta/2) at s = 0 is infinite for beta < 2: keep s away from 0 there.
    powered = squared if beta == 2 else (squared + 1e-8).pow(beta / 2)
    return powered.flatten(1).sum(dim=1) / (images.shape[-2] * images.shape[-1])


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices ``G = F F^T / (H W)`` of feature maps (Gatys et al. 2015, eq. 3, normalized).

    ``features`` ``(N, C, H, W)`` -> ``(N, C, C)``: entry ``(c, d)`` is the mean over positions of
    the product of channels ``c`` and ``d``. Dividing by ``H W`` makes Gram matrices of images of
    different sizes comparable.
    """
    if features.ndim != 4:
        raise ValueError(f"gram_matrix takes feature maps (N, C, H, W), got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)  # (N, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)  # (N, C, C)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of feature maps, per image: ``mean((F - P)^2)`` ``(N,)``.

    Gatys et al. (2015), eq. 1, up to the constant ``C H W / 2``. ``target`` ``P`` has the shape
    of ``features`` or a batch of 1 (broadcast to every image).
    """
    if target.shape[1:] != features.shape[1:]:
        raise ValueError(f"content target {tuple(target.shape)} does not match features {tuple(features.shape)}")
    return (features - target).pow(2).flatten(1).mean(dim=1)


def style_loss(features: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
               weights: Sequence[float] | None = None) -> torch.Tensor:  # fmt: skip
    """Weighted sum over layers of ``mean((G_l - A_l)^2)``, per image ``(N,)`` (Gatys et al. eq. 5).

    Args:
        features: one feature map ``(N, C_l, H_l, W_l)`` per style layer.
        targets: the style image's Gram matrices ``A_l`` ``(1 or N, C_l, C_l)`` (:func:`gram_matrix`).
        weights: one weight ``w_l`` per layer (default: equal weights ``1 / L``).
    """
    if len(features) != len(targets):
        raise ValueError(f"got {len(features)} feature maps but {len(targets)} target Gram matrices")
    weights = [1.0 / len(features)] * len(features) if weights is None else list(weights)
    if len(weights) != len(features):
        raise ValueError(f"got {len(weights)} style weights for {len(features)} layers")
    total = 0.0
    for feature, target, weight in zip(features, targets, weights):
        gram = gram_matrix(feature)  # (N, C, C)
        if target.shape[1:] != gram.shape[1:]:
            raise ValueError(f"target Gram matrix {tuple(target.shape)} does not match {tuple(gram.shape)}")
        total = total + weight * (gram - target).pow(2).flatten(1).mean(dim=1)
    return total


# --------------------------------------------------------------------------- #
# Objectives for the loop (minimize them: optimize(..., minimize=True))
# --------------------------------------------------------------------------- #
def tv(beta: float = 2.0) -> Objective:
    """:func:`tv_loss` of the untransformed image, as an objective (a prior to minimize)."""
    return Objective(lambda ctx: tv_loss(ctx.image, beta), name=f"tv(beta={beta:g})")


def _output_or_layer(ctx: Context, layer: str | None) -> torch.Tensor:
    if layer is None:
        return ctx.output
    if layer == "log_probs":
        return torch.log_softmax(ctx.output, dim=1)
    return ctx.acts[layer]


def _layers(layer: str | None) -> list[str]:
    return [] if layer in (None, "log_probs") else [layer]


def feature_match(layer: str | None, target: torch.Tensor, *, normalize: bool = True) -> Objective:
    """``||Phi(x) - Phi_0||^2 / ||Phi_0||^2`` per image (Mahendran & Vedaldi 2015, eq. 1).

    ``layer``: a layer name, ``None`` for the model's output (class scores), or ``"log_probs"``
    for the log-softmax of the output. ``target``: ``Phi_0``, one per image (or a batch of 1).
    ``normalize=False`` drops the division (the plain squared distance).
    """
    norm = target.flatten(1).pow(2).sum(dim=1).clamp(min=1e-12) if normalize else None  # (N,)

    def fn(ctx: Context) -> torch.Tensor:
        features = _output_or_layer(ctx, layer)
        if features.shape[1:] != target.shape[1:]:
            raise ValueError(f"features of {layer!r} have shape {tuple(features.shape)}, target {tuple(target.shape)}")
        distance = (features - target).flatten(1).pow(2).sum(dim=1)  # (N,)
        return distance / norm if normalize else distance

    return Objective(fn, _layers(layer), f"feature_match({layer})")


def content(layer: str, target: torch.Tensor) -> Objective:
    """:func:`content_loss` at ``layer`` against ``target`` feature maps, as an objective."""
    return Objective(lambda ctx: content_loss(ctx.acts[layer], target), [layer], f"content({layer})")


def gram_match(layers: Sequence[str], targets: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> Objective:
    """:func:`style_loss` over ``layers`` against the target Gram matrices, as an objective."""
    layers = list(layers)
    return Objective(lambda ctx: style_loss([ctx.acts[layer] for layer in layers], targets, weights), layers,
                     f"gram_match({', '.join(layers)})")  # fmt: skip


def dream(layer: str) -> Objective:
    """DeepDream's objective: ``||a||^2 / 2`` of the activations ``a`` at ``layer``, per image.

    Its gradient with respect to the activations is ``a`` itself: "amplify what the layer sees"
    (the lecture's "set dx = x" at the chosen layer).
    """
    return Objective(lambda ctx: ctx.acts[layer].flatten(1).pow(2).sum(dim=1) / 2, [layer], f"dream({layer})")


def guided_dream(layer: str, guide_features: torch.Tensor) -> Objective:
    """Guided DeepDream: each position's feature vector ``x_i`` is pulled towards the guide's
    feature vector ``y_j`` it is most similar to: ``sum_i max_j x_i . y_j``, per image.

    ``guide_features``: ``(M, C)`` feature vectors of the guide image at ``layer`` (one per position).
    The gradient with respect to ``x_i`` is the best-matching ``y_j``.
    """
    if guide_features.ndim != 2:
        raise ValueError(f"guide_features must be (M, C) feature vectors, got {tuple(guide_features.shape)}")

    def fn(ctx: Context) -> torch.Tensor:
        act = ctx.acts[layer]  # (N, C, h, w)
        vectors = act.flatten(2).transpose(1, 2)  # (N, hw, C)
        similarity = vectors @ guide_features.T  # (N, hw, M)
        return similarity.max(dim=2).values.sum(dim=1)  # (N,)

    return Objective(fn, [layer], f"guided_dream({layer})")


__all__ = ["tv_loss", "gram_matrix", "content_loss", "style_loss", "tv", "feature_match", "content",
           "gram_match", "dream", "guided_dream"]  # fmt: skip
