"""Input gradients, saliency, SmoothGrad, neuron gradients and Grad-CAM (lecture 07)."""
import pytest
import torch
from torch import nn

from course_utils import attribution, hooks
from course_utils.data import make_shapes
from course_utils.evaluation import pointing_game


class Small(nn.Module):
    """A random little classifier: conv, in-place ReLU, max-pool, conv, ReLU, linear; with class names."""

    def __init__(self, seed: int, classes: int = 5, activation=None):
        super().__init__()
        torch.manual_seed(seed)
        act = activation or (lambda: nn.ReLU(inplace=True))
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), act(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1), act()
        )
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(8 * 4 * 4, classes)
        self.classes = [f"class {i}" for i in range(classes)]

    def forward(self, x):
        return self.fc(self.dropout(torch.flatten(self.features(x), 1)))


def _assert_untouched(model, training=True):
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saliency_equals_captum_max_over_channels(device, seed):
    from captum.attr import Saliency

    model = Small(seed).to(device)
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(seed)).to(device)
    target = torch.tensor([0, 3, 1, 4], device=device)
    ours = attribution.saliency(model, images, target)
    model.eval()
    expected = Saliency(model).attribute(images.clone().requires_grad_(True), target=target, abs=True).amax(1)
    assert ours.shape == (4, 8, 8) and ours.device.type == device.type
    torch.testing.assert_close(ours, expected)
    assert (ours > 0).any()


def test_input_gradient_matches_finite_differences():
    model = Small(3, activation=nn.Tanh).double()  # smooth: central differences are accurate
    images = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    target = [2, "class 4"]
    grad = attribution.input_gradient(model, images, target)
    assert grad.shape == images.shape and grad.dtype == torch.float64
    model.eval()
    directions = torch.randn(6, 2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    step = 1e-6
    with torch.no_grad():
        for v in directions:
            score = lambda x: model(x)[[0, 1], [2, 4]]  # noqa: E731
            numeric = (score(images + step * v) - score(images - step * v)) / (2 * step)  # (2,)
            torch.testing.assert_close((grad * v).sum((1, 2, 3)), numeric, rtol=1e-6, atol=1e-8)


def test_input_gradient_is_one_batched_pass_per_image_independent(device):
    model = Small(4).to(device)
    images = torch.rand(3, 3, 8, 8, device=device)
    batch = attribution.input_gradient(model, images, [1, 2, 0])
    alone = torch.cat([attribution.input_gradient(model, images[i : i + 1], t) for i, t in enumerate([1, 2, 0])])
    torch.testing.assert_close(batch, alone)


@pytest.mark.parametrize("unit", [3, (5, 1, 2)])
def test_neuron_gradient_equals_autograd_of_the_unit(device, unit):
    model = Small(5).to(device)
    images = torch.rand(2, 3, 8, 8, device=device)
    grad = attribution.neuron_gradient(model, images, "features.3", unit)
    model.eval()
    x = images.clone().requires_grad_(True)
    out = model.features[:4](x)  # (N, 8, 4, 4): the conv output, before its ReLU
    value = out[:, unit].sum() if isinstance(unit, int) else out[:, unit[0], unit[1], unit[2]].sum()
    (expected,) = torch.autograd.grad(value, x)
    torch.testing.assert_close(grad, expected)
    assert grad.abs().sum() > 0
    _assert_untouched(model, training=False)


def test_neuron_gradient_of_a_fully_connected_unit_and_inplace_relu_layer():
    model = Small(6)
    images = torch.rand(2, 3, 8, 8)
    grad = attribution.neuron_gradient(model, images, "fc", 2)
    torch.testing.assert_close(grad, attribution.input_gradient(model, images, 2))
    relu = attribution.neuron_gradient(model, images, "features.4", (1, 0, 3))  # an in-place ReLU's output
    model.eval()
    x = images.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(model.features(x)[:, 1, 0, 3].sum(), x)
    torch.testing.assert_close(relu, expected)
    _assert_untouched(model, training=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_grad_cam_equals_captum_layer_gradcam(device, seed):
    from captum.attr import LayerAttribution, LayerGradCam

    model = Small(seed).to(device)
    images = torch.rand(3, 3, 8, 8, device=device)
    target = torch.tensor([1, 0, 2], device=device)
    ours = attribution.grad_cam(model, images, target, layer="features.3")
    model.eval()
    coarse = LayerGradCam(model, model.features[3]).attribute(images, target=target, relu_attributions=True)
    expected = LayerAttribution.interpolate(coarse, (8, 8), interpolate_mode="bilinear")[:, 0]
    assert ours.shape == (3, 8, 8)
    torch.testing.assert_close(ours, expected)


def test_grad_cam_default_layer_by_hand(shapenet):
    images = make_shapes(3, seed=11).images
    cam = attribution.grad_cam(shapenet, images, "ring")
    net, ring = shapenet.net, shapenet.classes.index("ring")
    assert shapenet.roles["last_conv"] == "features.9"
    with torch.enable_grad():
        maps = net.features[:10](shapenet.normalize(images)).detach().requires_grad_(True)  # (N, 128, 8, 8)
        scores = net.classifier(torch.flatten(net.avgpool(net.features[10](maps)), 1))
        (grad,) = torch.autograd.grad(scores[:, ring].sum(), maps)
    coarse = torch.relu((grad.mean((2, 3), keepdim=True) * maps.detach()).sum(1, keepdim=True))
    expected = torch.nn.functional.interpolate(coarse, (64, 64), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(cam, expected)
    assert (cam >= 0).all() and cam.amax() > 0


def test_smoothgrad_is_the_mean_of_noisy_saliency_maps(device):
    model = Small(7).to(device)
    images = torch.rand(3, 3, 8, 8, device=device)
    target = [0, 1, 2]
    smooth = attribution.saliency(model, images, target, smoothgrad=5, noise=0.2, seed=3, batch_size=6)
    assert smooth.shape == (3, 8, 8)
    # The same noise drawn by hand: one (N, 3, H, W) draw per sample, in order.
    generator = torch.Generator(device=device).manual_seed(3)
    sigma = 0.2 * (images.amax((1, 2, 3), keepdim=True) - images.amin((1, 2, 3), keepdim=True))
    model.eval()
    maps = []
    for _ in range(5):
        x = (images + torch.randn(images.shape, generator=generator, device=device) * sigma).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x)[[0, 1, 2], [0, 1, 2]].sum(), x)
        maps.append(grad.abs().amax(1))
    torch.testing.assert_close(smooth, torch.stack(maps).mean(0))
    model.train()
    other_chunks = attribution.saliency(model, images, target, smoothgrad=5, noise=0.2, seed=3, batch_size=1)
    torch.testing.assert_close(other_chunks, smooth)
    without_noise = attribution.saliency(model, images, target, smoothgrad=3, noise=0.0)
    torch.testing.assert_close(without_noise, attribution.saliency(model, images, target))
    _assert_untouched(model)


def test_model_is_unchanged_and_caller_tensors_untouched():
    model = Small(8).train()
    model.fc.weight.requires_grad_(False)
    images = torch.rand(2, 3, 8, 8).requires_grad_(True)
    before = images.detach().clone()
    attribution.saliency(model, images, 1)
    attribution.saliency(model, images, 1, smoothgrad=2)
    attribution.neuron_gradient(model, images, "features.0", 1)
    attribution.grad_cam(model, images, 1, layer="features.3")
    assert model.training and all(m.training for m in model.modules())
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert not model.fc.weight.requires_grad and model.fc.bias.requires_grad
    assert images.grad is None and torch.equal(images.detach(), before)
    with pytest.raises(ValueError, match="channel 99"):  # an error in the middle of the work
        attribution.neuron_gradient(model, images.detach(), "features.3", 99)
    assert model.training and hooks.count_hooks(model) == 0


def test_targets_and_their_errors():
    model = Small(9)
    assert attribution.resolve_targets(model, "class 2", 3, "cpu").tolist() == [2, 2, 2]
    assert attribution.resolve_targets(model, [1, "class 0"], 2, "cpu").tolist() == [1, 0]
    assert attribution.resolve_targets(model, torch.tensor(4), 2, "cpu").tolist() == [4, 4]
    with pytest.raises(ValueError, match="close matches: 'class 1'"):
        attribution.resolve_targets(model, "clas 1", 1, "cpu")
    with pytest.raises(ValueError, match="2 targets for 3 images"):
        attribution.resolve_targets(model, [0, 1], 3, "cpu")
    with pytest.raises(ValueError, match="out of range; valid indices are 0..4"):
        attribution.resolve_targets(model, 5, 1, "cpu")
    with pytest.raises(TypeError):
        attribution.resolve_targets(model, 1.5, 1, "cpu")
    plain = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    with pytest.raises(ValueError, match="no class names"):
        attribution.saliency(plain, torch.rand(1, 3, 4, 4), "cat")
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        attribution.saliency(plain, torch.rand(1, 3, 4, 4), 7)


def test_argument_errors():
    model = Small(10)
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        attribution.saliency(model, images[0, 0], 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attribution.input_gradient(model, images * 3, 0)
    with pytest.raises(ValueError, match="smoothgrad"):
        attribution.saliency(model, images, 0, smoothgrad=-1)
    with pytest.raises(ValueError, match="batch_size"):
        attribution.saliency(model, images, 0, smoothgrad=2, batch_size=0)
    with pytest.raises(KeyError, match="valid layer names"):
        attribution.neuron_gradient(model, images, "features.7", 0)
    with pytest.raises(ValueError, match="outside"):
        attribution.neuron_gradient(model, images, "features.3", (0, 4, 0))
    with pytest.raises(ValueError, match=r"\(channel, y, x\)"):
        attribution.neuron_gradient(model, images, "features.3", (0, 1))
    with pytest.raises(ValueError, match="last_conv"):
        attribution.grad_cam(model, images, 0)
    with pytest.raises(ValueError, match="convolutional layer"):
        attribution.grad_cam(model, images, 0, layer="fc")
    assert hooks.count_hooks(model) == 0


def test_vanilla_gradient_points_at_the_object(shapenet):
    batch = make_shapes(160, seed=2024)  # fresh images, not the training set
    with torch.no_grad():
        correct = shapenet(batch.images).argmax(1) == batch.labels
    maps = attribution.saliency(shapenet, batch.images[correct], batch.labels[correct])
    near = pointing_game(maps, batch.masks[correct], tolerance=2)
    strict = pointing_game(maps, batch.masks[correct])
    assert near.hits.float().mean() >= 0.75, near.hits.float().mean()
    assert strict.hits.float().mean() > 2 * strict.chance.mean()  # far above chance
