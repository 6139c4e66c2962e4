"""Layers by name, and context managers that capture activations and gradients.

Every context manager here removes its hooks in ``finally`` (also when the forward or
backward pass raises), and restores the model's train/eval mode and ``requires_grad``.

Gradients are captured with ``tensor.register_hook`` on the layer's *output* from inside a
forward hook, not with module backward hooks, which break on in-place ReLUs ("Output 0 of
BackwardHookFunctionBackward is a view and is being modified inplace").
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Iterable, Iterator, Union

import torch
from torch import nn

LayerNames = Union[str, Iterable[str]]


def _root(model: nn.Module) -> nn.Module:
    """Layer names of a course model are relative to its network (``model.net``)."""
    from .models.base import CourseModel

    return model.net if isinstance(model, CourseModel) else model


def layer_names(model: nn.Module) -> list[str]:
    """All layer names of ``model`` in definition order, e.g. ``['features', 'features.0', ...]``.

    For a course model the names are those of its network (torchvision's names), without the
    normalization layer: ``"features.0"`` is AlexNet's first convolution.
    """
    return [name for name, _ in _root(model).named_modules() if name]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name``; an unknown name raises ``KeyError`` listing valid names."""
    modules = dict(_root(model).named_modules())
    if not isinstance(name, str) or not name or name not in modules:
        valid = ", ".join(n for n in modules if n)
        raise KeyError(f"unknown layer {name!r}; valid layer names are: {valid}")
    return modules[name]


def _as_list(layers: LayerNames) -> list[str]:
    return [layers] if isinstance(layers, str) else list(layers)



def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model with neither."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if tensor is None else tensor.device

@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the block; restore every module's mode afterwards."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.training = training


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Set ``requires_grad=False`` on all parameters inside the block, then restore them.

    Image optimizers use it so that parameters' ``.grad`` never accumulate.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


@contextmanager
def _forward_hooks(model: nn.Module, layers: LayerNames, make_hook) -> Iterator[None]:
    """Attach ``make_hook(name)`` as a forward hook on each layer; remove them all on exit."""
    names = _as_list(layers)
    modules = [get_layer(model, name) for name in names]  # validates every name first
    handles = []
    try:
        for name, module in zip(names, modules):
            handles.append(module.register_forward_hook(make_hook(name)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capture_activations(model: nn.Module, layers: LayerNames, *, detach: bool = True) -> Iterator[dict]:
    """Record the outputs of ``layers`` during forward passes inside the block.

    Args:
        model: any module (a course model's layer names are those of ``model.net``).
        layers: one name or several.
        detach: store detached copies (default); ``False`` keeps them in the autograd graph
            so a loss can be built from them (feature visualization, style transfer).

    Yields:
        a dict ``{layer name: output tensor}``, filled by each forward pass (the last one wins).

    The stored tensor is protected from later in-place operations (an in-place ReLU right after
    a convolution would otherwise overwrite the captured pre-activation).

    Example:
        >>> with capture_activations(model, ["features.0", "features.3"]) as acts:
        ...     model(images)
        >>> acts["features.0"].shape  # (N, C, H, W)
    """
    store: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returns {type(output).__name__}, not a tensor; pick another layer")
            if detach:
                store[name] = output.detach().clone()
                return None
            store[name] = output
            return output.clone()  # later in-place ops modify the clone, not the stored tensor

        return hook

    with _forward_hooks(model, layers, make_hook):
        yield store


@contextmanager
def capture_gradients(model: nn.Module, layers: LayerNames) -> Iterator[dict]:
    """Record d(loss)/d(output) of ``layers`` during backward passes inside the block.

    Yields a dict ``{layer name: gradient tensor}`` (same shape as the layer's output), filled
    when ``backward`` or ``torch.autograd.grad`` runs through those layers. Uses tensor hooks,
    so it works with in-place ReLUs. All hooks are removed on exit, exceptions included.
    """
    store: dict[str, torch.Tensor] = {}
    tensor_handles = []

    def make_hook(name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or not output.requires_grad:
                return None
            output = output.clone()  # so later in-place ops cannot move the hook

            def save(grad):
                store[name] = grad.detach()

            tensor_handles.append(output.register_hook(save))
            return output

        return hook

    try:
        with _forward_hooks(model, layers, make_hook):
            yield store
    finally:
        for handle in tensor_handles:
            handle.remove()


def activations(model: nn.Module, images: torch.Tensor, layers: LayerNames) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``images`` (eval mode, no gradients) and return ``{layer: output}``."""
    with torch.no_grad(), eval_mode(model), capture_activations(model, layers) as store:
        model(images)
    return dict(store)


def count_hooks(model: nn.Module) -> int:
    """Number of forward/backward hooks attached to ``model``'s modules (0 when clean)."""
    total = 0
    for module in model.modules():
        for attribute in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            total += len(getattr(module, attribute, {}))
    return total
