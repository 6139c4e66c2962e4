"""The one image-optimization loop of the course: ``optimize(model, objective, ...)``.

Class models, Yosinski's regularized visualization, feature inversion, DeepDream and style
transfer all call it; they differ only in the objective, the parameterization, the transforms,
the update rule and the post-step hooks they pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .. import config
from ..hooks import capture_activations, eval_mode, frozen, model_device
from .objectives import Context, Objective
from .params import Parameterization, as_param


class NormalizedGradient(torch.optim.Optimizer):
    """``x <- x - lr * g / mean|g|``, the mean taken per image over (C, H, W) (DeepDream's step).

    Scale-free: the same ``lr`` works whatever the size of the gradient; a zero gradient gives
    a zero step (the mean is guarded by ``eps``), never NaN.
    """

    def __init__(self, params, lr: float = 0.02, eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad  # (N, ...)
                norm = g.abs().flatten(1).mean(dim=1).clamp(min=group["eps"]) if g.ndim > 1 else g.abs().mean().clamp(min=group["eps"])
                p.sub_(group["lr"] * g / norm.view(-1, *[1] * (g.ndim - 1)))
        return loss


OPTIMIZERS = {
    # name: (factory(params, lr, **options), default lr)
    "adam": (lambda params, lr, **kw: torch.optim.Adam(params, lr=lr, **kw), 0.05),
    "sgd": (lambda params, lr, **kw: torch.optim.SGD(params, lr=lr, **kw), 1.0),
    "normalized": (lambda params, lr, **kw: NormalizedGradient(params, lr=lr, **kw), 0.02),
    "lbfgs": (
        lambda params, lr, **kw: torch.optim.LBFGS(
            params, lr=lr, **{"max_iter": 1, "max_eval": 25, "history_size": 20, "line_search_fn": "strong_wolfe", **kw}
        ),
        1.0,
    ),
}


@dataclass
class StepState:
    """What a post-step hook sees after step ``step`` (0-based) of ``steps``.

    ``param`` is the parameterization (``param.parameters()[0]`` is the image for pixels);
    ``grads`` the gradients of the *maximized* quantity (ascent direction) for each parameter,
    from the step's first evaluation; ``values`` the objective per image ``(N,)`` before the
    step; ``optimizer`` the torch optimizer (change its ``param_groups[0]["lr"]`` for a schedule).
    Hooks modify ``param.parameters()`` in place; they run under ``torch.no_grad()``.
    """

    step: int
    steps: int
    param: Parameterization
    grads: list
    values: torch.Tensor
    optimizer: torch.optim.Optimizer

    @property
    def image(self) -> torch.Tensor:
        """The pixel tensor ``(N, 3, H, W)`` (pixel parameterizations only), to edit in place."""
        if not self.param.pixels:
            raise TypeError(
                f"this hook edits pixels, but the parameterization is {type(self.param).__name__}; "
                "use a pixel parameterization (synthesis.pixel_image) with pixel-space regularizers"
            )
        return self.param.parameters()[0]

    @property
    def grad(self) -> torch.Tensor:
        """The ascent gradient of the first parameter (the image for pixel parameterizations)."""
        return self.grads[0]


@dataclass
class SynthesisResult:
    """The outcome of :func:`optimize`.

    Attributes:
        image: ``(N, 3, H, W)`` in [0, 1], detached, on the model's device.
        history: ``(steps, N)`` float CPU tensor, the objective per image at each step (before
            that step's update).
        records: ``{name: (steps, N)}`` for the extra objectives given as ``record=``.
        param: the parameterization, to continue optimizing (``optimize(..., param=result.param)``;
            it holds the last image, also when ``image`` is the best one).
        best_step: ``(N,)`` int64, the step whose image ``image`` is when ``optimize`` kept the best
            image seen (``keep_best``); ``None`` when ``image`` is the last one.

    Unpacks as ``image, history = result``.
    """

    image: torch.Tensor
    history: torch.Tensor
    records: dict = field(default_factory=dict)
    param: Parameterization | None = None
    best_step: torch.Tensor | None = None

    def __iter__(self):
        return iter((self.image, self.history))


def linear_decay(final: float = 0.1):
    """A post-step hook that lowers the learning rate linearly, from its initial value at the first
    step to ``final`` times it at the last (a schedule; settles the image at the end)."""
    if final < 0:
        raise ValueError(f"final must be >= 0, got {final}")
    start: dict = {}

    def hook(state: StepState) -> None:
        for index, group in enumerate(state.optimizer.param_groups):
            initial = start.setdefault(index, group["lr"])
            group["lr"] = initial * (1.0 - (1.0 - final) * (state.step + 1) / state.steps)

    return hook


def _make_optimizer(optimizer, tensors, lr, options):
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(tensors)
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; use one of {', '.join(map(repr, OPTIMIZERS))} "
            "or a factory params -> torch.optim.Optimizer"
        )
    factory, default_lr = OPTIMIZERS[optimizer]
    return factory(tensors, default_lr if lr is None else lr, **(options or {}))


def optimize(
    model: torch.nn.Module,
    objective: Objective,
    *,
    param=None,
    transforms: Sequence[Callable] = (),
    steps: int | None = None,
    lr: float | None = None,
    optimizer="adam",
    optimizer_options: dict | None = None,
    post_step: Sequence[Callable[[StepState], None]] = (),
    minimize: bool = False,
    record: dict | None = None,
    keep_best: bool | str = False,
    desc: str = "optimize",
) -> SynthesisResult:
    """Optimize an image for ``objective`` (gradient ascent by default) and return it.

    Each step: ``image = param()``; ``x = transforms(image)``; one forward pass of ``model`` on ``x``
    (activations of ``objective.layers`` captured); ``values = objective(ctx)`` ``(N,)``; the gradient
    of ``values.sum()`` with respect to the parameterization only (``torch.autograd.grad``); the
    optimizer's update; ``param.project()`` (pixels: clamp to [0, 1]); then each ``post_step`` hook.

    Args:
        model: any module, e.g. from :func:`course_utils.models.load`; put in eval mode and frozen
            inside the call (mode and ``requires_grad`` restored, no parameter gets a ``.grad``).
        objective: an :class:`~.objectives.Objective`, e.g. ``class_score("ring") - 1e-3 * l2()``.
        param: ``None`` (grey plus noise at the model's input size, one image per target of the
            objective, else 1), a start image
            ``(N, 3, H, W)`` in [0, 1] (pixel parameterization), or a :class:`~.params.Parameterization`.
        transforms: differentiable callables applied in order before the model (:mod:`.transforms`).
        steps: number of steps (default ``config.pick(20, 200)``).
        lr: step size; default per optimizer: adam 0.05, sgd 1.0, normalized 0.02, lbfgs 1.0.
        optimizer: ``"adam"``, ``"sgd"``, ``"normalized"`` (step / mean|grad| per image), ``"lbfgs"``
            (closure-based; one L-BFGS iteration per step with a strong-Wolfe line search of up to 25
            evaluations, history 20), or a factory
            ``tensors -> torch.optim.Optimizer`` (then ``lr`` is ignored).
        optimizer_options: extra keywords for the named optimizer (e.g. ``{"history_size": 50}``).
        post_step: hooks ``hook(state: StepState)`` run after each update (:mod:`.regularizers`).
        minimize: minimize the objective instead (losses such as a feature-match distance).
        record: extra objectives ``{name: Objective}`` evaluated in the same forward pass, kept in
            ``result.records`` (e.g. the class score alone when the objective adds a prior).
        keep_best: ``False`` (default): return the last image. ``True``: return, per image, the image
            with the best objective value seen (highest; lowest with ``minimize``), i.e. the image
            ``param()`` at the step where ``history`` peaks; a name of ``record``: the image where that
            record is highest (e.g. ``"score"``). Values are those measured in the loop (after the
            transforms). ``result.best_step`` says which step.
        desc: the progress bar's label.

    Returns:
        a :class:`SynthesisResult`: ``image`` ``(N, 3, H, W)`` in [0, 1] and ``history`` ``(steps, N)``.

    Example:
        >>> result = optimize(model, class_score("ring"), transforms=[jitter(2)], steps=50)
        >>> result.image.shape, result.history.shape
        (torch.Size([1, 3, 64, 64]), torch.Size([50, 1]))
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a synthesis Objective (e.g. class_score(...)), got {type(objective).__name__}")
    steps = config.pick(20, 200) if steps is None else steps
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    device = model_device(model)
    param = as_param(param, size=getattr(model, "input_size", 224), batch=objective.batch or 1, device=device)
    tensors = param.parameters()
    if any(t.device != device for t in tensors):
        raise ValueError(f"the parameterization lives on {tensors[0].device} but the model on {device}; create it with device=...")
    opt = _make_optimizer(optimizer, tensors, lr, optimizer_options)
    record = dict(record or {})
    layers = list(dict.fromkeys([*objective.layers, *(layer for o in record.values() for layer in o.layers)]))
    sign = 1.0 if minimize else -1.0  # torch optimizers minimize sign * objective

    with torch.no_grad():
        batch = param().shape[0]
    history = torch.zeros(steps, batch, device=device)  # filled on the device: no sync per step
    records = {name: torch.zeros(steps, batch, device=device) for name in record}
    if keep_best is not False and keep_best is not True and keep_best not in record:
        raise ValueError(f"keep_best must be True, False or a name of record ({', '.join(map(repr, record)) or 'none given'}), got {keep_best!r}")
    best = None  # (image (N, 3, H, W), value (N,), step (N,)) when keep_best
    first: dict = {}

    with eval_mode(model), frozen(model), capture_activations(model, layers, detach=False) as acts:

        def closure():
            image = param()  # (N, 3, H, W)
            x = image
            for transform in transforms:
                x = transform(x)
            output = model(x)
            ctx = Context(image=image, input=x, output=output, acts=acts, model=model)
            values = objective(ctx)  # (N,)
            grads = torch.autograd.grad(sign * values.sum(), tensors)
            for tensor, grad in zip(tensors, grads):
                tensor.grad = grad
            if not first:  # the step's first evaluation (L-BFGS evaluates several times)
                if keep_best is not False:  # a copy: a pixel parameter is updated in place by the step
                    first["image"] = image.detach().clone()
                first["values"] = values.detach()
                first["grads"] = [-sign * g for g in grads] if post_step else []
                with torch.no_grad():
                    first["records"] = {name: o(ctx).detach() for name, o in record.items()}
            return sign * values.sum().detach()

        try:
            for step in config.progress(range(steps), desc=desc):
                first.clear()
                opt.step(closure)
                with torch.no_grad():
                    param.project()
                    history[step] = first["values"]
                    for name, values in first["records"].items():
                        records[name][step] = values
                    if keep_best is not False:
                        best = _keep_best(best, step, first, keep_best, minimize)
                    if post_step:
                        state = StepState(step, steps, param, first["grads"], first["values"], opt)
                        for hook in post_step:
                            hook(state)
                        param.project()
        finally:
            for tensor in tensors:
                tensor.grad = None
            acts.clear()

    with torch.no_grad():
        image = param().detach().clamp(0.0, 1.0) if best is None else best[0].clamp(0.0, 1.0)
    return SynthesisResult(
        image=image,
        history=history.cpu(),
        records={name: values.cpu() for name, values in records.items()},
        param=param,
        best_step=None if best is None else best[2].cpu(),
    )


def _keep_best(best, step: int, first: dict, keep_best, minimize: bool):
    """Update ``(image, value, step)`` with this step's evaluated image where its value is better."""
    if keep_best is True:
        value = -first["values"] if minimize else first["values"]  # (N,), higher is better
    else:
        value = first["records"][keep_best]
    image = first["image"]  # (N, 3, H, W), the image the step evaluated (before its update)
    if best is None:
        return image.clone(), value.clone(), torch.full_like(value, step, dtype=torch.long)
    better = value > best[1]  # (N,)
    return (torch.where(better.view(-1, 1, 1, 1), image, best[0]), torch.where(better, value, best[1]),
            torch.where(better, torch.full_like(best[2], step), best[2]))


__all__ = ["optimize", "SynthesisResult", "StepState", "NormalizedGradient", "OPTIMIZERS", "linear_decay"]
