"""Deconvnet and guided backpropagation: the same backward pass with another ReLU rule.

A ReLU's forward pass is ``y = max(x, 0)``. Its backward pass decides which part of the
incoming gradient ``g`` (with respect to ``y``) reaches ``x``. The three rules of the lecture:

=============  ===========================  =====================================================
rule           gradient passed back         paper
=============  ===========================  =====================================================
``backprop``   ``g * [x > 0]``              the true gradient (Simonyan et al. 2014)
``deconvnet``  ``max(g, 0)``                Zeiler & Fergus 2013 (forward sign ignored)
``guided``     ``max(g, 0) * [x > 0]``      Springenberg et al. 2015, Fig. 1 (both masks)
=============  ===========================  =====================================================

Each rule is a :class:`torch.autograd.Function`; :func:`relu_backward` makes every ReLU of a model
use one of them, and :func:`guided_backprop` / :func:`deconvnet` are gradients taken under it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..hooks import model_device
from .gradients import _per_image_unit_gradient, input_gradient, neuron_gradient

__all__ = ["RELU_RULES", "BackpropReLU", "DeconvnetReLU", "GuidedReLU", "relu_backward", "guided_backprop", "deconvnet",
           "unit_projections"]


def _relu_gradient(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """``grad * [output > 0]``, as PyTorch's own ReLU backward computes it (one fused kernel)."""
    return torch.ops.aten.threshold_backward(grad, output, 0)


class _ReLU(torch.autograd.Function):
    """``max(x, 0)`` forward (in place when asked); subclasses choose the backward rule."""

    @staticmethod
    def forward(ctx, input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        if inplace:
            output = _TORCH_RELU_(input)
            ctx.mark_dirty(input)
        else:
            output = _TORCH_RELU(input)
        ctx.save_for_backward(output)  # output > 0 exactly where input > 0
        return output


class BackpropReLU(_ReLU):
    """The ordinary ReLU gradient: ``g * [x > 0]`` (for comparison with the other rules)."""

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (output,) = ctx.saved_tensors
        return _relu_gradient(grad, output), None


class DeconvnetReLU(_ReLU):
    """Deconvnet rule (Zeiler & Fergus 2013, Sec. 2.1): pass ``max(g, 0)``, whatever the input's sign."""

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad.clamp(min=0), None


class GuidedReLU(_ReLU):
    """Guided-backprop rule (Springenberg et al. 2015, Fig. 1): ``max(g, 0) * [x > 0]``."""

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (output,) = ctx.saved_tensors
        return _relu_gradient(grad, output).clamp_(min=0), None  # a fresh tensor: clamp in place


RELU_RULES: dict[str, type[torch.autograd.Function]] = {
    "backprop": BackpropReLU,
    "deconvnet": DeconvnetReLU,
    "guided": GuidedReLU,
}

# The built-in functions, captured once: the rules and the patched entry points call these.
_TORCH_RELU = torch._C._VariableFunctions.relu
_TORCH_RELU_ = torch._C._VariableFunctions.relu_
_FUNCTIONAL_RELU = F.relu

# --- which rule is active ----------------------------------------------------------------------
# A thread-local stack of rules: a module of a model inside ``relu_backward`` pushes its rule when
# its forward starts (on the thread that entered the block) and pops it when the forward ends.
_local = threading.local()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def _rule_for(input) -> type[torch.autograd.Function] | None:
    """The rule to apply to this ReLU call, or ``None`` for the built-in ReLU."""
    stack = getattr(_local, "stack", None)
    if (
        not stack
        or not torch.is_grad_enabled()
        or type(input) not in (torch.Tensor, nn.Parameter)  # tensor subclasses: built-in behaviour
        or not input.requires_grad
    ):
        return None
    return stack[-1]


def _relu(input, inplace: bool = False):
    rule = _rule_for(input)
    return _FUNCTIONAL_RELU(input, inplace=inplace) if rule is None else rule.apply(input, inplace)


def _torch_relu(input):
    rule = _rule_for(input)
    return _TORCH_RELU(input) if rule is None else rule.apply(input, False)


def _torch_relu_(input):
    rule = _rule_for(input)
    return _TORCH_RELU_(input) if rule is None else rule.apply(input, True)


# Every public entry point of ReLU in PyTorch (nn.ReLU.forward calls F.relu).
_PATCHES = [
    (F, "relu", _relu),
    (F, "relu_", _torch_relu_),
    (torch, "relu", _torch_relu),
    (torch, "relu_", _torch_relu_),
    (torch.Tensor, "relu", _torch_relu),
    (torch.Tensor, "relu_", _torch_relu_),
]
_MISSING = object()
_patch_lock = threading.Lock()
_patch_users = 0
_saved: list = []


def _install() -> None:
    global _patch_users
    with _patch_lock:
        if _patch_users == 0:
            _saved[:] = [(owner, name, vars(owner).get(name, _MISSING)) for owner, name, _ in _PATCHES]
            for owner, name, function in _PATCHES:
                setattr(owner, name, function)
        _patch_users += 1


def _uninstall() -> None:
    global _patch_users
    with _patch_lock:
        _patch_users -= 1
        if _patch_users == 0:
            for owner, name, original in _saved:
                if original is _MISSING:
                    delattr(owner, name)  # e.g. Tensor.relu lives on the C base class
                else:
                    setattr(owner, name, original)
            _saved.clear()


@contextmanager
def relu_backward(model: nn.Module, rule: str) -> Iterator[nn.Module]:
    """Inside the block, every ReLU of ``model`` back-propagates with ``rule``.

    Args:
        model: any module. Its ``nn.ReLU`` modules (in place or not) and the functional calls
            ``F.relu``, ``F.relu_``, ``torch.relu``, ``torch.relu_``, ``x.relu()``, ``x.relu_()`` made
            inside the forward of any of its modules are covered. Forward values do not change.
        rule: ``"backprop"`` (``g * [x > 0]``), ``"deconvnet"`` (``max(g, 0)``) or ``"guided"``
            (``max(g, 0) * [x > 0]``); ``g`` is the gradient arriving at the ReLU's output.

    How: the ReLU functions of ``torch``, ``torch.nn.functional`` and ``torch.Tensor`` are replaced
    for the duration of the block by versions that call the rule's autograd function (see
    :data:`RELU_RULES`) while a module of ``model`` runs its forward on the thread that entered the
    block; elsewhere they behave as the built-ins. Everything is restored on exit, exceptions
    included, and no hook stays on ``model``. The rule is fixed when the forward pass runs, so the
    backward pass may run after the block.

    Thread safety: the replacement is process-wide but reference-counted under a lock, and the rule
    only applies on the thread that entered the block, so other threads (running other models, or
    this one outside the block) get the ordinary ReLU. Not covered: a ReLU function stored before the
    block (``act = F.relu`` at import time), ``clamp(min=0)``, ``nn.ReLU6``/leaky ReLUs, TorchScript
    or ``torch.compile``-d code, and ``nn.DataParallel`` replicas (other threads).

    Reference: Springenberg et al. 2015, "Striving for simplicity", Fig. 1 (the three rules).

    Example:
        >>> with relu_backward(model, "guided"):
        ...     (grad,) = torch.autograd.grad(model(x)[:, 3].sum(), x)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if rule not in RELU_RULES:
        raise ValueError(f"unknown ReLU rule {rule!r}; choose one of: {', '.join(RELU_RULES)}")
    function, owner, stack = RELU_RULES[rule], threading.get_ident(), _stack()
    depth = len(stack)

    def push(module, inputs):
        if threading.get_ident() == owner:
            stack.append(function)

    def pop(module, inputs, output):
        if threading.get_ident() == owner and len(stack) > depth:
            stack.pop()

    handles = []
    _install()
    try:
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(push))
            handles.append(module.register_forward_hook(pop, always_call=True))
        yield model
    finally:
        for handle in handles:
            handle.remove()
        del stack[depth:]
        _uninstall()


# --- gradients under a rule --------------------------------------------------------------------
def _rule_gradient(model, images, target, layer, unit, rule: str) -> torch.Tensor:
    """The lecture-07 gradient (of a class score, or of a unit) with every ReLU following ``rule``."""
    if (layer is None) != (unit is None):
        raise ValueError("give both layer and unit (a neuron of a layer), or neither (a class score)")
    if layer is None and target is None:
        raise ValueError("target is required: a class index, a class name, or one of those per image")
    if layer is not None and target is not None:
        raise ValueError("give either target (a class score) or layer and unit (a neuron), not both")
    with relu_backward(model, rule):
        if layer is None:
            return input_gradient(model, images, target)
        return neuron_gradient(model, images, layer, unit)


def guided_backprop(
    model: nn.Module, images: torch.Tensor, target=None, *, layer: str | None = None, unit=None
) -> torch.Tensor:
    """Guided backpropagation: the input gradient of a class score or a unit, with guided ReLUs.

    Every ReLU passes back ``max(g, 0) * [x > 0]``: only positive gradients, only where its input
    was positive, so negative paths of influence are cancelled at each step. Otherwise exactly
    :func:`~course_utils.attribution.input_gradient` (or ``neuron_gradient`` for a unit).

    Args:
        model: a classifier (for ``target``) or any network (for ``layer``/``unit``); its mode and
            parameters are left as they were.
        images: ``(N, 3, H, W)`` float in [0, 1], on the model's device.
        target: the class of the score (before softmax): an int, a class name, or one per image.
        layer, unit: instead of ``target``, a unit of a layer (name as in ``hooks.layer_names``):
            ``unit = c`` seeds the gradient with ones on the whole channel ``c`` (the neuron ``c`` of
            a fully connected layer), ``unit = (c, y, x)`` with a single one at that position.

    Returns:
        ``(N, 3, H, W)`` signed, per colour channel (no reduction), on the images' device.

    Reference: Springenberg et al. 2015, "Striving for simplicity", Sec. 3.4 and Fig. 1.

    Example:
        >>> maps = guided_backprop(model, images, "ring")                  # (N, 3, H, W)
        >>> maps = guided_backprop(model, images, layer="features.7", unit=(5, 3, 4))
    """
    return _rule_gradient(model, images, target, layer, unit, "guided")


def deconvnet(
    model: nn.Module, images: torch.Tensor, target=None, *, layer: str | None = None, unit=None
) -> torch.Tensor:
    """Deconvnet: the input "gradient" of a class score or a unit, with deconvnet ReLUs.

    Every ReLU passes back ``max(g, 0)``, whatever the sign of its forward input (the rectified
    "unpooling" path of the deconvnet; convolutions are transposed, max-pooling uses its switches).
    Arguments as in :func:`guided_backprop`.

    Returns:
        ``(N, 3, H, W)`` signed, per colour channel (no reduction), on the images' device.

    Reference: Zeiler & Fergus 2013, "Visualizing and understanding convolutional networks", Sec. 2.1.

    Example:
        >>> maps = deconvnet(model, images, target=3)  # (N, 3, H, W)
    """
    return _rule_gradient(model, images, target, layer, unit, "deconvnet")


def unit_projections(model: nn.Module, images, layer: str, top, channels, *, rule: str = "guided",
                     size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Zeiler & Fergus's figure of a unit: each of its top activations projected back to pixel space
    with a ReLU rule, and the image patch it came from, both cut to the unit's receptive field.

    Args:
        model: a chain network (``patches.receptive_box`` must know its geometry).
        images: the dataset given to ``patches.top_activations`` (tensor ``(N, 3, H, W)`` in [0, 1]
            or a Dataset).
        layer: the layer of ``top``.
        top: a :class:`course_utils.patches.TopActivations` of ``layer`` over ``images``.
        channels: which rows of ``top`` (indices into its ``(C, k)`` fields).
        rule: ``"guided"`` (guided backprop, default), ``"deconvnet"`` or ``"backprop"``: the
            backward rule of every ReLU (:data:`RELU_RULES`).
        size: the side of each crop in pixels (default 48).

    Returns:
        ``projections (len(channels), k, 3, size, size)`` signed (the map of unit ``(c, y, x)``
        on its image; zero where the field sticks out of the image; show them with
        ``plotting.gradient_image``) and ``patches`` of the same shape in [0, 1] (grey outside).
        Both cover the whole receptive field, unclipped, so every crop has the same scale.

    Zeiler & Fergus 2014, "Visualizing and understanding convolutional networks", Sec. 4, Fig. 2.

    Example:
        >>> top = patches.top_activations(model, pool, "features.4", k=9, one_per_image=True)
        >>> projections, crops = unit_projections(model, pool, "features.4", top, [0, 5])
    """
    from .. import patches

    if rule not in RELU_RULES:
        raise ValueError(f"rule must be one of {sorted(RELU_RULES)}, got {rule!r}")
    device = model_device(model)
    maps, crops = [], []
    for channel in torch.as_tensor(channels).reshape(-1).tolist():
        chosen = patches.fetch_images(images, top.image[channel]).to(device)  # (k, 3, H, W)
        ys, xs = top.y[channel], top.x[channel]
        with relu_backward(model, rule):  # each image with its own position, in one batched pass
            units = [(channel, int(y), int(x)) for y, x in zip(ys, xs)]
            unit_maps = _per_image_unit_gradient(model, chosen, layer, units)  # (k, 3, H, W)
        boxes = patches.receptive_box(model, layer, ys, xs, image_size=tuple(chosen.shape[-2:]), clip=False)
        peak = unit_maps.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)  # (k, 1, 1, 1)
        as_picture = 0.5 + unit_maps / (2 * peak)  # in [0, 1], so that crop_patches can cut it (linear)
        maps.append((patches.crop_patches(as_picture, boxes, size) - 0.5) * 2 * peak)
        crops.append(patches.crop_patches(chosen, boxes, size))
    return torch.stack(maps), torch.stack(crops)
