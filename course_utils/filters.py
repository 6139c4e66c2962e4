"""Raw weights as pictures: filter mosaics and the frequency content of filters (lecture 02).

A convolution's weight ``(C_out, C_in, k, k)`` holds ``C_out`` filters. In a first layer each
filter is a small RGB image (``C_in = 3``) and can be shown as one; deeper filters act on
``C_in`` feature maps, so the best one can do is show each input channel as a grayscale tile
(the layout of the ConvNetJS CIFAR-10 demo). Krizhevsky, Sutskever and Hinton (2012), fig. 3,
show AlexNet's first-layer filters this way.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["mosaic", "low_frequency_share", "tile"]

_NORMALIZE = ("per_filter", "global")
_MODES = ("rgb", "channels")


def _weight_tensor(weight) -> torch.Tensor:
    """A ``(C_out, C_in, k, k)`` float tensor (detached) from a tensor or a ``Conv2d``."""
    if isinstance(weight, nn.Conv2d):
        weight = weight.weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a tensor (C_out, C_in, kH, kW) or an nn.Conv2d, got {type(weight).__name__}")
    if weight.ndim != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, kH, kW), got {tuple(weight.shape)}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must be a float tensor, got dtype {weight.dtype}")
    if weight.numel() == 0:
        raise ValueError(f"weight is empty: shape {tuple(weight.shape)}")
    return weight.detach().float()


def _min_max(values: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Scale ``values`` to [0, 1] by their min and max over ``dims``; constant groups give 0.5."""
    low = values.amin(dim=dims, keepdim=True)
    high = values.amax(dim=dims, keepdim=True)
    span = high - low
    scaled = (values - low) / span.clamp(min=torch.finfo(values.dtype).tiny)
    return torch.where(span > 0, scaled, torch.full_like(values, 0.5))


def tile(tiles: torch.Tensor, ncols: int, *, separator: int = 1, background: float = 1.0) -> torch.Tensor:
    """Lay ``tiles (T, 3, h, w)`` out row-major in ``ncols`` columns -> ``(3, H, W)``.

    Tiles are separated by ``separator`` pixels of ``background`` (none around the border);
    empty cells are background. ``H = ceil(T / ncols) (h + separator) - separator``, likewise ``W``.
    """
    if tiles.ndim != 4 or tiles.shape[1] != 3 or len(tiles) == 0:
        raise ValueError(f"tiles must have shape (T, 3, h, w) with T >= 1, got {tuple(tiles.shape)}")
    count, _, h, w = tiles.shape
    nrows = math.ceil(count / ncols)
    blank = tiles.new_full((nrows * ncols - count, 3, h, w), background)
    tiles = torch.cat([tiles, blank])  # (nrows * ncols, 3, h, w)
    tiles = F.pad(tiles, (0, separator, 0, separator), value=background)  # (R*C, 3, h+s, w+s)
    grid = tiles.view(nrows, ncols, 3, h + separator, w + separator).permute(2, 0, 3, 1, 4)  # (3, R, h+s, C, w+s)
    grid = grid.reshape(3, nrows * (h + separator), ncols * (w + separator))
    return grid[:, : grid.shape[1] - separator, : grid.shape[2] - separator]  # no separator after the last tile


def mosaic(
    weight,
    *,
    normalize: str = "per_filter",
    mode: str = "rgb",
    ncols: int | None = None,
    separator: int = 1,
    background: float = 1.0,
) -> torch.Tensor:
    """A convolution's filters as one displayable image.

    Args:
        weight: ``(C_out, C_in, kH, kW)`` float tensor (any device) or an ``nn.Conv2d``.
        normalize: ``"per_filter"`` (default) min-max scales each filter (all its input channels
            together) to [0, 1], so every filter uses the full range; ``"global"`` uses one
            min and max for the whole weight, so filters keep their relative strength.
            A constant filter (or weight) becomes 0.5 grey.
        mode: ``"rgb"`` (default, needs ``C_in == 3``) shows each filter as one colour tile,
            ``C_out`` tiles in rows of ``ncols``; ``"channels"`` shows each input channel of
            each filter as a grayscale tile, one row per filter (``C_out`` rows of ``C_in`` tiles).
        ncols: tiles per row in ``"rgb"`` mode (default ``ceil(sqrt(C_out))``); in
            ``"channels"`` mode the row length is ``C_in`` and ``ncols`` must stay ``None``.
        separator: width in pixels of the lines between tiles (default 1, ``0`` for none).
        background: grey level of the separators and of empty cells, in [0, 1] (default white).

    Returns:
        ``(3, H, W)`` float tensor in [0, 1] on ``weight``'s device, one pixel per weight:
        ``H = rows * (kH + separator) - separator`` and likewise ``W``.

    Example:
        >>> image = mosaic(model.net.features[0].weight)  # (3, H, W), show with plt.imshow
    """
    weight = _weight_tensor(weight)
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not isinstance(separator, int) or separator < 0:
        raise ValueError(f"separator must be an int >= 0, got {separator!r}")
    if not 0.0 <= background <= 1.0:
        raise ValueError(f"background must be a grey level in [0, 1], got {background!r}")
    count, channels, kh, kw = weight.shape
    dims = (1, 2, 3) if normalize == "per_filter" else (0, 1, 2, 3)
    scaled = _min_max(weight, dims)  # (C_out, C_in, kH, kW) in [0, 1]
    if mode == "rgb":
        if channels != 3:
            raise ValueError(
                f"mode='rgb' needs filters with 3 input channels (a first layer), got C_in={channels}; "
                "use mode='channels' to show each input channel as a grayscale tile"
            )
        if ncols is None:
            ncols = math.ceil(math.sqrt(count))
        if not isinstance(ncols, int) or ncols < 1:
            raise ValueError(f"ncols must be a positive int, got {ncols!r}")
        return tile(scaled, min(ncols, count), separator=separator, background=background)
    if ncols is not None:
        raise ValueError(f"mode='channels' puts one filter per row ({channels} tiles): leave ncols=None")
    tiles = scaled.reshape(count * channels, 1, kh, kw).expand(-1, 3, -1, -1)  # (C_out * C_in, 3, kH, kW)
    return tile(tiles, channels, separator=separator, background=background)


def low_frequency_share(weight, *, cutoff: float = 0.2, size: int = 32, remove_mean: bool = False) -> torch.Tensor:
    """The share of each filter's energy at low spatial frequency.

    The energy spectrum of filter ``o`` is ``E_o(f) = sum_c |DFT(w[o, c])(f)|^2`` (summed over
    input channels); its share below ``cutoff`` is ``sum_{|f| <= cutoff} E_o(f) / sum_f E_o(f)``,
    where ``|f| = sqrt(f_y^2 + f_x^2)`` in cycles per pixel (the Nyquist limit is 0.5). The
    spectrum is sampled on a ``size x size`` grid (the kernel zero-padded, a finer sampling of the
    same spectrum; by Parseval, ``sum_f E_o(f) = size^2 * ||w[o]||^2``). The DC term counts as low
    frequency, so a colour blob is "smooth" as well as an edge; but so is a faint noisy filter
    with a colour offset. ``remove_mean=True`` subtracts each input channel's mean first, so that
    the share measures the filter's *pattern* and not its average colour (a filter whose channels
    are each constant then has no pattern and gets 0).

    Args:
        weight: ``(C_out, C_in, kH, kW)`` float tensor (any device) or an ``nn.Conv2d``.
        cutoff: radius of the low band in cycles per pixel, in (0, 0.5*sqrt(2)] (default 0.2:
            periods longer than 5 pixels).
        size: side of the frequency grid, ``>= max(kH, kW)`` (default 32).
        remove_mean: subtract each filter's per-channel mean before the transform (default False).

    Returns:
        ``(C_out,)`` float tensor in [0, 1] on ``weight``'s device (an all-zero filter gets 0).

    Example:
        >>> share = low_frequency_share(model.net.features[0].weight)
        >>> (share >= 0.7).sum()  # how many filters are mostly smooth
    """
    weight = _weight_tensor(weight)
    if not isinstance(cutoff, (int, float)) or not 0 < cutoff <= 0.5 * math.sqrt(2):
        raise ValueError(f"cutoff must be a frequency in (0, 0.707] cycles per pixel, got {cutoff!r}")
    if not isinstance(size, int) or size < max(weight.shape[-2:]):
        raise ValueError(f"size must be an int >= the kernel size {max(weight.shape[-2:])}, got {size!r}")
    if remove_mean:
        weight = weight - weight.mean((2, 3), keepdim=True)  # (C_out, C_in, kH, kW): the pattern only
    energy = torch.fft.fft2(weight, s=(size, size)).abs().square().sum(1)  # (C_out, size, size)
    freq = torch.fft.fftfreq(size, device=weight.device)  # (size,) cycles per pixel
    low = (freq[:, None].square() + freq[None, :].square()).sqrt() <= cutoff  # (size, size)
    total = energy.sum((1, 2))
    return torch.where(total > 0, (energy * low).sum((1, 2)) / total.clamp(min=torch.finfo(total.dtype).tiny), 0.0)
