"""Targeted fooling images (Szegedy et al. 2014) and unrecognizable high-confidence images (Nguyen et al. 2015)."""
from __future__ import annotations

import math
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
    restarts: int = 5,
    max_step: float = 8 / 255,
    overshoot: float = 2.0,
    restart_noise: float = 8 / 255,
    epsilon: float | None = None,
    seed: int = 0,
) -> FoolingResult:
    """Targeted fooling images: small changes that make ``model`` say ``target`` with high confidence.

    Climbs ``f(x) = log p(target | x)`` in pixel space (Szegedy et al. 2014, section 4.1) with
    linearized steps, as DeepFool does for the decision boundary (Moosavi-Dezfooli et al. 2016,
    eq. 8): the first-order model ``f(x + r) ~ f(x) + g.r`` with ``g = grad f(x)`` reaches the goal
    ``log(confidence)`` with the smallest step ``r = d g / ||g||^2``, ``d = log(confidence) - f(x)``.
    The step taken is ``overshoot * r`` (the log-probability is concave along the way, so the
    linear model promises more than a step delivers), shrunk so that its mean absolute change per
    pixel is at most ``max_step``, and clipped to [0, 1] (and to ``epsilon``). Steps are large
    while ``p(target)`` is far from the goal and shrink as it comes near, so the change stays
    close to the smallest one that works. Each image stops as soon as ``p(target) >= confidence``
    and leaves the batch; the loop stops when all have.

    A climb can stall: the image leaves its own class for a third one whose features the
    gradient of ``log p(target)`` only pushes down. Images still short of the goal after
    ``max_steps`` start again from the original plus uniform noise in ``+-restart_noise`` (random
    restarts, Madry et al. 2018), at most ``restarts`` times; each keeps its best attempt.

    Args:
        model: a classifier taking ``(N, 3, H, W)`` in [0, 1]; it is not changed.
        images: ``(N, 3, H, W)`` in [0, 1], the starting images (photos, or noise for
            unrecognizable images).
        target: class index or name for all images, or one per image (list or ``(N,)`` tensor).
        max_steps: at most this many steps per attempt; default ``config.pick(50, 100)``.
        confidence: stop an image once ``p(target) >= confidence`` (default 0.99).
        restarts: at most this many further attempts for the images that missed (0: none).
        max_step: largest mean absolute change per pixel of one step (pixel units).
        overshoot: factor on the linearized step (1: exactly to the goal of the linear model).
        restart_noise: half-width of the uniform noise of a restart (pixel units; never more
            than ``epsilon``).
        epsilon: optional L-infinity bound on the change (pixel units); ``None`` leaves it free.
        seed: seeds the restart noise (a local generator; the global RNG is untouched).

    Returns:
        :class:`FoolingResult`; ``images`` stay in [0, 1] (and within ``epsilon`` when given).
        ``steps`` counts the steps of all attempts of an image; ``history`` has one row per step
        of every attempt, with the probability of each image's current attempt.

    Example:
        >>> result = fool(model, images, "star")
        >>> result.success.all(), (result.images - images).abs().mean()
    """
    check_images(images)
    max_steps = config.pick(50, 100) if max_steps is None else max_steps
    _check_common(confidence, max_steps)
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        raise ValueError(f"restarts must be an integer >= 0, got {restarts!r}")
    max_step, restart_noise = check_epsilon(max_step, "max_step"), check_epsilon(restart_noise, "restart_noise")
    if isinstance(overshoot, bool) or not isinstance(overshoot, (int, float)) or not 0 < overshoot < float("inf"):
        raise ValueError(f"overshoot must be a positive number (2 is a good choice), got {overshoot!r}")
    epsilon = None if epsilon is None else check_epsilon(epsilon)
    noise = restart_noise if epsilon is None else min(restart_noise, epsilon)
    targets = resolve_target(model, target, len(images), images.device)
    goal = math.log(confidence)
    generator = torch.Generator(device=images.device).manual_seed(seed)

    best = images.detach().clone()
    best_log_p = torch.full((len(images),), -float("inf"), device=images.device)
    steps = torch.zeros(len(images), dtype=torch.int64, device=images.device)
    history: list[torch.Tensor] = []
    with hooks.eval_mode(model), hooks.frozen(model):
        for attempt in range(restarts + 1):
            todo = (best_log_p < goal).nonzero().flatten()  # (T,) images still short of the goal
            if len(todo) == 0:
                break
            start = images[todo].detach()
            if attempt:
                shake = torch.rand(start.shape, generator=generator, device=start.device, dtype=start.dtype)
                start = (start + noise * (2 * shake - 1)).clamp(0, 1)
            reached, log_p, used, climbed = _climb(model, start, images[todo], targets[todo], goal, max_steps,
                                                   max_step, overshoot, epsilon)  # fmt: skip
            for probability in climbed:  # other images show their best so far
                row = best_log_p.exp()
                row[todo] = probability
                history.append(row.cpu())
            steps[todo] += used
            better = log_p > best_log_p[todo]
            best[todo[better]] = reached[better]
            best_log_p[todo[better]] = log_p[better]
    final = best_log_p.exp()
    return FoolingResult(best, final, steps, best_log_p >= goal, torch.stack(history))


def _climb(model, start, images, targets, goal, max_steps, max_step, overshoot, epsilon):
    """One attempt of :func:`fool` from ``start``: ``(images, log p, steps used, history)``, the
    history a list with the ``(T,)`` target probabilities before each step."""
    latest = {}

    def objective(logits, wanted):  # sum over the batch of log p(target): images do not interact
        latest["log_p"] = logits.log_softmax(dim=1).gather(1, wanted[:, None]).squeeze(1)  # (A,)
        return latest["log_p"].sum()

    current = start.clone()
    log_p = torch.full((len(start),), -float("inf"), device=start.device)  # (T,) latest log p(target)
    used = torch.full((len(start),), max_steps, dtype=torch.int64, device=start.device)
    active = torch.arange(len(start), device=start.device)  # images still below the goal
    history = []
    for step in config.progress(range(max_steps + 1), desc="fooling"):
        whole = len(active) == len(start)  # index only once some images are done
        batch, wanted = (current, targets) if whole else (current[active], targets[active])
        gradient, _ = input_gradient(model, batch, lambda z: objective(z, wanted))
        log_p[active] = latest["log_p"].detach()
        history.append(log_p.exp())
        done = log_p[active] >= goal  # (A,) among the active images
        used[active[done]] = step
        if step == max_steps or bool(done.all()):
            break
        deficit = (goal - log_p[active]) * overshoot  # (A,) > 0
        squared = gradient.pow(2).sum(dim=(1, 2, 3)).clamp_min(1e-30)  # (A,) ||g||^2, guarded
        move = (deficit / squared)[:, None, None, None] * gradient  # (A, 3, H, W) linearized step
        mean = move.abs().mean(dim=(1, 2, 3))  # (A,)
        move = move * (max_step / mean.clamp_min(1e-30)).clamp(max=1)[:, None, None, None]
        moved = batch + move
        if epsilon is not None:
            start_points = images if whole else images[active]
            moved = torch.max(torch.min(moved, start_points + epsilon), start_points - epsilon)
        moved = moved.clamp(0, 1)
        keep = ~done
        if whole and bool(keep.all()):
            current = moved
        else:
            current = current.clone()
            current[active[keep]] = moved[keep]  # finished images stay put
            active = active[keep]
    return current, log_p, used, history


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
