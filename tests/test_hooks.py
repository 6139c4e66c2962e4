import pytest
import torch
from torch import nn

from course_utils import hooks


class Tiny(nn.Module):
    """conv -> in-place ReLU -> conv: the pattern that breaks module backward hooks."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 2, 1))
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.features(x)).mean((2, 3))


def test_layer_names_and_unknown_name_lists_valid_ones():
    model = Tiny()
    assert hooks.layer_names(model)[:3] == ["features", "features.0", "features.1"]
    assert hooks.get_layer(model, "features.2") is model.features[2]
    with pytest.raises(KeyError, match="valid layer names are: features, features.0"):
        hooks.get_layer(model, "features.9")


def test_activation_of_conv_is_not_overwritten_by_inplace_relu():
    model = Tiny().eval()
    x = torch.randn(2, 3, 5, 5)
    acts = hooks.activations(model, x, ["features.0", "features.1"])
    expected_pre = model.features[0](x)
    assert torch.allclose(acts["features.0"], expected_pre)
    assert (acts["features.0"] < 0).any()  # the pre-activation keeps its negative values
    assert torch.allclose(acts["features.1"], expected_pre.clamp(min=0))
    assert hooks.count_hooks(model) == 0


def test_gradients_match_autograd_with_inplace_relu():
    model = Tiny().eval()
    x = torch.randn(2, 3, 5, 5)
    with hooks.capture_activations(model, "features.0", detach=False) as acts, hooks.capture_gradients(
        model, "features.0"
    ) as grads:
        out = model(x).sum()
        (expected,) = torch.autograd.grad(out, acts["features.0"], retain_graph=True)
        out.backward()
    assert torch.allclose(grads["features.0"], expected)
    # Independent check by finite differences on one pre-activation unit.
    pre = model.features[0](x).detach()
    eps = 1e-3
    bumped = pre.clone()
    bumped[0, 1, 2, 2] += eps
    rest = lambda h: model.features[2](torch.relu(h)).mean((2, 3)).sum()  # noqa: E731
    numeric = (rest(bumped) - rest(pre)) / eps
    assert grads["features.0"][0, 1, 2, 2].item() == pytest.approx(numeric.item(), abs=1e-3)
    assert hooks.count_hooks(model) == 0


def test_hooks_removed_and_mode_restored_when_forward_raises():
    model = Tiny().train()
    with pytest.raises(RuntimeError):
        with hooks.eval_mode(model), hooks.capture_activations(model, ["features.0"]), hooks.capture_gradients(
            model, "features.2"
        ):
            assert not model.training
            model(torch.randn(1, 5, 4, 4))  # wrong channel count -> RuntimeError inside forward
    assert hooks.count_hooks(model) == 0
    assert model.training and model.dropout.training


def test_frozen_restores_requires_grad():
    model = Tiny()
    model.features[2].weight.requires_grad_(False)
    with hooks.frozen(model):
        assert not any(p.requires_grad for p in model.parameters())
    assert model.features[0].weight.requires_grad and not model.features[2].weight.requires_grad


def test_unknown_layer_in_context_adds_no_hook():
    model = Tiny()
    with pytest.raises(KeyError):
        with hooks.capture_activations(model, ["features.0", "nope"]):
            pass
    assert hooks.count_hooks(model) == 0
