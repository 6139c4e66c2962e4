import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from course_utils import filters, plotting

matplotlib.use("Agg")


def naive_mosaic(weight, normalize, mode, ncols, separator=1, background=1.0):
    """Tile by tile with Python loops: the independent reference for ``filters.mosaic``."""
    w = weight.detach().double().cpu().numpy()
    count, channels, k, _ = w.shape
    if normalize == "global":
        w = (w - w.min()) / (w.max() - w.min())
    else:
        w = np.stack([(f - f.min()) / (f.max() - f.min()) for f in w])
    tiles = [f.transpose(1, 2, 0) for f in w] if mode == "rgb" else [np.repeat(c[..., None], 3, 2) for f in w for c in f]
    cols = ncols if mode == "rgb" else channels
    rows = math.ceil(len(tiles) / cols)
    step = k + separator
    out = np.full((rows * step - separator, cols * step - separator, 3), background)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, cols)
        out[r * step : r * step + k, c * step : c * step + k] = tile
    return torch.from_numpy(out).permute(2, 0, 1).float()


@pytest.mark.parametrize("normalize", ["per_filter", "global"])
def test_rgb_mosaic_matches_tile_by_tile_reference(device, normalize):
    weight = torch.randn(7, 3, 5, 5, device=device)
    image = filters.mosaic(weight, normalize=normalize, ncols=3)
    assert image.device.type == device.type and image.shape == (3, 3 * 6 - 1, 3 * 6 - 1)
    assert 0 <= image.min() and image.max() <= 1
    torch.testing.assert_close(image.cpu(), naive_mosaic(weight, normalize, "rgb", 3), atol=1e-6, rtol=0)


@pytest.mark.parametrize("normalize", ["per_filter", "global"])
def test_channels_mosaic_has_one_grayscale_row_per_filter(device, normalize):
    weight = torch.randn(4, 6, 3, 3, device=device)
    image = filters.mosaic(weight, normalize=normalize, mode="channels", separator=2, background=0.0)
    assert image.shape == (3, 4 * 5 - 2, 6 * 5 - 2)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    torch.testing.assert_close(image.cpu(), naive_mosaic(weight, normalize, "channels", None, 2, 0.0), atol=1e-6, rtol=0)


def test_normalizations_differ_as_documented():
    weight = torch.randn(2, 3, 4, 4)
    weight[1] *= 0.01  # a weak filter
    per_filter = filters.mosaic(weight, ncols=2, separator=0)
    global_ = filters.mosaic(weight, ncols=2, normalize="global", separator=0)
    weak = (slice(None), slice(0, 4), slice(4, 8))
    assert per_filter[weak].min() == 0 and per_filter[weak].max() == 1  # full range for every filter
    assert global_[weak].max() - global_[weak].min() < 0.05  # the weak filter stays near mid-grey
    assert filters.mosaic(torch.zeros(2, 3, 3, 3)).unique().tolist() == [0.5, 1.0]  # constant: grey, separators white


def test_mosaic_accepts_a_conv_layer_and_defaults_to_a_square_grid():
    conv = nn.Conv2d(3, 10, 5)
    image = filters.mosaic(conv)
    assert image.shape == (3, 3 * 6 - 1, 4 * 6 - 1)  # ceil(sqrt(10)) = 4 columns, 3 rows
    assert conv.weight.grad is None and image.requires_grad is False


def test_mosaic_errors():
    with pytest.raises(ValueError, match="mode='channels'"):
        filters.mosaic(torch.randn(4, 8, 3, 3))
    with pytest.raises(ValueError, match="normalize must be one of"):
        filters.mosaic(torch.randn(4, 3, 3, 3), normalize="max")
    with pytest.raises(ValueError, match="mode must be one of"):
        filters.mosaic(torch.randn(4, 3, 3, 3), mode="gray")
    with pytest.raises(ValueError, match="leave ncols=None"):
        filters.mosaic(torch.randn(4, 3, 3, 3), mode="channels", ncols=2)
    with pytest.raises(ValueError, match="ncols must be a positive int"):
        filters.mosaic(torch.randn(4, 3, 3, 3), ncols=0)
    with pytest.raises(ValueError, match=r"shape \(C_out, C_in, kH, kW\)"):
        filters.mosaic(torch.randn(3, 3, 3))
    with pytest.raises(TypeError, match="float tensor"):
        filters.mosaic(torch.ones(4, 3, 3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="nn.Conv2d"):
        filters.mosaic(np.zeros((4, 3, 3, 3)))


def naive_low_frequency_share(weight, cutoff, size):
    """Direct DFT sum over kernel positions (NumPy, no FFT)."""
    w = weight.double().cpu().numpy()
    k = w.shape[-1]
    freqs = np.fft.fftfreq(size)
    basis = np.exp(-2j * np.pi * np.outer(freqs, np.arange(k)))  # (size, k)
    spectrum = np.einsum("uy,ocyx,vx->ocuv", basis, w, basis)  # (C_out, C_in, size, size)
    energy = (np.abs(spectrum) ** 2).sum(1)
    low = np.hypot(freqs[:, None], freqs[None, :]) <= cutoff
    return torch.from_numpy((energy * low).sum((1, 2)) / energy.sum((1, 2))).float()


@pytest.mark.parametrize("cutoff, size", [(0.2, 32), (0.1, 16), (0.3, 7)])
def test_low_frequency_share_matches_direct_dft(device, cutoff, size):
    weight = torch.randn(6, 3, 7, 7, device=device)
    share = filters.low_frequency_share(weight, cutoff=cutoff, size=size)
    assert share.shape == (6,) and share.device.type == device.type
    torch.testing.assert_close(share.cpu(), naive_low_frequency_share(weight, cutoff, size), atol=1e-5, rtol=0)


def test_low_frequency_share_of_known_patterns():
    y, x = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    constant = torch.ones(8, 8)
    checkerboard = (-1.0) ** (y + x)  # Nyquist frequency in both directions
    cosine = torch.cos(2 * math.pi * 0.25 * x)  # 0.25 cycles/pixel, exactly on the 8-point grid
    weight = torch.stack([constant, checkerboard, cosine, torch.zeros(8, 8)])[:, None].expand(-1, 3, -1, -1)
    torch.testing.assert_close(filters.low_frequency_share(weight, cutoff=0.2, size=8), torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(filters.low_frequency_share(weight, cutoff=0.3, size=8), torch.tensor([1.0, 0.0, 1.0, 0.0]))


def test_low_frequency_share_of_the_pattern_removes_each_channel_mean(device):
    weight = torch.randn(5, 3, 7, 7, device=device)
    expected = naive_low_frequency_share(weight - weight.mean((2, 3), keepdim=True), 0.2, 32)
    share = filters.low_frequency_share(weight, remove_mean=True)
    torch.testing.assert_close(share.cpu(), expected, atol=1e-5, rtol=0)
    offset = torch.full((1, 3, 7, 7), 0.0, device=device) + torch.tensor([1.0, -1.0, 0.5], device=device)[:, None, None]
    noisy = offset + 0.01 * torch.randn(1, 3, 7, 7, device=device)  # a faint noise on a colour offset
    assert filters.low_frequency_share(noisy) > 0.8  # the mean counts as smooth (a padded box leaks a little)
    assert filters.low_frequency_share(noisy, remove_mean=True) < 0.5  # the pattern is noise
    assert filters.low_frequency_share(offset, remove_mean=True).item() == 0.0  # no pattern at all


def test_low_frequency_share_errors():
    with pytest.raises(ValueError, match="cutoff"):
        filters.low_frequency_share(torch.randn(2, 3, 5, 5), cutoff=0)
    with pytest.raises(ValueError, match="size must be an int >= the kernel size 5"):
        filters.low_frequency_share(torch.randn(2, 3, 5, 5), size=4)


def test_shapenet_first_layer_is_mostly_smooth(shapenet):
    weight = shapenet.net.get_submodule(shapenet.roles["first_conv"]).weight
    share = filters.low_frequency_share(weight)
    smooth = int((share >= 0.7).sum())
    assert len(weight) // 2 < smooth < len(weight), f"{smooth} of {len(weight)} smooth filters"
    assert weight.grad is None


def test_filter_figures(shapenet):
    first = shapenet.net.get_submodule(shapenet.roles["first_conv"])
    second = shapenet.net.get_submodule(shapenet.roles["conv_layers"][1])
    for fig in (
        plotting.show_mosaic(first, title="conv1"),
        plotting.compare_normalizations(first.weight),
        plotting.compare_normalizations(second.weight[:8], mode="channels"),
        plotting.show_frequency_content(first.weight),
        plotting.show_frequency_content(first.weight, remove_mean=True),
        plotting.show_trained_and_random(first.weight, torch.randn_like(first.weight), remove_mean=True),
    ):
        assert fig.axes
        matplotlib.pyplot.close(fig)


def test_tile_lays_out_row_major_and_checks_its_input(device):
    tiles = torch.arange(5, dtype=torch.float32, device=device).view(5, 1, 1, 1).expand(-1, 3, 2, 2) / 10
    grid = filters.tile(tiles, 2, separator=1, background=0.9)
    assert grid.shape == (3, 3 * 3 - 1, 2 * 3 - 1) and grid.device.type == device.type
    assert grid[0, 6, 0] == pytest.approx(0.4) and grid[0, 6, 3] == pytest.approx(0.9)  # tile 4, then an empty cell
    assert grid[0, 3, 3] == pytest.approx(0.3) and grid[0, 2, 0] == pytest.approx(0.9)  # tile 3, a separator row
    with pytest.raises(ValueError, match=r"\(T, 3, h, w\)"):
        filters.tile(torch.zeros(2, 1, 3, 3), 2)
