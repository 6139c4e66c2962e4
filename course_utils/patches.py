"""Where a unit looks: receptive fields of every layer, and the dataset patches that excite a unit most.

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
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .config import progress
from .hooks import eval_mode, get_layer, model_device
from .imaging import check_images

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_PASS_THROUGH = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Dropout,
                 nn.BatchNorm2d, nn.LocalResponseNorm, nn.Identity, nn.Flatten)  # fmt: skip


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


# ---------------------------------------------------------------------------------------------
# Patches that maximally activate a unit (Girshick et al. 2014, R-CNN, fig. 4)
# ---------------------------------------------------------------------------------------------


class TopActivations(NamedTuple):
    """The k strongest responses of each channel over a dataset: four ``(C, k)`` tensors on the CPU.

    ``values[c, i]`` is the i-th largest activation of channel ``channels[c]`` (descending);
    ``image[c, i]`` the index of its image in the dataset (stream order); ``y[c, i], x[c, i]``
    its position in the layer's feature map (both 0 for a fully connected layer).
    """

    values: torch.Tensor
    image: torch.Tensor
    y: torch.Tensor
    x: torch.Tensor


class Box(NamedTuple):
    """A box in input pixels: rows ``top:bottom`` and columns ``left:right`` (bottom/right exclusive)."""

    top: torch.Tensor
    left: torch.Tensor
    bottom: torch.Tensor
    right: torch.Tensor


def _image_batches(images, batch_size: int):
    """Yield ``(N, 3, H, W)`` batches from a tensor, a Dataset or a DataLoader; also the number of batches."""
    if isinstance(images, torch.Tensor):
        check_images(images)
        return (images[i : i + batch_size] for i in range(0, len(images), batch_size)), -(-len(images) // batch_size)
    if isinstance(images, DataLoader):
        loader = images
    elif isinstance(images, Dataset):
        loader = DataLoader(images, batch_size=batch_size, shuffle=False)
    else:
        raise TypeError(
            f"images must be a tensor (N, 3, H, W), a torch Dataset or a DataLoader, got {type(images).__name__}"
        )
    try:
        total = len(loader)
    except TypeError:  # an iterable dataset has no length
        total = None

    def batches():
        for batch in loader:
            if isinstance(batch, (tuple, list)):  # (images, labels, ...): keep the images
                batch = batch[0]
            if isinstance(batch, dict):
                batch = batch.get("image", batch.get("images"))
            yield check_images(batch, "a batch of images")

    return batches(), total


def _layer_output(model: nn.Module, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on ``batch`` up to ``module`` (the rest of the forward is skipped)."""
    captured = {}

    def hook(_module, _inputs, output):
        captured["out"] = output
        raise _Stop  # the layers after this one are not needed

    handle = module.register_forward_hook(hook)
    try:
        model(batch)
    except _Stop:
        pass
    finally:
        handle.remove()
    if "out" not in captured:
        raise RuntimeError("the layer did not run during the forward pass")
    out = captured["out"]
    if not isinstance(out, torch.Tensor) or out.ndim not in (2, 4):
        kind = type(out).__name__ if not isinstance(out, torch.Tensor) else f"a tensor of shape {tuple(out.shape)}"
        raise ValueError(f"the layer returns {kind}; top_activations takes (N, C, H, W) or (N, C) outputs")
    return out


def _channel_index(channels, count: int, device) -> torch.Tensor:
    if channels is None:
        return torch.arange(count, device=device)
    index = torch.as_tensor(channels if not isinstance(channels, int) else [channels]).flatten()
    if index.is_floating_point() or index.numel() == 0:
        raise ValueError(f"channels must be None, an int or a non-empty sequence of ints, got {channels!r}")
    bad = index[(index < 0) | (index >= count)]
    if bad.numel():
        raise IndexError(f"unknown channel(s) {bad.tolist()}: the layer has {count} channels, 0 to {count - 1}")
    return index.to(device)


def _length(images) -> int | None:
    """The number of images of a tensor, a sized Dataset or a DataLoader over one, else ``None``."""
    source = images.dataset if isinstance(images, DataLoader) else images
    try:
        return len(source)
    except TypeError:
        return None


def _check_k(k: int, count: int | None, per_image: int) -> None:
    if count is not None and k > count * per_image:
        unit = "positions" if per_image > 1 else "entries"
        raise ValueError(f"k={k} is larger than the data: {count} image(s) give {count * per_image} {unit} per "
                         f"channel; use k <= {count * per_image}")  # fmt: skip


def top_activations(
    model: nn.Module,
    images,
    layer: str,
    *,
    k: int = 9,
    channels=None,
    batch_size: int = 256,
    one_per_image: bool = False,
) -> TopActivations:
    """The ``k`` largest activations of each channel of ``layer`` over a whole dataset.

    Streams ``images`` once through ``model`` (eval mode, no gradients, on the model's device;
    the forward stops at ``layer``) and keeps a running top-k per channel, merged batch by
    batch: memory is ``O(C k)`` whatever the dataset size, no activation map is stored.
    The R-CNN "top regions" figure (Girshick et al. 2014, fig. 4): rank all units
    ``a[c, n, y, x]`` of channel ``c`` over images ``n`` and positions ``(y, x)``.

    Args:
        model: a course model (or any module); it is not changed.
        images: a tensor ``(N, 3, H, W)`` in [0, 1], a ``Dataset`` (items ``image`` or
            ``(image, label)``) or a ``DataLoader`` (batches ``images`` or ``(images, labels)``).
        layer: a layer name (``model.roles["last_conv"]``, ``"features.9"``); its output is
            ``(N, C, h, w)`` or ``(N, C)``.
        k: how many per channel (default 9); more than the data holds raises ``ValueError``.
        channels: ``None`` (all, default), an int or a sequence of channel indices.
        batch_size: images per forward pass (tensor or Dataset input; a DataLoader keeps its own).
        one_per_image: rank each image by its strongest position only, so that the ``k``
            results come from ``k`` different images (default ``False``: all positions compete).

    Returns:
        :class:`TopActivations` ``(values, image, y, x)``, each ``(len(channels), k)`` on the
        CPU, sorted from the largest value. Ties keep the earlier image, then any position.

    Example:
        >>> top = top_activations(model, images, model.roles["last_conv"], k=9, channels=[0, 5])
        >>> top.values.shape, top.image[0, 0]  # torch.Size([2, 9]), the best image of channel 0
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    module = get_layer(model, layer)
    device = model_device(model)
    batches, total = _image_batches(images, batch_size)
    best = index = None  # running (C, <=k) values and flat indices (image * h * w + y * w + x)
    seen, hw, width = 0, 1, 1
    with torch.no_grad(), eval_mode(model):
        for batch in progress(batches, desc=f"top-{k} of {layer}", total=total):
            out = _layer_output(model, module, batch.to(device))  # (B, C, h, w) or (B, C)
            if best is None:
                chosen = _channel_index(channels, out.shape[1], out.device)
                every = channels is None  # no channel selection: no copy of the maps
                hw, width = (out.shape[2] * out.shape[3], out.shape[3]) if out.ndim == 4 else (1, 1)
                _check_k(k, _length(images), 1 if one_per_image else hw)  # fail before streaming everything
            maps = out if every else out[:, chosen]
            maps = maps.flatten(2) if out.ndim == 4 else maps[:, :, None]  # (B, C', hw)
            if one_per_image:
                peak, where = maps.max(2)  # (B, C'), per image its strongest position
                flat = (torch.arange(seen, seen + len(batch), device=out.device)[:, None] * hw + where).T
                values = peak.T  # (C', B)
            else:
                values = maps.transpose(0, 1).reshape(len(chosen), -1)  # (C', B * hw), image-major
                flat = None
            values, top = values.topk(min(k, values.shape[1]), dim=1)  # (C', <=k)
            top = flat.gather(1, top) if one_per_image else top + seen * hw
            if best is not None:  # merge: the running entries first, so ties keep earlier images
                values, top = torch.cat([best, values], 1), torch.cat([index, top], 1)
                order = values.argsort(dim=1, descending=True, stable=True)[:, :k]
                values, top = values.gather(1, order), top.gather(1, order)
            best, index = values, top
            seen += len(batch)
    _check_k(k, seen, 1 if one_per_image else hw)
    index = index.cpu()
    return TopActivations(best.cpu(), index // hw, index % hw // width, index % width)


def receptive_box(model: nn.Module, layer: str, y, x, *, image_size=None, clip: bool = True) -> Box:
    """The box of input pixels that unit ``(y, x)`` of ``layer`` sees.

    From :func:`layer_table`'s receptive field ``r``, jump ``j`` and first centre ``c``: unit
    ``(y, x)`` is centred at input pixel ``(c + j y, c + j x)`` and its field spans ``r`` pixels
    (Araujo et al. 2019, eq. 1-3); ``top = c + j y - (r - 1) / 2``, ``bottom = top + r``. It is
    the field's bounding box: with dilated kernels an edge unit may skip some of its rows.

    Args:
        model: a chain network (AlexNet, VGG, ShapeNet; branched ones raise NotImplementedError).
        layer: a layer name. A fully connected layer sees the whole image (then ``y = x = 0``).
        y, x: ints or integer tensors of one shape (many units at once, vectorized).
        image_size: the input side, an int or ``(H, W)`` (default ``model.input_size``).
        clip: clip the box to the image (default); ``False`` keeps the whole field, which may
            stick out of the image where the layers pad.

    Returns:
        :class:`Box` ``(top, left, bottom, right)`` in input pixels, ``bottom``/``right`` exclusive
        (crop with ``image[:, top:bottom, left:right]``); ints for int ``y, x``, else tensors
        of their shape.

    Example:
        >>> receptive_box(model, "features.9", 1, 2)  # ShapeNet, 64 px: Box(top=0, left=0, bottom=41, right=49)
    """
    get_layer(model, layer)
    height, width = _pair(image_size or getattr(model, "input_size", 224))
    row = next(r for r in layer_table(model, input_size=height) if r.name == layer)
    scalar = not isinstance(y, torch.Tensor) and not isinstance(x, torch.Tensor)
    y, x = torch.as_tensor(y), torch.as_tensor(x)
    if y.is_floating_point() or x.is_floating_point():
        raise TypeError("y and x must be integer unit positions")
    y, x = torch.broadcast_tensors(y, x)
    grid = row.output_shape[1:] if len(row.output_shape) == 3 else (1, 1)
    outside = (y < 0) | (y >= grid[0]) | (x < 0) | (x >= grid[1])
    if outside.any():
        raise ValueError(
            f"unit positions outside layer {layer!r}'s {grid[0]}x{grid[1]} map: y must be in [0, {grid[0] - 1}] "
            f"and x in [0, {grid[1] - 1}] (at image size {height}x{width})"
        )
    if row.note == "varies":
        raise ValueError(
            f"layer {layer!r} follows an adaptive pooling with uneven windows at {height}x{width}: its units have "
            "no single receptive field; pick an earlier layer or an image size the pooling divides evenly"
        )
    if row.receptive_field is None:  # fully connected: the whole image
        box = [torch.zeros_like(y), torch.zeros_like(x), torch.full_like(y, height), torch.full_like(x, width)]
    else:
        first = int(round(row.start - (row.receptive_field - 1) / 2))  # top/left of unit 0's field
        top, left = first + row.jump * y, first + row.jump * x
        box = [top, left, top + row.receptive_field, left + row.receptive_field]
        if clip:
            box = [box[0].clamp(0, height), box[1].clamp(0, width), box[2].clamp(0, height), box[3].clamp(0, width)]
    return Box(*(int(b) for b in box)) if scalar else Box(*box)


def crop_patches(images: torch.Tensor, boxes, size: int, *, index=None, fill: float = 0.5) -> torch.Tensor:
    """Cut the boxes out of the images and resize each to ``size x size`` (bilinear, averaged).

    Args:
        images: ``(N, 3, H, W)`` in [0, 1].
        boxes: a :class:`Box` of tensors, or a tensor ``(..., 4)`` of ``(top, left, bottom, right)``
            rows in input pixels, bottom/right exclusive (as :func:`receptive_box` gives).
        size: the side of each crop, in pixels.
        index: which image each box is cut from, ``(M,)`` ints (default: box ``m`` from image
            ``m``, which needs as many boxes as images).
        fill: the value where a box sticks out of its image (default 0.5, grey).

    Returns:
        ``(M, 3, size, size)`` in [0, 1], on the images' device; a box that is not square is
        stretched to the square. Uses ``torchvision.ops.roi_align`` (aligned, adaptive sampling).

    Example:
        >>> crops = crop_patches(images, receptive_box(model, layer, top.y[0], top.x[0]), 48, index=top.image[0])
    """
    from torchvision.ops import roi_align

    check_images(images)
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    boxes = torch.stack([torch.as_tensor(b) for b in boxes], -1) if isinstance(boxes, tuple) else torch.as_tensor(boxes)
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must be (..., 4) rows (top, left, bottom, right), got shape {tuple(boxes.shape)}")
    boxes = boxes.reshape(-1, 4).to(images.device, torch.float32)  # (M, 4)
    if ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])).any():
        raise ValueError("every box needs bottom > top and right > left")
    if index is None:
        if len(boxes) != len(images):
            raise ValueError(f"{len(boxes)} boxes for {len(images)} images: give index= (the image of each box)")
        index = torch.arange(len(images))
    index = torch.as_tensor(index).reshape(-1).to(images.device)
    if len(index) != len(boxes) or ((index < 0) | (index >= len(images))).any():
        raise ValueError(f"index must hold one image number in [0, {len(images) - 1}] per box ({len(boxes)})")
    rois = torch.cat([index[:, None].to(torch.float32), boxes[:, [1, 0, 3, 2]]], 1)  # (M, 5): n, x1, y1, x2, y2
    crops = roi_align(images - fill, rois, size, aligned=True)  # zero outside the image -> ``fill``
    return (crops + fill).clamp(0, 1)


def fetch_images(images, index) -> torch.Tensor:
    """The images at positions ``index`` of a tensor or a Dataset (items ``image`` or ``(image, label)``).

    Returns ``(len(index), 3, H, W)``; handy for the images that :func:`top_activations` names.
    """
    index = torch.as_tensor(index).reshape(-1).cpu()
    if isinstance(images, torch.Tensor):
        return images[index.to(images.device)]
    if isinstance(images, DataLoader):
        images = images.dataset
    items = [images[int(i)] for i in index]
    return torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items])


def top_patches(model: nn.Module, images, layer: str, top: TopActivations, *, size: int = 48, clip: bool = False,
                fill: float = 0.5) -> tuple[torch.Tensor, Box]:  # fmt: skip
    """The image crops behind a :func:`top_activations` result, ready for the R-CNN figure.

    Args:
        model, layer: as given to :func:`top_activations`.
        images: the same data, a tensor ``(N, 3, H, W)`` or a Dataset (indexed by ``top.image``).
        top: the result of :func:`top_activations`, ``(C, k)`` fields.
        size: the side of each crop (default 48).
        clip: ``False`` (default) crops each unit's whole field at the same scale, ``fill``
            (grey) where it sticks out of the image; ``True`` crops the clipped box, stretched.

    Returns:
        ``crops`` ``(C, k, 3, size, size)`` in [0, 1] and the clipped :class:`Box` of each,
        ``(C, k)`` tensors in input pixels (for drawing on the whole images).

    Example:
        >>> crops, boxes = top_patches(model, images, layer, top_activations(model, images, layer))
    """
    whole = fetch_images(images, top.image.flatten())  # (C k, 3, H, W)
    height, width = whole.shape[-2:]
    boxes = receptive_box(model, layer, top.y, top.x, image_size=(height, width))
    field = boxes if clip else receptive_box(model, layer, top.y, top.x, image_size=(height, width), clip=False)
    crops = crop_patches(whole, field, size, fill=fill)  # (C k, 3, size, size)
    return crops.reshape(*top.image.shape, *crops.shape[1:]), boxes


def peak_activations(model: nn.Module, images, layer: str, *, batch_size: int = 256) -> torch.Tensor:
    """Each image's strongest response of each channel of ``layer``: ``(N, C)`` on the CPU.

    ``peak[n, c] = max_{y, x} a[n, c, y, x]`` (for a fully connected layer, the activation
    itself). Streams ``images`` (tensor, Dataset or DataLoader) like :func:`top_activations`.
    """
    module = get_layer(model, layer)
    device = model_device(model)
    batches, total = _image_batches(images, batch_size)
    peaks = []
    with torch.no_grad(), eval_mode(model):
        for batch in progress(batches, desc=f"peaks of {layer}", total=total):
            out = _layer_output(model, module, batch.to(device))  # (B, C, h, w) or (B, C)
            peaks.append((out.flatten(2).amax(2) if out.ndim == 4 else out).cpu())
    if not peaks:
        raise ValueError("images is empty")
    return torch.cat(peaks)


class Selectivity(NamedTuple):
    """Per channel: ``index`` in [0, 1] (for non-negative activations) and its preferred ``group``."""

    index: torch.Tensor
    group: torch.Tensor


def class_selectivity(peaks: torch.Tensor, labels: torch.Tensor, *, groups: int | None = None) -> Selectivity:
    """How much each channel prefers one group of images (a class, a colour) over the others.

    ``SI = (mu_max - mu_rest) / (mu_max + mu_rest)``, where ``mu_max`` is the channel's mean
    peak over its favourite group and ``mu_rest`` the mean of the other groups' means
    (Morcos et al. 2018, "On the importance of single directions for generalization", sec. 2.3).
    0: no preference; 1: responds to one group only.

    Args:
        peaks: ``(N, C)`` non-negative responses, e.g. :func:`peak_activations` of a ReLU layer.
        labels: ``(N,)`` group of each image, ints in ``[0, groups)``.
        groups: the number of groups (default ``labels.max() + 1``); every group needs an image.

    Returns:
        :class:`Selectivity` ``(index, group)``, each ``(C,)``.
    """
    labels = torch.as_tensor(labels).reshape(-1).long().cpu()
    peaks = torch.as_tensor(peaks).float().cpu()
    if peaks.ndim != 2 or len(peaks) != len(labels):
        raise ValueError(f"peaks must be (N, C) and labels (N,), got {tuple(peaks.shape)} and {tuple(labels.shape)}")
    groups = groups or int(labels.max()) + 1
    counts = torch.bincount(labels, minlength=groups).float()  # (G,)
    if (counts == 0).any() or groups < 2:
        raise ValueError(f"every one of the {groups} groups (at least 2) needs an image; counts {counts.long().tolist()}")
    sums = torch.zeros(groups, peaks.shape[1]).index_add_(0, labels, peaks)  # (G, C)
    means = sums / counts[:, None]
    best, group = means.max(0)  # (C,)
    rest = (means.sum(0) - best) / (groups - 1)
    return Selectivity((best - rest) / (best + rest).clamp_min(1e-8), group)


def most_selective_units(selectivity: Selectivity) -> tuple[torch.Tensor, torch.Tensor]:
    """One unit per favourite group: for every group that is some channel's favourite, the channel
    with the highest selectivity index among those that favour it.

    Returns:
        ``(channels, groups)``, two ``(G',)`` int64 tensors sorted by group (``G'`` the number of
        groups that are some channel's favourite), so that a figure of the channels shows units
        with *different* favourite classes.

    Example:
        >>> units, groups = most_selective_units(class_selectivity(peaks, labels))
    """
    index, group = torch.as_tensor(selectivity.index).cpu(), torch.as_tensor(selectivity.group).cpu().long()
    channels, groups = [], []
    for g in torch.unique(group).tolist():  # sorted
        candidates = torch.where(group == g, index, torch.full_like(index, -float("inf")))
        channels.append(int(candidates.argmax()))
        groups.append(g)
    return torch.tensor(channels, dtype=torch.int64), torch.tensor(groups, dtype=torch.int64)


def majority_labels(labels: torch.Tensor, names=None) -> list[tuple]:
    """The most common label in each row of ``labels (U, k)`` (e.g. the classes of each unit's top
    images, ``labels_of_images[top.image]``) and how many of the ``k`` carry it: ``[(label, count)]``,
    with ``label`` replaced by ``names[label]`` when ``names`` is given (a tie goes to the smallest label).
    Used to title a unit by what its patches actually show."""
    labels = torch.as_tensor(labels).long().cpu()
    if labels.ndim != 2 or labels.shape[1] == 0:
        raise ValueError(f"labels must be (U, k) with k >= 1, got {tuple(labels.shape)}")
    result = []
    for row in labels:
        counts = torch.bincount(row - row.min())
        label = int(counts.argmax()) + int(row.min())
        result.append((names[label] if names is not None else label, int(counts.max())))
    return result


HUE_NAMES = ("red", "yellow", "green", "cyan", "blue", "magenta")


def colour_names(colours: torch.Tensor, *, min_saturation: float = 0.25, min_value: float = 0.2) -> list[str]:
    """A name for each RGB colour ``(..., 3)`` in [0, 1]: one of :data:`HUE_NAMES` (six hue bins
    of 60 degrees centred on red, yellow, ...), ``"grey"`` below ``min_saturation`` or ``"dark"``
    below ``min_value`` (HSV saturation and value). Returns a flat list, one name per colour."""
    colours = torch.as_tensor(colours).float().cpu().reshape(-1, 3)
    high, low = colours.max(1).values, colours.min(1).values
    span = high - low
    safe = span.clamp_min(1e-8)
    r, g, b = colours.unbind(1)
    hue = torch.where(high == r, ((g - b) / safe) % 6, torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    saturation = span / high.clamp_min(1e-8)
    bins = ((hue + 1 / 12) % 1 * 6).long().clamp(max=5)
    names = []
    for value, sat, hue_bin in zip(high.tolist(), saturation.tolist(), bins.tolist()):
        names.append("dark" if value < min_value else "grey" if sat < min_saturation else HUE_NAMES[hue_bin])
    return names


class RandomCrops(Dataset):
    """A lazily generated dataset of random square crops of a few pictures, resized to ``size``.

    Item ``i`` is the same image every time (its own seeded generator), and nothing is stored:
    a stream of many views of a handful of photos, for :func:`top_activations`.

    Args:
        photos: ``(P, 3, H, W)`` in [0, 1].
        count: the number of crops.
        size: their side in pixels.
        scale: the range of crop sides as fractions of the shorter photo side (default 0.15 to 0.6).
        seed: changes every crop.
    """

    def __init__(self, photos: torch.Tensor, count: int, size: int, *, scale=(0.15, 0.6), seed: int = 0):
        self.photos = check_images(photos, "photos").cpu()
        self.count, self.size, self.scale, self.seed = count, size, scale, seed

    def __len__(self) -> int:
        return self.count

    def box(self, index: int) -> tuple[int, int, int, int]:
        """``(photo, top, left, side)`` of crop ``index``."""
        if not 0 <= index < self.count:
            raise IndexError(f"crop {index} out of range [0, {self.count})")
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        height, width = self.photos.shape[-2:]
        low, high = (max(8, int(f * min(height, width))) for f in self.scale)
        side = int(torch.randint(low, high + 1, (), generator=generator))
        photo = int(torch.randint(len(self.photos), (), generator=generator))
        top = int(torch.randint(height - side + 1, (), generator=generator))
        left = int(torch.randint(width - side + 1, (), generator=generator))
        return photo, top, left, side

    def __getitem__(self, index: int) -> torch.Tensor:
        from .imaging import resize

        photo, top, left, side = self.box(index)
        crop = self.photos[photo, :, top : top + side, left : left + side]
        return resize(crop, (self.size, self.size)).clamp(0, 1)  # (3, size, size)
