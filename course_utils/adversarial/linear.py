"""Fooling a linear classifier (Goodfellow, Shlens & Szegedy 2015, section 3), and why dimension helps."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = ["LECTURE_X", "LECTURE_W", "LinearAttack", "linear_attack", "flip_epsilon", "epsilon_vs_dimension"]

# The lecture's ten-dimensional example: score w.x + b = -3, P(class 1) = 0.0474.
LECTURE_X = (2.0, -1.0, 3.0, -2.0, 2.0, 2.0, 1.0, -4.0, 5.0, 1.0)
LECTURE_W = (-1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0)


@dataclass
class LinearAttack:
    """What :func:`linear_attack` returns (tensors; a batch dimension when ``x`` had one).

    Attributes:
        adversarial: ``x + epsilon * sign(w)``, the shape of ``x``.
        score, adversarial_score: ``w.x + b`` before and after.
        probability, adversarial_probability: ``sigmoid(score)``, P(class 1), before and after.
    """

    adversarial: torch.Tensor
    score: torch.Tensor
    adversarial_score: torch.Tensor
    probability: torch.Tensor
    adversarial_probability: torch.Tensor


def _as_float64(value, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value, dtype=torch.float64)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor


def linear_attack(w, x, b: float = 0.0, epsilon: float = 0.5) -> LinearAttack:
    """Nudge ``x`` by ``epsilon`` per dimension toward class 1 of ``P(y=1|x) = sigmoid(w.x + b)``.

    Goodfellow et al. 2015, section 3: the score changes by ``w.(epsilon sign(w)) =
    epsilon * ‖w‖_1``, which grows with the dimension while each coordinate moves only by
    ``epsilon``. A negative ``epsilon`` pushes toward class 0.

    Args:
        w: weights ``(D,)`` (list, array or tensor).
        x: one input ``(D,)`` or a batch ``(N, D)``.
        b: the bias.
        epsilon: the change per coordinate (L-infinity size of the nudge).

    Returns:
        :class:`LinearAttack` (float64 tensors).

    Example:
        >>> r = linear_attack(LECTURE_W, LECTURE_X, 0.0, 0.5)
        >>> r.score.item(), r.adversarial_score.item()   # -3.0 -> 2.0
        >>> round(r.probability.item(), 4), round(r.adversarial_probability.item(), 2)   # 0.0474 -> 0.88
    """
    w, x = _as_float64(w, "w"), _as_float64(x, "x")
    if w.ndim != 1:
        raise ValueError(f"w must be a vector (D,), got shape {tuple(w.shape)}")
    if x.ndim not in (1, 2) or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x must have shape ({w.shape[0]},) or (N, {w.shape[0]}) to match w, got {tuple(x.shape)}")
    if not np.isfinite(float(b)) or not np.isfinite(float(epsilon)):
        raise ValueError(f"b and epsilon must be finite numbers, got b={b!r}, epsilon={epsilon!r}")
    adversarial = x + float(epsilon) * w.sign()  # (D,) or (N, D)
    score, adversarial_score = x @ w + float(b), adversarial @ w + float(b)
    return LinearAttack(adversarial, score, adversarial_score, torch.sigmoid(score), torch.sigmoid(adversarial_score))


def flip_epsilon(w, x, b: float = 0.0) -> torch.Tensor:
    """The smallest per-coordinate nudge that moves ``x`` onto the decision boundary ``w.x + b = 0``.

    Moving every coordinate by ``epsilon`` against the current class changes the score by
    ``epsilon * ‖w‖_1``, so ``epsilon* = |w.x + b| / ‖w‖_1`` (the L-infinity distance to the
    hyperplane). Returns a scalar tensor for ``x (D,)``, ``(N,)`` for ``x (N, D)``.
    """
    w, x = _as_float64(w, "w"), _as_float64(x, "x")
    if w.ndim != 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"w must be (D,) and x (D,) or (N, D) with the same D; got {tuple(w.shape)} and {tuple(x.shape)}")
    if not w.abs().sum() > 0:
        raise ValueError("w is all zeros: the classifier has no boundary to cross")
    return (x @ w + float(b)).abs() / w.abs().sum()


def epsilon_vs_dimension(
    dimensions: Sequence[int] = (4, 8, 16, 32, 64),
    *,
    digits: tuple[int, int] = (3, 8),
    repeats: int = 5,
    score_change: float = 5.0,
    seed: int = 0,
) -> dict:
    """How large a nudge flips a logistic regression on scikit-learn's digits, versus the dimension.

    For each ``D`` in ``dimensions``, ``repeats`` times: pick ``D`` random pixels of the 8x8
    digits (values in [0, 1]), train a binary ``sklearn.linear_model.LogisticRegression``
    (``digits[1]`` is class 1) on 2/3 of the images, and take the median :func:`flip_epsilon`
    of the correctly classified held-out images. More pixels, each with its own weight, make
    ``‖w‖_1`` grow, so the nudge that shifts the score by a fixed ``score_change`` (5, as from
    -3 to 2 in the lecture) shrinks; more slowly than ``1 / D`` (a log-log slope of about -0.6 on
    the digits), because the regularized weights get smaller as they are spread over more pixels.
    The nudge that flips the decision hardly shrinks from D = 8 on, because classifiers that see
    more pixels are also more confident (``|score|`` grows about as fast as ``‖w‖_1``).

    Returns:
        a dict of NumPy arrays (medians over repeats): ``dimensions (K,)``, ``epsilon (K,)`` (to
        flip), ``epsilon_for_change (K,)`` (``score_change / ‖w‖_1``), ``accuracy (K,)`` (held-out),
        ``l1 (K,)`` (‖w‖_1), ``score (K,)`` (median |w.x + b|).
    """
    from sklearn.linear_model import LogisticRegression

    from ..data import load_digits

    images, labels, _ = load_digits()
    keep = (labels == digits[0]) | (labels == digits[1])
    features = images[keep, 0].flatten(1).double().numpy()  # (M, 64), pixels in [0, 1]
    target = (labels[keep] == digits[1]).long().numpy()
    if any(not 1 <= d <= features.shape[1] for d in dimensions):
        raise ValueError(f"every dimension must be between 1 and {features.shape[1]} (the digits' pixels), got {list(dimensions)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(target))
    train, test = order[: 2 * len(order) // 3], order[2 * len(order) // 3 :]
    rows = []
    for dimension in dimensions:
        per_repeat = []
        for _ in range(repeats):
            pixels = rng.choice(features.shape[1], size=dimension, replace=False)
            model = LogisticRegression(max_iter=2000).fit(features[train][:, pixels], target[train])
            w, b = model.coef_[0], float(model.intercept_[0])
            x = features[test][:, pixels]
            right = model.predict(x) == target[test]
            epsilons = flip_epsilon(w, x[right], b).numpy() if right.any() else np.array([np.nan])
            scores = np.abs(x[right] @ w + b) if right.any() else np.array([np.nan])
            per_repeat.append((np.median(epsilons), right.mean(), np.abs(w).sum(), np.median(scores)))
        rows.append(np.median(np.array(per_repeat), axis=0))
    rows = np.array(rows)
    return {"dimensions": np.array(dimensions), "epsilon": rows[:, 0], "epsilon_for_change": score_change / rows[:, 2], "accuracy": rows[:, 1], "l1": rows[:, 2], "score": rows[:, 3]}
