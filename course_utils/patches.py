"""Where a unit looks: output shapes and receptive fields of every layer.

For a chain of layers, the receptive field ``r``, the jump ``j`` (the distance in input pixels
between neighbouring units) and the centre ``c`` of the first unit's field follow the
recurrences of Araujo, Norris and Sim (2019), "Computing receptive fields of convolutional
neural networks" (Distill), eq. 1-3, for a layer with kernel ``k``, stride ``s``, padding
``p`` and dilation ``d`` (effective kernel ``k' = d (k - 1) + 1``)::

    r_out = r_in + (k' - 1) j_in        j_out = j_in s        c_out = c_in + ((k' - 1) / 2 - p) j_in

starting from ``r = 1, j = 1, c = 0`` at the input (pixel centres at 0, 1, ..., W - 1).
:func:`measure_receptive_field` measures the same thing independently, with autograd.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .hooks import eval_mode, get_layer

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_PASS_THROUGH = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Dropout,
                 nn.BatchNorm2d, nn.LocalResponseNorm, nn.Identity)  # fmt: skip


@dataclass(frozen=True)
class LayerInfo:
    """One row of :func:`layer_table`.

    ``receptive_field`` and ``jump`` are in input pixels; ``start`` is the centre of the first
    (top-left) unit's field. They are ``None`` when the field is not one square: ``note`` then
    says ``"all"`` (a fully connected layer sees the whole image) or ``"varies"`` (after adaptive
    pooling with uneven windows).
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    receptive_field: int | None
    jump: int | None
    start: float | None
    note: str = ""


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def layer_geometry(module: nn.Module) -> tuple[int, int, int, int] | None:
    """``(kernel, stride, padding, dilation)`` of a convolution or pooling layer along one axis
    (the first: the lecture's kernels are square), or ``None`` for any other layer."""
    if not isinstance(module, (nn.Conv2d,) + _POOLS):
        return None
    k, s = _pair(module.kernel_size)[0], _pair(module.stride or module.kernel_size)[0]
    p, d = _pair(module.padding)[0], _pair(getattr(module, "dilation", 1))[0]
    return k, s, p, d


def _geometry(module: nn.Module, in_size: int, out_size: int):
    """Like :func:`layer_geometry`, plus adaptive pooling (``"varies"`` for uneven windows)."""
    if isinstance(module, (nn.Conv2d,) + _POOLS):
        return layer_geometry(module)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        if in_size == out_size:
            return None
        if in_size % out_size:
            return "varies"  # windows of different sizes: no single receptive field
        k = in_size // out_size
        return k, k, 0, 1
    return None


def layer_table(model: nn.Module, input_size: int | None = None) -> list[LayerInfo]:
    """Output shape and receptive field of every layer, by the recurrences in the module doc.

    Args:
        model: a course model (or any module) whose leaf layers run one after the other
            (AlexNet, VGG, ShapeNet). Branched networks (ResNet, GoogLeNet) raise
            ``NotImplementedError``: use :func:`measure_receptive_field` for them.
        input_size: the side of the square input (default ``model.input_size`` or 224).

    Returns:
        one :class:`LayerInfo` per leaf layer, in execution order.
    """
    size = input_size or getattr(model, "input_size", 224)
    root = getattr(model, "net", model)
    names = {module: name for name, module in root.named_modules()}
    calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []

    def hook(module, inputs, output):
        calls.append((module, inputs[0], output))

    leaves = [m for m in root.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        device = next(model.parameters()).device
        with torch.no_grad(), eval_mode(model):
            model(torch.rand(1, 3, size, size, device=device))
    finally:
        for handle in handles:
            handle.remove()

    rows, r, j, c, note = [], 1, 1, 0.0, ""
    previous = None
    for module, inp, out in calls:
        if previous is not None and inp.data_ptr() != previous.data_ptr():
            raise NotImplementedError(
                f"layer {names[module]!r} does not take the previous layer's output: the network is "
                "branched, and the chain recurrence does not apply; use measure_receptive_field"
            )
        previous = out
        if isinstance(module, nn.Linear):
            r = j = c = None  # a fully connected unit sees the whole image
            note = "all"
        elif r is not None:
            if inp.ndim == 4:
                geometry = _geometry(module, inp.shape[-1], out.shape[-1])
                if geometry == "varies":
                    r = j = c = None
                    note = "varies"
                elif geometry is not None:
                    k, s, p, d = geometry
                    k_eff = d * (k - 1) + 1
                    r, c, j = r + (k_eff - 1) * j, c + ((k_eff - 1) / 2 - p) * j, j * s
                elif not isinstance(module, _PASS_THROUGH + (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                    raise NotImplementedError(f"no receptive-field rule for {type(module).__name__}")
        rows.append(LayerInfo(names[module], type(module).__name__, tuple(out.shape[1:]), r, j, c, note))
    return rows


def format_layer_table(rows: list[LayerInfo]) -> str:
    """The table as aligned text, one layer per line."""
    header = f"{'layer':<14}{'type':<20}{'output shape':<18}{'RF':>6}{'jump':>6}{'start':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        shape = " x ".join(map(str, row.output_shape))
        rf = row.note if row.receptive_field is None else str(row.receptive_field)
        jump = "-" if row.jump is None else str(row.jump)
        start = "-" if row.start is None else f"{row.start:g}"
        lines.append(f"{row.name:<14}{row.kind:<20}{shape:<18}{rf:>6}{jump:>6}{start:>8}")
    return "\n".join(lines)


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


def measure_receptive_field(model: nn.Module, layer: str, input_size: int = 224) -> tuple[int, int]:
    """Measure the receptive field of the centre unit of ``layer`` with autograd.

    Works for any architecture, branched ones included. On a copy of the model, every
    convolution gets positive constant weights and zero bias, max-pooling becomes
    average-pooling, and the input is all ones; then the gradient of the centre unit (all
    channels) with respect to the input is non-zero exactly on its receptive field.

    Returns:
        ``(height, width)`` of that region in input pixels (clipped by the image border: use an
        input larger than twice the field to measure it whole).
    """
    probe = copy.deepcopy(model).float().cpu()
    get_layer(probe, layer)  # validates the name before editing the copy
    root = getattr(probe, "net", probe)
    for name, module in list(root.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                         ceil_mode=child.ceil_mode))  # fmt: skip
    with torch.no_grad():
        for module in root.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
                module.reset_running_stats()
    probe.eval()
    captured = {}

    def hook(module, inputs, output):
        captured["out"] = output
        raise _Stop

    image = torch.ones(1, 3, input_size, input_size, requires_grad=True)
    handle = get_layer(probe, layer).register_forward_hook(hook)
    try:
        probe(image)
    except _Stop:
        pass
    finally:
        handle.remove()
    out = captured["out"]
    if out.ndim != 4:
        return input_size, input_size  # fully connected: the whole image
    centre = out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum()
    (grad,) = torch.autograd.grad(centre, image)
    support = grad[0].abs().sum(0) > 0  # (H, W)
    rows, cols = support.any(1).nonzero(), support.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
