import copy

import matplotlib
import pytest
import torch
from torch import nn

from course_utils import activations, hooks, plotting, widgets

matplotlib.use("Agg")


class Tiny(nn.Module):
    """conv -> in-place ReLU -> pool -> conv -> ReLU -> linear; channel 0 of the first conv is
    dead (zero weights, negative bias), channel 1 always on (zero weights, positive bias)."""

    def __init__(self, fail: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 5, 3, padding=1), nn.ReLU())  # fmt: skip
        self.head = nn.Linear(5, 2)
        self.fail = fail
        with torch.no_grad():
            self.features[0].weight[:2] = 0
            self.features[0].bias[:2] = torch.tensor([-1.0, 1.0])

    def forward(self, x):
        x = self.features(x)
        if self.fail:
            raise RuntimeError("forward failed on purpose")
        return self.head(x.mean((2, 3)))


def assert_unchanged(model, training):
    assert model.training is training
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())


def test_default_layers_are_the_rectified_convolutions(shapenet):
    assert activations.default_layers(shapenet) == ["features.1", "features.4", "features.7", "features.9"]
    no_relu = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Tanh(), nn.Conv2d(2, 2, 3), nn.ReLU())
    assert activations.default_layers(no_relu) == ["0", "3"]


def test_feature_maps_match_a_manual_forward(device):
    model = Tiny().to(device).train()
    images = torch.rand(3, 3, 8, 8, device=device)
    maps = activations.feature_maps(model, images, "features.1")
    with torch.no_grad():
        expected = torch.relu(model.features[0](images))
    assert maps.device.type == device.type and maps.shape == (3, 4, 8, 8)
    torch.testing.assert_close(maps, expected)
    assert_unchanged(model, True)


def test_unit_statistics_match_brute_force_counts(device):
    model = Tiny().to(device).train()
    images = torch.rand(7, 3, 8, 8, device=device)
    stats = activations.unit_statistics(model, images, ["features.1", "features.3", "head"], batch_size=3)
    with torch.no_grad():
        first = torch.relu(model.features[0](images))  # (7, 4, 8, 8)
        second = model.features[3](model.features[2](first))  # (7, 5, 4, 4): before its ReLU
        head = model.head(torch.relu(second).mean((2, 3)))[:, :, None, None]  # (7, 2, 1, 1)
    for name, full in (("features.1", first), ("features.3", second), ("head", head)):
        s, full = stats[name], full.cpu()
        channels = full.shape[1]
        for c in range(channels):  # one channel at a time, all images and positions
            values = full[:, c]
            assert s.active_fraction[c].item() == pytest.approx((values > 0).float().mean().item())
            assert s.image_fraction[c].item() == pytest.approx((values.flatten(1) > 0).any(1).float().mean().item())
            assert s.mean[c].item() == pytest.approx(values.mean().item(), abs=1e-6)
            assert s.max[c].item() == pytest.approx(values.max().item())
            assert bool(s.dead[c]) == bool((values <= 0).all()) and bool(s.always_on[c]) == bool((values > 0).all())
    assert stats["features.1"].dead[:2].tolist() == [True, False]
    assert stats["features.1"].always_on[:2].tolist() == [False, True]
    single = activations.unit_statistics(model, images, "features.1", threshold=0.5)
    assert isinstance(single, activations.UnitStatistics)
    assert single.always_on[1] and single.active_fraction[1] == 1  # bias 1 > 0.5 everywhere
    assert_unchanged(model, True)


def test_unit_statistics_errors():
    model = Tiny()
    with pytest.raises(KeyError, match="valid layer names"):
        activations.unit_statistics(model, torch.rand(2, 3, 8, 8), "features.7")
    with pytest.raises(TypeError, match="float"):
        activations.unit_statistics(model, torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "features.1")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        activations.unit_statistics(model, torch.full((2, 3, 8, 8), 2.0), "features.1")
    with pytest.raises(ValueError, match="batch_size"):
        activations.unit_statistics(model, torch.rand(2, 3, 8, 8), "features.1", batch_size=0)
    assert hooks.count_hooks(model) == 0


def test_hooks_are_removed_when_the_forward_pass_raises(shapenet):
    model = Tiny(fail=True).train()
    images = torch.rand(2, 3, 8, 8)
    for call in (
        lambda: activations.feature_maps(model, images, "features.1"),
        lambda: activations.unit_statistics(model, images, ["features.1", "features.4"]),
        lambda: plotting.show_activations(model, images[0], "features.1"),
        lambda: widgets.activation_explorer(model, images, layers=["features.1"]),
    ):
        with pytest.raises(RuntimeError, match="on purpose"):
            call()
        assert_unchanged(model, True)


def test_show_activations_figure_and_errors(shapenet, shapes):
    batch = shapes
    fig = plotting.show_activations(shapenet, batch.images[0], "features.9", dataset=batch.images[:16], k=4,
                                    mask=batch.masks[0], label="conv4 (features.9)")
    assert len(fig.axes) == 3 + 4 + 1  # input, grid, overlay, 4 patches, the overlay's colourbar
    assert fig.axes[1].get_title().startswith("conv4 (features.9): all 128 channels") and fig.axes[-1].get_ylabel() == "activation"
    maps = hooks.activations(shapenet, batch.images[:16], "features.9")["features.9"]  # (16, 128, 8, 8)
    strongest = int(maps[0].flatten(1).amax(1).argmax())
    assert f"channel {strongest} over the image" in fig.axes[2].get_title()
    brute = maps[:, strongest].flatten(1).amax(1).topk(4).values  # the patches shown: top-4 images' peaks
    assert [ax.get_title() for ax in fig.axes[3:7]] == [f"{v:.2f}" for v in brute.tolist()]
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match=r"channel must be an int in \[0, 127\]"):
        plotting.show_activations(shapenet, batch.images[0], "features.9", channel=128)
    with pytest.raises(ValueError, match="spatial maps"):
        plotting.show_activations(shapenet, batch.images[0], "classifier.5")
    with pytest.raises(ValueError, match="one image"):
        plotting.show_activations(shapenet, batch.images[:2], "features.9")
    stats = activations.unit_statistics(shapenet, batch.images, ["features.1", "classifier.2"])
    matplotlib.pyplot.close(plotting.show_unit_statistics(stats))
    assert_unchanged(shapenet, False)


def test_activation_explorer_pickers_redraw(shapenet, shapes):
    batch = shapes
    model = copy.deepcopy(shapenet)
    explorer = widgets.activation_explorer(model, batch.images[:3], dataset=batch.images[:20], k=4, captions=["a", "b", "c"])
    first = explorer.view.value
    assert first[:4] == b"\x89PNG" and "features.1" in explorer.status.value
    assert explorer.layer_picker.options == tuple(activations.default_layers(model))
    assert explorer.channel_picker.max == 47
    explorer.layer_picker.value = "features.9"
    assert explorer.channel_picker.max == 127 and explorer.view.value != first
    second = explorer.view.value
    explorer.channel_picker.value = (explorer.channel_picker.value + 1) % 128
    assert explorer.view.value != second and f"channel {explorer.channel_picker.value} of 128" in explorer.status.value
    third = explorer.view.value
    explorer.image_picker.value = 2
    assert explorer.view.value != third
    assert_unchanged(model, False)
    with pytest.raises(KeyError, match="valid layer names"):
        widgets.activation_explorer(model, batch.images[:2], layers=["features.99"])
    with pytest.raises(ValueError, match="2 captions for 3 images"):
        widgets.activation_explorer(model, batch.images[:3], captions=["a", "b"])


def test_activation_grid_per_channel_contrast():
    maps = torch.zeros(3, 2, 2)
    maps[0, 0, 0], maps[1, 1, 1] = 10.0, 0.1  # a strong and a weak channel; channel 2 silent
    shared, _ = plotting.activation_grid(maps, ncols=3, separator=0)
    own, _ = plotting.activation_grid(maps, ncols=3, separator=0, per_channel=True)
    assert shared[0, 1, 3] == pytest.approx(0.01) and own[0, 1, 3] == pytest.approx(1.0)  # the weak map's peak
    assert own[0, 0, 0] == 1.0 and own[:, :, 4:].max() == 0.0  # strong peak white, the silent map black


def test_layer_labels_number_weight_layers_by_depth(shapenet):
    labels = activations.layer_labels(shapenet, ["features.1", "features.9", "classifier.2", "classifier.5", "features"])
    assert labels == {"features.1": "conv1 (features.1)", "features.9": "conv4 (features.9)",
                      "classifier.2": "fc5 (classifier.2)", "classifier.5": "fc6 (classifier.5)", "features": "features"}
    with pytest.raises(KeyError, match="valid layer names"):
        activations.layer_labels(shapenet, ["features.99"])


def test_padding_bands_against_a_hand_made_border(shapenet, shapes):
    """A zero-padded convolution of a constant image responds differently at the border only: with the
    reflected surround the maps are constant, and they match the maps computed on the padded image by hand."""
    model = copy.deepcopy(shapenet)
    images = shapes.images[:2]
    bands = activations.padding_bands(model, images, "features.1", pad=16)
    assert bands.zero.shape == bands.reflected.shape == (2, 48, 32, 32) and bands.banded_zero.shape == (2, 48)
    torch.testing.assert_close(bands.zero, activations.feature_maps(model, images, "features.1").cpu())
    big = torch.nn.functional.pad(images, (16,) * 4, mode="reflect")
    torch.testing.assert_close(bands.reflected, activations.feature_maps(model, big, "features.1").cpu()[..., 8:-8, 8:-8])
    flat = torch.full((1, 3, 64, 64), 0.2)  # no edge anywhere in the picture
    constant = activations.padding_bands(model, flat, "features.1", pad=16).reflected
    assert torch.allclose(constant, constant[..., :1, :1].expand_as(constant), atol=1e-5)
    with pytest.raises(ValueError, match="multiple of the layer's stride"):
        activations.padding_bands(model, images, "features.1", pad=3)
    assert_unchanged(model, False)
