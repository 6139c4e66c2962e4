"""Neural style transfer and texture synthesis (Gatys, Ecker & Bethge 2015)."""
from __future__ import annotations

from typing import Sequence

import torch

from .. import config
from ..hooks import activations, get_layer
from ..imaging import check_images, resize
from .losses import content, gram_match, gram_matrix, tv
from .optimize import SynthesisResult, optimize
from .params import pixel_image

INITS = ("content", "noise", "style")


def style_targets(model, style: torch.Tensor, layers: Sequence[str]) -> list[torch.Tensor]:
    """Step 2 of style transfer: the Gram matrices ``(1, C_l, C_l)`` of the style image(s) at
    ``layers`` (averaged over the style images when several are given)."""
    check_images(style, "style")
    acts = activations(model, style.to(next(model.parameters()).device), list(layers))
    return [gram_matrix(acts[layer]).mean(dim=0, keepdim=True) for layer in layers]


def _role_layers(model, role: str, layers):
    """``layers`` as a list of valid layer names, defaulting to ``model.roles[role]``."""
    layers = getattr(model, "roles", {}).get(role) if layers is None else layers
    if not layers:
        raise ValueError(f"name the {role} layer(s): this model has no {role!r} role")
    layers = [layers] if isinstance(layers, str) else list(layers)
    for layer in layers:
        get_layer(model, layer)
    return layers


def _start(init: str, content_image: torch.Tensor, style: torch.Tensor, size, batch: int, device) -> torch.Tensor:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; use one of {', '.join(map(repr, INITS))}")
    if init == "content":
        return content_image.clone()
    if init == "style":
        return resize(style[:1], tuple(size)).expand(batch, -1, -1, -1).clone()
    return pixel_image(tuple(size), batch=batch, noise=0.5, device=device)()  # uniform noise in [0, 1]


def style_transfer(model, content_image: torch.Tensor, style: torch.Tensor, *, optimizer: str = "lbfgs",
                   init: str = "content", content_weight: float = 1.0, style_weight: float = 1e3,
                   tv_weight: float = 1.0, steps: int | None = None, lr: float | None = None,
                   content_layer: str | None = None, style_layers: Sequence[str] | None = None,
                   style_layer_weights: Sequence[float] | None = None, seed: int | None = 0) -> SynthesisResult:  # fmt: skip
    """Paint ``content_image`` in the style of ``style`` (Gatys et al. 2015, eq. 7).

    Minimizes ``content_weight * L_content + style_weight * L_style + tv_weight * R_TV`` over the
    pixels (clamped to [0, 1]), in three steps: (1) the content target is the content image's
    feature map at ``content_layer``; (2) the style targets are the style image's Gram matrices
    at ``style_layers``; (3) the loop of :func:`~.optimize.optimize` with L-BFGS or Adam.
    Normalizations of the losses: see :mod:`.losses`.

    Args:
        model: a feature extractor (``models.load("vgg19")``, TextureNet offline); unchanged.
        content_image: ``(N, 3, H, W)`` in [0, 1]; the output has its size.
        style: ``(S, 3, h, w)`` in [0, 1], any size; several style images average their Grams.
        optimizer: ``"lbfgs"`` (one L-BFGS iteration per step) or ``"adam"``.
        init: start from the ``"content"`` image, uniform ``"noise"``, or the ``"style"`` image.
        content_weight, style_weight, tv_weight: ``alpha``, ``beta`` and the TV prior's weight.
        steps: default ``config.pick(30, 300)``.
        lr: default 1.0 for L-BFGS, 0.02 for Adam.
        content_layer, style_layers: default ``model.roles["content"]`` and ``model.roles["style"]``.
        style_layer_weights: one weight per style layer (default equal, summing to 1).
        seed: seeds the noise start (``None``: not seeded); the global RNG state is given
            back afterwards (:func:`course_utils.config.seeded`).

    Returns:
        a :class:`~.optimize.SynthesisResult`: ``image`` ``(N, 3, H, W)``, ``history`` the total
        loss ``(steps, N)``, ``records["content"]`` and ``records["style"]`` the two losses alone,
        ``records["evaluations"]`` the forward-and-backward evaluations each step made (Adam: 1;
        L-BFGS: one per point of its line search).

    Example:
        >>> result = style_transfer(models.load("vgg19"), photo[None], painting[None])
    """
    check_images(content_image, "content_image")
    check_images(style, "style")
    steps = config.pick(30, 300) if steps is None else steps
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    (content_layer,), style_layers = _role_layers(model, "content", content_layer), _role_layers(model, "style", style_layers)
    device = next(model.parameters()).device
    content_image = content_image.to(device)
    content_target = activations(model, content_image, content_layer)[content_layer]  # step 1
    grams = style_targets(model, style, style_layers)  # step 2
    content_loss = content(content_layer, content_target)
    style_loss = gram_match(style_layers, grams, style_layer_weights)
    objective = content_weight * content_loss + style_weight * style_loss + tv_weight * tv(2.0)
    lr = (1.0 if optimizer == "lbfgs" else 0.02) if lr is None else lr
    with config.seeded(seed):  # the noise start; the caller's RNG is left alone
        start = _start(init, content_image, style.to(device), content_image.shape[-2:], content_image.shape[0], device)
        with _count_evaluations(model) as counter:
            result = optimize(model, objective, param=start, steps=steps, lr=lr, optimizer=optimizer, minimize=True,
                              record={"content": content_loss, "style": style_loss}, post_step=[counter.step_done],
                              desc="style transfer")  # fmt: skip
    result.records["evaluations"] = counter.per_step(result.image.shape[0])
    return result


class _count_evaluations:
    """Counts the forward passes of ``model`` made in each step of the loop (a forward hook, removed
    on exit); ``step_done`` is the loop's post-step hook."""

    def __init__(self, model):
        self.model, self.calls, self.steps = model, 0, []

    def __enter__(self):
        self.handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()
        return False

    def _hook(self, module, inputs, output):
        self.calls += 1

    def step_done(self, state) -> None:
        self.steps.append(self.calls)
        self.calls = 0

    def per_step(self, batch: int) -> torch.Tensor:
        return torch.tensor(self.steps, dtype=torch.float32)[:, None].expand(-1, batch).clone()  # (steps, N)


def shuffle_tiles(images: torch.Tensor, tile: int, *, seed: int = 0) -> torch.Tensor:
    """The images cut into ``tile x tile`` squares put back in a random order (``tile=1``: the
    pixels shuffled), ``(N, 3, H, W)`` -> same shape; H and W must be multiples of ``tile``.

    A tile-shuffled texture keeps its local patterns and so nearly its Gram matrices; a
    pixel-shuffled one keeps only its colour histogram (lecture 13).
    """
    check_images(images, "images")
    n, c, h, w = images.shape
    if tile < 1 or h % tile or w % tile:
        raise ValueError(f"tile must divide the image size {h} x {w}, got {tile}")
    rows, cols = h // tile, w // tile
    tiles = images.reshape(n, c, rows, tile, cols, tile).permute(0, 2, 4, 1, 3, 5).reshape(n, rows * cols, c, tile, tile)
    order = torch.randperm(rows * cols, generator=torch.Generator().manual_seed(seed)).to(images.device)
    tiles = tiles[:, order].reshape(n, rows, cols, c, tile, tile)
    return tiles.permute(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)


def texture(model, style: torch.Tensor, *, size: int | tuple[int, int] | None = None, batch: int = 1,
            optimizer: str = "lbfgs", steps: int | None = None, lr: float | None = None,
            style_layers: Sequence[str] | None = None, style_layer_weights: Sequence[float] | None = None,
            tv_weight: float = 0.0, seed: int | None = 0) -> SynthesisResult:  # fmt: skip
    """Texture synthesis (Gatys et al. 2015, "Texture synthesis using CNNs"): from noise, match
    the style image's Gram matrices alone (no content term).

    ``size`` of the output (default: the style image's); ``batch`` different textures at once.
    Returns a :class:`~.optimize.SynthesisResult` whose ``history`` is the style loss.
    """
    check_images(style, "style")
    steps = config.pick(30, 300) if steps is None else steps
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    style_layers = _role_layers(model, "style", style_layers)
    device = next(model.parameters()).device
    grams = style_targets(model, style, style_layers)
    objective = gram_match(style_layers, grams, style_layer_weights)
    if tv_weight:
        objective = objective + tv_weight * tv(2.0)
    size = tuple(style.shape[-2:]) if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    lr = (1.0 if optimizer == "lbfgs" else 0.02) if lr is None else lr
    with config.seeded(seed):  # the noise start; the caller's RNG is left alone
        start = pixel_image(size, batch=batch, noise=0.5, device=device)
        return optimize(model, objective, param=start, steps=steps, lr=lr, optimizer=optimizer, minimize=True,
                        desc="texture")  # fmt: skip


__all__ = ["style_transfer", "texture", "style_targets", "shuffle_tiles"]
