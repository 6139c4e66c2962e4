"""Image synthesis: one optimization loop for class models, regularized feature visualization,
and (later lectures) inversion, DeepDream and style transfer.

One job per module:

* :mod:`.optimize`     ``optimize(model, objective, *, param, transforms, steps, lr, optimizer, ...)``
* :mod:`.objectives`   what to maximize: ``class_score``, ``channel``, ``neuron``, ``l2``; ``+ - *``
* :mod:`.params`       how tensors become an image: ``pixel_image``, ``fourier_image``
* :mod:`.transforms`   differentiable input transforms: ``jitter``, ``pad``, ``blur``, ``random_scale``, ...
* :mod:`.regularizers` post-step hooks on the pixels: ``decay``, ``blur_every``, ``clip_norm``, ...
* :mod:`.class_model`  ``class_model(model, target)``: Simonyan et al. (2014), lecture 09
* :mod:`.visualize`    ``visualize(model, objective, preset=...)``: Yosinski et al. (2015), lecture 10

The loop
--------
``result = optimize(model, objective, param=..., transforms=[...], steps=..., lr=..., optimizer=...)``
returns ``result.image`` ``(N, 3, H, W)`` in [0, 1] and ``result.history`` ``(steps, N)`` (the
objective per image, kept on the device during the loop and copied once at the end). The model
is put in eval mode and its parameters frozen for the call, then restored: no parameter ever
receives a ``.grad``, no hook is left behind. Gradients are taken with ``torch.autograd.grad``
with respect to the parameterization's tensors only.

Objectives return one value per image ``(N,)`` and are maximized (``minimize=True`` for losses);
they compose: ``class_score("ring") - 1e-3 * l2()``. To add one, wrap ``fn(ctx) -> (N,)`` in
``Objective(fn, layers=[...], name=...)``; ``ctx`` holds ``image`` (before transforms), ``input``
(what the model saw), ``output`` and ``acts[layer]`` (in the graph) for the layers you list.

Parameterizations: ``param=None`` (grey plus noise), an image tensor (start from it), or an object
with ``parameters()``, ``__call__() -> image`` and ``project()`` (subclass ``params.Parameterization``).

Transforms: any differentiable ``images -> images`` callable, applied in order before the model.

Update rules: ``optimizer="adam"`` | ``"sgd"`` | ``"normalized"`` (``lr * g / mean|g|`` per image,
DeepDream's step, safe for a zero gradient) | ``"lbfgs"`` (closure-based: the loop hands a closure
to ``torch.optim.LBFGS.step``; one L-BFGS iteration per step, strong-Wolfe line search; use it
without random transforms) | a factory ``tensors -> torch.optim.Optimizer`` for any other rule.

Per-step hooks: ``post_step=[hook, ...]``, each ``hook(state)`` runs without gradients after the
update and the projection: ``state.step``, ``state.image`` (pixels, edit in place), ``state.grad``
(ascent gradient), ``state.values``, ``state.optimizer`` (for a learning-rate schedule, e.g.
``linear_decay(0.1)``). Yosinski's
regularizers (:mod:`.regularizers`) are such hooks; so are "blur every k steps" and "clamp".

Several scales (octaves): the loop takes a start image and returns an image, so a caller loops::

    detail = torch.zeros_like(base)
    for octave in octave_images:                      # small to large, each (N, 3, h, w)
        detail = resize(detail, octave.shape[-2:])
        start = (octave + detail).clamp(0, 1)
        dream = optimize(model, obj, param=start, optimizer="normalized", transforms=[jitter(32)]).image
        detail = dream - octave                        # carried to the next, larger scale

Example:
    >>> from course_utils import models, synthesis
    >>> model = models.load("shapenet")
    >>> image, scores = synthesis.class_model(model, "ring")
"""
from . import objectives, params, regularizers, transforms
from .objectives import Context, Objective, add, channel, class_indices, class_score, l2, negate, neuron, scale
from .class_model import class_model
from .optimize import NormalizedGradient, StepState, SynthesisResult, linear_decay, optimize
from .params import FourierImage, Parameterization, PixelImage, fourier_image, pixel_image
from .transforms import blur, compose, gaussian_blur, jitter, pad, random_rotate, random_scale
from .visualize import PRESETS, visualize

__all__ = [
    "optimize", "SynthesisResult", "StepState", "NormalizedGradient", "linear_decay", "class_model", "visualize", "PRESETS",
    "Objective", "Context", "class_score", "channel", "neuron", "l2", "add", "scale", "negate", "class_indices",
    "Parameterization", "PixelImage", "FourierImage", "pixel_image", "fourier_image",
    "jitter", "pad", "blur", "random_scale", "random_rotate", "compose", "gaussian_blur",
    "objectives", "params", "transforms", "regularizers",
]  # fmt: skip

# Lectures 11-13: inversion, DeepDream, style transfer, on the same loop.
from . import losses  # noqa: E402
from .deepdream import deepdream, octave_sizes  # noqa: E402
from .inversion import invert, layer_features  # noqa: E402
from .losses import content, content_loss, dream, feature_match, gram_match, gram_matrix, guided_dream, style_loss, tv, tv_loss  # noqa: E402
from .style import style_targets, style_transfer, texture  # noqa: E402

__all__ += [
    "losses", "invert", "layer_features", "deepdream", "octave_sizes", "style_transfer", "texture", "style_targets",
    "tv_loss", "gram_matrix", "content_loss", "style_loss", "tv", "feature_match", "content", "gram_match", "dream",
    "guided_dream",
]  # fmt: skip
