"""Deconvnet and guided backprop (lecture 08): the ReLU rules, the context manager, the maps.

Independent references: Captum's ``GuidedBackprop`` and ``Deconvolution`` (module backward hooks),
a hand-computed example of the three rules, plain autograd for the ``backprop`` rule, and the same
weights written with ``nn.ReLU`` modules for a model that calls ReLU functions in ``forward``.
"""
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import attribution, hooks
from course_utils.attribution import relu_rules

captum_attr = pytest.importorskip("captum.attr")

CAPTUM = {"guided": captum_attr.GuidedBackprop, "deconvnet": captum_attr.Deconvolution}
OURS = {"guided": attribution.guided_backprop, "deconvnet": attribution.deconvnet}


def small_net(seed: int, inplace: bool, classes: int = 5) -> nn.Sequential:
    """conv-ReLU-pool-conv-ReLU-linear with random weights (negative biases: many dead units)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3), nn.ReLU(inplace), nn.Flatten(),
        nn.Linear(8 * 4 * 4, 16), nn.ReLU(inplace), nn.Linear(16, classes),
    )  # fmt: skip
    for module in net:
        if hasattr(module, "bias"):
            nn.init.uniform_(module.bias, -0.2, 0.1)
    return net.eval()


class FunctionalNet(nn.Module):
    """The layers of :func:`small_net` without ReLU modules: every ReLU spelling inside ``forward``."""

    def __init__(self, net: nn.Sequential):
        super().__init__()
        self.conv1, self.pool, self.conv2, self.fc1, self.fc2 = net[0], net[2], net[3], net[6], net[8]

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x), inplace=True))
        x = torch.relu(self.conv2(x))
        x = self.fc1(x.flatten(1))
        return self.fc2(x.relu() if x.shape[1] % 2 else torch.relu_(x))


def captum(rule, model, images, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum warns that it sets hooks and requires_grad
        return CAPTUM[rule](model).attribute(images, target=target)


def assert_untouched(model, training=False):
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert all(m.training == training for m in model.modules())


def assert_restored():
    assert torch.relu is torch._C._VariableFunctions.relu and torch.relu_ is torch._C._VariableFunctions.relu_
    assert F.relu is relu_rules._FUNCTIONAL_RELU and F.relu_ is torch._C._VariableFunctions.relu_
    assert "relu" not in vars(torch.Tensor) and "relu_" not in vars(torch.Tensor)
    assert relu_rules._patch_users == 0 and not relu_rules._stack()


# --- the three rules ---------------------------------------------------------------------------
# Springenberg et al. 2015, Fig. 1, with our own numbers: a 3x3 input, the gradient arriving at
# the ReLU's output, and what each rule passes back (computed by hand).
FORWARD = torch.tensor([[1.0, -1.0, 5.0], [2.0, -5.0, -7.0], [-3.0, 2.0, 4.0]])
INCOMING = torch.tensor([[-2.0, 3.0, -1.0], [6.0, -3.0, 1.0], [2.0, -1.0, 3.0]])
EXPECTED = {
    "backprop": torch.tensor([[-2.0, 0.0, -1.0], [6.0, 0.0, 0.0], [0.0, -1.0, 3.0]]),
    "deconvnet": torch.tensor([[0.0, 3.0, 0.0], [6.0, 0.0, 1.0], [2.0, 0.0, 3.0]]),
    "guided": torch.tensor([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 3.0]]),
}


@pytest.mark.parametrize("rule", list(EXPECTED))
@pytest.mark.parametrize("inplace", [False, True])
def test_hand_computed_rules(rule, inplace, device):
    x = FORWARD.to(device).requires_grad_(True)
    output = relu_rules.RELU_RULES[rule].apply(x.clone(), inplace)  # clone: in place on a non-leaf
    assert torch.equal(output, FORWARD.to(device).clamp(min=0))
    (grad,) = torch.autograd.grad(output, x, INCOMING.to(device))
    assert torch.equal(grad.cpu(), EXPECTED[rule])
    # The same through the context manager, on a module that calls F.relu.
    module = nn.Sequential(nn.Identity(), nn.ReLU(inplace))
    with attribution.relu_backward(module, rule):
        output = module(x * 1.0)
    (grad,) = torch.autograd.grad(output, x, INCOMING.to(device))
    assert torch.equal(grad.cpu(), EXPECTED[rule])
    assert_restored()


def test_backprop_rule_is_the_true_gradient(device):
    net = small_net(3, inplace=True).to(device)
    images = torch.rand(3, 3, 12, 12, device=device, requires_grad=True)
    (expected,) = torch.autograd.grad(net(images)[:, 2].sum(), images)
    with attribution.relu_backward(net, "backprop"):
        (grad,) = torch.autograd.grad(net(images)[:, 2].sum(), images)
    assert torch.allclose(grad, expected, atol=1e-6)
    assert_restored()


# --- equal to Captum ------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_captum(rule, seed, device):
    reference = small_net(seed, inplace=False).to(device)
    inplace = small_net(seed, inplace=True).to(device)
    images = torch.rand(4, 3, 12, 12, device=device)
    target = torch.tensor([0, 1, 4, 2], device=device)
    expected = captum(rule, reference, images, target)
    assert expected.abs().sum() > 0  # not a vacuous comparison
    for net in (reference, inplace):
        result = OURS[rule](net, images, target)
        assert result.shape == images.shape and result.device == images.device
        assert torch.allclose(result, expected, atol=1e-6, rtol=1e-5)
        assert_untouched(net)
    assert_restored()


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_rules_differ_from_each_other_and_from_the_gradient(rule):
    net = small_net(0, inplace=True)
    images = torch.rand(4, 3, 12, 12)
    x = images.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(net(x)[:, 1].sum(), x)
    result = OURS[rule](net, images, 1)
    other = OURS["deconvnet" if rule == "guided" else "guided"](net, images, 1)
    assert not torch.allclose(result, gradient, atol=1e-4) and not torch.allclose(result, other, atol=1e-4)


def test_shapenet_equal_to_captum_with_class_names(shapenet, shapes):
    images, labels = shapes.images[:6], shapes.labels[:6]
    names = [shapenet.classes[int(label)] for label in labels]
    for rule in ("guided", "deconvnet"):
        expected = captum(rule, shapenet, images, labels)
        assert torch.allclose(OURS[rule](shapenet, images, names), expected, atol=1e-6, rtol=1e-4)
    single = attribution.guided_backprop(shapenet, images[:2], shapenet.classes[3])
    assert torch.allclose(single, attribution.guided_backprop(shapenet, images[:2], 3))
    assert_untouched(shapenet)


# --- functional ReLUs in forward ---------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
@pytest.mark.parametrize("classes", [5, 6])  # 5: x.relu(), 6: torch.relu_(x) on the last hidden layer
def test_functional_relu_equals_relu_modules(rule, classes, device):
    modules = small_net(2, inplace=False, classes=classes).to(device)
    functional = FunctionalNet(modules).eval()
    images = torch.rand(3, 3, 12, 12, device=device)
    expected = OURS[rule](modules, images, 1)
    assert torch.allclose(expected, captum(rule, modules, images, 1), atol=1e-6)
    assert torch.allclose(OURS[rule](functional, images, 1), expected, atol=1e-6)
    assert_untouched(functional)
    assert_restored()


def test_rule_applies_only_to_the_model_and_thread_of_the_block():
    net, other = small_net(0, inplace=True), small_net(1, inplace=True)
    x = torch.rand(2, 3, 12, 12, requires_grad=True)
    seen = {}
    with attribution.relu_backward(net, "guided"):
        thread = threading.Thread(target=lambda: seen.update(thread=net[:2](x).grad_fn))
        thread.start()
        thread.join()
        seen["other"] = other[:2](x).grad_fn
        seen["net"] = net[:2](x).grad_fn
        seen["outside"] = torch.relu(x).grad_fn  # not inside a module of net
    assert type(seen["net"]).__name__ == "GuidedReLUBackward"
    assert all(type(seen[key]).__name__ == "ReluBackward0" for key in ("thread", "other", "outside"))
    assert_restored()


def test_nested_blocks_innermost_wins():
    net = small_net(0, inplace=False)
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    with attribution.relu_backward(net, "deconvnet"):
        with attribution.relu_backward(net, "guided"):
            inner = net[:2](x).grad_fn
        outer = net[:2](x).grad_fn
    assert type(inner).__name__ == "GuidedReLUBackward" and type(outer).__name__ == "DeconvnetReLUBackward"
    assert_restored()


# --- arbitrary neurons ----------------------------------------------------------------------------
class ChannelSum(nn.Module):
    def forward(self, x):
        return x.sum((2, 3))  # (N, C, H, W) -> (N, C)


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_unit_of_a_layer_equals_captum_on_the_truncated_net(rule, device):
    net = small_net(4, inplace=True).to(device)
    images = torch.rand(3, 3, 12, 12, device=device)
    truncated = small_net(4, inplace=False).to(device)[:4]  # up to the second conv, (N, 8, 4, 4)
    expected = captum(rule, truncated, images, (5, 1, 2))
    assert expected.abs().sum() > 0
    assert torch.allclose(OURS[rule](net, images, layer="3", unit=(5, 1, 2)), expected, atol=1e-6)
    # A whole channel: the gradient seeded with ones on every position of the channel.
    channel = captum(rule, nn.Sequential(truncated, ChannelSum()), images, 5)
    assert torch.allclose(OURS[rule](net, images, layer="3", unit=5), channel, atol=1e-6)
    # A unit of a fully connected layer.
    fc = small_net(4, inplace=False).to(device)[:7]
    assert torch.allclose(OURS[rule](net, images, layer="6", unit=7), captum(rule, fc, images, 7), atol=1e-6)
    assert_untouched(net)
    assert_restored()


# --- the model is never changed, also after an exception ---------------------------------------------
def test_model_unchanged_and_training_mode_restored():
    net = small_net(6, inplace=True)
    net.insert(6, nn.Dropout(0.5))  # would make the map random in training mode
    net.train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    images = torch.rand(2, 3, 12, 12)
    first = attribution.guided_backprop(net, images, 0)
    assert torch.equal(first, attribution.guided_backprop(net, images, 0))  # eval mode inside
    assert_untouched(net, training=True)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert_restored()


def test_everything_restored_after_an_exception():
    net = small_net(0, inplace=True)
    with pytest.raises(RuntimeError, match="boom"):
        with attribution.relu_backward(net, "guided"):
            assert "relu" in vars(torch.Tensor) and F.relu is not relu_rules._FUNCTIONAL_RELU
            net(torch.rand(1, 3, 12, 12, requires_grad=True))
            raise RuntimeError("boom")
    assert_restored()
    assert_untouched(net)

    class Failing(nn.Module):
        def forward(self, x):
            F.relu(x)
            raise RuntimeError("boom in forward")

    failing = Failing()
    with pytest.raises(RuntimeError, match="boom in forward"):
        attribution.deconvnet(failing, torch.rand(1, 3, 4, 4), 0)
    assert_restored()
    assert hooks.count_hooks(failing) == 0


# --- errors ---------------------------------------------------------------------------------------
def test_errors(shapenet):
    images = torch.rand(2, 3, 64, 64)
    with pytest.raises(ValueError, match="choose one of: backprop, deconvnet, guided"):
        with attribution.relu_backward(shapenet, "zeiler"):
            pass
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with attribution.relu_backward(lambda x: x, "guided"):
            pass
    with pytest.raises(ValueError, match="target is required"):
        attribution.guided_backprop(shapenet, images)
    with pytest.raises(ValueError, match="not both"):
        attribution.guided_backprop(shapenet, images, 0, layer="features.3", unit=0)
    with pytest.raises(ValueError, match="both layer and unit"):
        attribution.guided_backprop(shapenet, images, layer="features.3")
    with pytest.raises(ValueError, match="unknown class name 'zebra'"):
        attribution.guided_backprop(shapenet, images, "zebra")
    with pytest.raises(ValueError, match="out of range"):
        attribution.deconvnet(shapenet, images, 10)
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        attribution.deconvnet(shapenet, images, [0, 1, 2])
    with pytest.raises(KeyError, match="valid layer names"):
        attribution.guided_backprop(shapenet, images, layer="features.99", unit=0)
    with pytest.raises(ValueError, match="has 96 channels"):
        attribution.guided_backprop(shapenet, images, layer="features.3", unit=96)
    with pytest.raises(ValueError, match="outside layer"):
        attribution.guided_backprop(shapenet, images, layer="features.3", unit=(0, 16, 0))
    with pytest.raises(ValueError, match=r"unit must be a channel int"):
        attribution.guided_backprop(shapenet, images, layer="classifier.4", unit=(0, 1, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attribution.guided_backprop(shapenet, images * 255, 0)
    assert_restored()
    assert_untouched(shapenet)


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_unit_projections_equal_one_unit_at_a_time(rule, shapenet, shapes):
    from course_utils import patches

    layer, images = "features.7", shapes.images[:16]
    top = patches.top_activations(shapenet, images, layer, k=3, one_per_image=True)
    projections, crops = attribution.unit_projections(shapenet, images, layer, top, [2, 5], rule=rule, size=20)
    assert projections.shape == crops.shape == (2, 3, 3, 20, 20)
    method = attribution.guided_backprop if rule == "guided" else attribution.deconvnet
    for row, channel in enumerate([2, 5]):
        chosen = images[top.image[channel]]
        boxes = patches.receptive_box(shapenet, layer, top.y[channel], top.x[channel], image_size=64, clip=False)
        torch.testing.assert_close(crops[row], patches.crop_patches(chosen, boxes, 20))
        for i in range(3):
            unit = (channel, int(top.y[channel, i]), int(top.x[channel, i]))
            full = method(shapenet, chosen[i : i + 1], layer=layer, unit=unit)  # (1, 3, H, W)
            peak = full.abs().max()
            expected = (patches.crop_patches(0.5 + full / (2 * peak), boxes[0][i : i + 1].new_tensor(
                [[boxes.top[i], boxes.left[i], boxes.bottom[i], boxes.right[i]]]), 20) - 0.5) * 2 * peak
            torch.testing.assert_close(projections[row, i], expected[0], atol=1e-6, rtol=1e-4)
    with pytest.raises(ValueError, match="rule"):
        attribution.unit_projections(shapenet, images, layer, top, [0], rule="nonsense")
