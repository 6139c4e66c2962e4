"""Targeted fooling images (Szegedy et al. 2014) and unrecognizable high-confidence images (Nguyen et al. 2015)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import config, hooks
from ..imaging import check_images
from ._common import check_epsilon, input_gradient, resolve_target

__all__ = ["FoolingResult", "fool", "evolve", "target_confidence"]


@dataclass
class FoolingResult:
    """What :func:`fool` and :func:`evolve` return.

    Attributes:
        images: ``(N, 3, H, W)`` in [0, 1], the fooling images.
        confidence: ``(N,)`` softmax probability of the target class for ``images``.
        steps: ``(N,)`` int64, the steps (or generations) each image needed; ``max_steps`` when
            it never reached the confidence.
        success: ``(N,)`` bool, ``confidence >= the requested confidence``.
        history: ``(steps + 1, N)`` target probability before each step (on the CPU).
    """

    images: torch.Tensor
    confidence: torch.Tensor
    steps: torch.Tensor
    success: torch.Tensor
    history: torch.Tensor


def target_confidence(model, images: torch.Tensor, target) -> torch.Tensor:
    """``(N,)`` softmax probability of ``target`` (index, name, or one per image) for ``images``."""
    check_images(images)
    targets = resolve_target(model, target, len(images), images.device)
    with torch.no_grad(), hooks.eval_mode(model):
        return model(images).softmax(dim=1).gather(1, targets[:, None]).squeeze(1)  # (N,)


def _check_common(confidence: float, max_steps: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be a probability strictly between 0 and 1, got {confidence!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")


def fool(
    model,
    images: torch.Tensor,
    target,
    *,
    max_steps: int | None = None,
    confidence: float = 0.99,
    step_size: float = 8 / 255,
    final_step_size: float = 1 / 255,
    epsilon: float | None = None,
) -> FoolingResult:
    """Targeted fooling images: small changes that make ``model`` say ``target`` with high confidence.

    Gradient ascent on ``log p(target | x)`` in pixel space (Szegedy et al. 2014, section 4.1),
    ``x <- clip(x + a_k g / mean|g|, 0, 1)`` with ``g`` the gradient of each image: dividing by
    the mean absolute gradient (per image, as DeepDream does) makes a step change the image by
    ``a_k`` per pixel on average, more where the gradient is large. The step size decays
    geometrically from ``step_size`` to ``final_step_size`` over ``max_steps``, so early steps
    move fast and late ones do not overshoot. Each image stops as soon as its target
    probability reaches ``confidence`` (and leaves the batch); the loop stops when all have.
    Equal-size sign steps (iterative FGSM) need more steps and a larger mean change on ShapeNet,
    and large early steps can switch off the features of an image (all logits collapse and the
    climb stalls): a few pairs may then miss the confidence, see ``success``.

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1]; it is not changed.
        images: ``(N, 3, H, W)`` in [0, 1], the starting images (photos, or noise for
            unrecognizable images).
        target: class index or name for all images, or one per image (list or ``(N,)`` tensor).
        max_steps: at most this many steps; default ``config.pick(50, 100)``.
        confidence: stop an image once ``p(target) >= confidence`` (default 0.99).
        step_size, final_step_size: first and last step size in pixel units (mean absolute
            change per pixel of one step), default 8/255 and 1/255.
        epsilon: optional L-infinity bound on the change (pixel units); ``None`` leaves it free.

    Returns:
        :class:`FoolingResult`; ``images`` stay in [0, 1] (and within ``epsilon`` when given).

    Example:
        >>> result = fool(model, images, "star")
        >>> result.success.all(), (result.images - images).abs().mean()
    """
    check_images(images)
    max_steps = config.pick(50, 100) if max_steps is None else max_steps
    _check_common(confidence, max_steps)
    step_size, final_step_size = check_epsilon(step_size, "step_size"), check_epsilon(final_step_size, "final_step_size")
    epsilon = None if epsilon is None else check_epsilon(epsilon)
    targets = resolve_target(model, target, len(images), images.device)
    log_confidence = torch.log(torch.tensor(confidence)).item()
    decay = (final_step_size / step_size) ** (1 / max(max_steps - 1, 1)) if step_size > 0 else 1.0
    current = images.detach().clone()
    steps = torch.full((len(images),), max_steps, dtype=torch.int64, device=images.device)
    history = []

    latest = {}

    def objective(logits, wanted):  # sum over the batch of log p(target): images do not interact
        latest["log_p"] = logits.log_softmax(dim=1).gather(1, wanted[:, None]).squeeze(1)  # (A,)
        return latest["log_p"].sum()

    log_p = torch.full((len(images),), -float("inf"), device=images.device)  # (N,) latest log p(target)
    active = torch.arange(len(images), device=images.device)  # images still below the confidence
    with hooks.eval_mode(model), hooks.frozen(model):
        for step in config.progress(range(max_steps + 1), desc="fooling"):
            whole = len(active) == len(images)  # index only once some images are done
            batch, wanted = (current, targets) if whole else (current[active], targets[active])
            gradient, _ = input_gradient(model, batch, lambda z: objective(z, wanted))
            log_p[active] = latest["log_p"].detach()
            history.append(log_p.exp().cpu())
            done = log_p[active] >= log_confidence  # (A,) among the active images
            steps[active[done]] = step
            if step == max_steps or bool(done.all()):
                break
            size = step_size * decay**step
            scale = gradient.abs().mean(dim=(1, 2, 3), keepdim=True)  # (A, 1, 1, 1)
            moved = batch + size * gradient / scale.clamp_min(1e-12)  # mean |step| = size per image
            if epsilon is not None:
                start = images if whole else images[active]
                moved = torch.max(torch.min(moved, start + epsilon), start - epsilon)
            moved = moved.clamp(0, 1)
            keep = ~done
            if whole and bool(keep.all()):
                current = moved
            else:
                current = current.clone()
                current[active[keep]] = moved[keep]  # finished images stay put
                active = active[keep]
    final = log_p.exp()
    return FoolingResult(current, final, steps, final >= confidence, torch.stack(history))


def evolve(
    model,
    images: torch.Tensor,
    target,
    *,
    generations: int | None = None,
    population: int = 16,
    sigma: float = 0.05,
    step_size: float = 0.02,
    confidence: float = 0.99,
    seed: int = 0,
) -> FoolingResult:
    """A small evolution strategy that raises ``p(target)`` without any gradient of the model.

    The evolutionary flavour of Nguyen et al. 2015 ("Deep neural networks are easily fooled"),
    as a natural evolution strategy (Salimans et al. 2017, eq. 1): each generation samples
    ``population`` antithetic Gaussian perturbations of every image (``population / 2`` pairs
    ``+-sigma * e``), scores them with the target log-probability (forward passes only, all
    images and all members in one batch), ranks the scores and moves the image by a sign step
    along the rank-weighted average of the perturbations. The model is a black box.

    Args:
        model, images, target, confidence: as for :func:`fool`.
        generations: default ``config.pick(30, 100)``; each costs ``population`` forward passes
            per image (the same budget as ``population / 3`` gradient steps, counting a
            backward pass as two forwards).
        population: even number of members per image and generation.
        sigma: standard deviation of the perturbations in pixel units.
        step_size: size of the sign step per generation in pixel units.
        seed: seeds the perturbations (a local generator; the global RNG is untouched).

    Returns:
        :class:`FoolingResult` (``steps`` counts generations).

    Example:
        >>> result = evolve(model, torch.rand(4, 3, 64, 64), "heart", generations=50)
    """
    check_images(images)
    generations = config.pick(30, 100) if generations is None else generations
    _check_common(confidence, generations)
    if isinstance(population, bool) or not isinstance(population, int) or population < 2 or population % 2:
        raise ValueError(f"population must be an even integer >= 2 (antithetic pairs), got {population!r}")
    sigma, step_size = check_epsilon(sigma, "sigma"), check_epsilon(step_size, "step_size")
    targets = resolve_target(model, target, len(images), images.device)
    generator = torch.Generator(device=images.device).manual_seed(seed)
    n, half = len(images), population // 2
    ranks = torch.linspace(-0.5, 0.5, population, device=images.device)  # centred rank weights
    current = images.detach().clone()
    steps = torch.full((n,), generations, dtype=torch.int64, device=images.device)
    history = []
    with torch.no_grad(), hooks.eval_mode(model):
        for generation in config.progress(range(generations + 1), desc="evolution"):
            probability = model(current).softmax(dim=1).gather(1, targets[:, None]).squeeze(1)  # (N,)
            history.append(probability.cpu())
            done = probability >= confidence
            steps = torch.where(done & (steps == generations), torch.full_like(steps, generation), steps)
            if generation == generations or bool(done.all()):
                break
            noise = torch.randn((n, half, *images.shape[1:]), generator=generator, device=images.device)
            noise = torch.cat([noise, -noise], dim=1)  # (N, P, 3, H, W), antithetic
            members = (current[:, None] + sigma * noise).clamp(0, 1)  # (N, P, 3, H, W)
            logits = model(members.flatten(0, 1))  # (N * P, K)
            scores = logits.log_softmax(dim=1).gather(1, targets.repeat_interleave(population)[:, None])
            order = scores.view(n, population).argsort(dim=1).argsort(dim=1)  # (N, P) rank of each member
            weights = ranks[order]  # (N, P), best member +0.5, worst -0.5
            direction = (weights[:, :, None, None, None] * noise).sum(dim=1)  # (N, 3, H, W)
            current = (current + step_size * direction.sign() * (~done)[:, None, None, None]).clamp(0, 1)
    return FoolingResult(current, probability, steps, probability >= confidence, torch.stack(history))
