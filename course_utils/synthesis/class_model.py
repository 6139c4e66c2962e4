"""Class-model visualization (Simonyan, Vedaldi and Zisserman 2014, sec. 2), lecture 09."""
from __future__ import annotations

from .. import config
from .objectives import class_indices, class_score, l2 as l2_norm
from .optimize import SynthesisResult, linear_decay, optimize
from .params import pixel_image
from .regularizers import blur_every as blur_hook
from .transforms import jitter as jitter_transform


def class_model(
    model,
    target,
    *,
    steps: int | None = None,
    lr: float = 0.02,
    l2: float = 1e-3,
    jitter: int | None = None,
    blur_every: int = 4,
    blur_sigma: float = 0.5,
    size: int | None = None,
    init=None,
    optimizer: str = "normalized",
    keep_best: bool = True,
) -> SynthesisResult:
    """An image that maximizes a class score: ``argmax_I S_c(I) - l2 ||I - 0.5||^2`` (Simonyan et al.
    2014, eq. 1; pixels in [0, 1], measured from grey).

    Gradient ascent from grey plus a little noise; at each step the image is randomly rolled by up to
    ``jitter`` pixels before the model, the step is ``lr * g / mean|g|`` (scale-free, so the same
    ``lr`` suits any model) with ``lr`` lowered linearly to a tenth by the last step, the image is
    clamped to [0, 1], and blurred every ``blur_every`` steps. The image returned is, per target,
    the one with the highest class score seen during the run (``keep_best=True``; the score of the
    jittered image the step evaluated), not necessarily the last: the periodic blur can win over the
    shrinking step and lower the score towards the end.

    Args:
        model: a classifier, e.g. ``models.load("alexnet")`` (ShapeNet offline).
        target: a class index, a class name, or a list of them: one image per target, optimized
            together in one batch (each image has its own objective).
        steps: default ``config.pick(30, 200)``. lr: the step size in pixel units.
        l2: the weight lambda of the L2 prior. jitter: default ``input_size // 16``.
        blur_every, blur_sigma: Gaussian blur of ``blur_sigma`` pixels every ``blur_every`` steps
            (0 switches it off). size: the image side (default: the model's input size).
        init: a start image ``(N, 3, H, W)`` in [0, 1] instead of grey noise.
        optimizer: any update rule of :func:`~.optimize.optimize` (``"adam"``, ``"sgd"``, ...).
        keep_best: return the image of the best score seen (default) or, with ``False``, the last.

    Returns:
        a :class:`~.optimize.SynthesisResult`: ``image`` ``(N, 3, H, W)`` in [0, 1] and ``history``
        ``(steps, N)`` the class scores ``S_c`` (before the softmax) at each step;
        ``records["objective"]`` holds the regularized objective; ``best_step`` ``(N,)`` the step of
        the returned image (``None`` with ``keep_best=False``). Unpacks as ``image, scores``.

    Example:
        >>> image, scores = class_model(models.load("shapenet"), "ring")
    """
    indices = class_indices(model, target)
    size = size or getattr(model, "input_size", 224)
    steps = config.pick(30, 200) if steps is None else steps
    jitter = max(1, size // 16) if jitter is None else jitter
    device = next(model.parameters()).device
    param = init if init is not None else pixel_image(size, batch=len(indices), device=device)
    score = class_score(indices.tolist())
    result = optimize(
        model,
        score - l2 * l2_norm(0.5),
        param=param,
        transforms=[jitter_transform(jitter)],
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        post_step=[blur_hook(blur_every, blur_sigma), linear_decay(0.1)],
        record={"score": score},
        keep_best="score" if keep_best else False,
        desc="class model",
    )
    records = {"objective": result.history, **result.records}
    return SynthesisResult(image=result.image, history=records.pop("score"), records=records, param=result.param,
                           best_step=result.best_step)


__all__ = ["class_model"]
