import pytest
import torch
from torch import nn

from course_utils import hooks, models
from course_utils.models import registry, train


@pytest.mark.parametrize("name", list(models.IMAGENET_MODELS))
def test_imagenet_architectures_with_random_weights(name):
    model = models.load(name, weights="random", device="cpu")
    assert model.source == "random" and len(model.classes) == 1000 and not model.training
    assert isinstance(model.net, nn.Module) and model.classes[281] == "tabby"
    for role, layers in model.roles.items():
        for layer in [layers] if isinstance(layers, str) else layers:
            hooks.get_layer(model, layer)  # every role names a real layer
    assert isinstance(hooks.get_layer(model, model.roles["first_conv"]), nn.Conv2d)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 112, 112)).shape == (1, 1000)


def test_normalization_is_the_first_layer():
    model = models.load("alexnet", weights="random", device="cpu")
    x = torch.rand(2, 3, 64, 64)
    mean = torch.tensor(registry.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(registry.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - mean) / std), atol=1e-6)


def test_offline_mode_gives_counterpart_with_one_line_notice(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")
    model = models.load("vgg16", device="cpu")
    assert model.name == "shapenet" and model.source == "offline"
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "vgg16" in notice[0] and "shapenet" in notice[0]
    assert models.load("vgg19", device="cpu").name == "texturenet"
    with pytest.raises(RuntimeError, match="not available"):
        models.load("vgg16", weights="imagenet")


def test_cached_imagenet_weights_are_used(tmp_path, monkeypatch):
    """Weights in the torch hub cache are loaded even offline (here: a random stand-in file)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    reference = models.load("squeezenet1_1", weights="random", device="cpu").net
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    url = registry.IMAGENET_MODELS["squeezenet1_1"].weights.url
    torch.save(reference.state_dict(), checkpoints / url.rsplit("/", 1)[-1])
    model = models.load("squeezenet1_1", device="cpu")
    assert model.source == "imagenet" and model.name == "squeezenet1_1"
    assert torch.equal(model.net.features[0].weight, reference.features[0].weight)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"name": "vgg11"}, ValueError, "available models: alexnet"),
        ({"name": "alexnet", "weights": "pretrained"}, ValueError, "weights must be one of"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        models.load(**kwargs)


def test_offline_counterparts():
    assert models.offline_counterpart("alexnet") == "shapenet"
    assert models.offline_counterpart("vgg19") == "texturenet"
    assert models.offline_counterpart("shapenet") == "shapenet"
    with pytest.raises(ValueError, match="unknown model"):
        models.offline_counterpart("lenet")


def test_course_model_rejects_wrong_shape_and_unknown_role(shapenet):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        shapenet(torch.rand(3, 64, 64))
    with pytest.raises(KeyError, match="its roles are"):
        shapenet.role("classifier_head")


def test_shapenet_anatomy(shapenet):
    first = hooks.get_layer(shapenet, shapenet.roles["first_conv"])
    assert isinstance(first, nn.Conv2d) and first.kernel_size[0] >= 7 and first.stride[0] >= 2
    code = hooks.activations(shapenet, torch.rand(2, 3, 64, 64), shapenet.roles["code"])
    assert code[shapenet.roles["code"]].shape == (2, 256)
    assert any(isinstance(m, nn.ReLU) for m in shapenet.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in shapenet.modules())


def test_committed_shapenet_reaches_stated_accuracy_on_fresh_data(shapenet):
    from course_utils.data import make_shapes

    fresh = make_shapes(2000, seed=20_251_125)  # a seed that training never used
    with torch.no_grad():
        predictions = torch.cat([shapenet(fresh.images[i : i + 500]).argmax(1) for i in range(0, 2000, 500)])
    accuracy = (predictions == fresh.labels).float().mean().item()
    assert accuracy >= 0.95, accuracy


def test_texturenet_is_deterministic_and_random_differs():
    a, b = models.load("texturenet", device="cpu"), models.load("texturenet", device="cpu")
    assert torch.equal(a.net.branches.k3[0].weight, b.net.branches.k3[0].weight)
    c = models.load("texturenet", weights="random", device="cpu")
    assert not torch.equal(a.net.branches.k3[0].weight, c.net.branches.k3[0].weight)
    features = hooks.activations(a, torch.rand(1, 3, 32, 32), a.roles["style"])
    assert all(f.shape[-2:] == (32, 32) and (f >= 0).all() for f in features.values())


def test_fold_batch_norm_is_exact():
    torch.manual_seed(0)
    net = train.with_batch_norm(models.shapenet.ShapeNet())
    net.train()
    for _ in range(3):  # give the running statistics non-trivial values
        net(torch.randn(8, 3, 64, 64) * 2 + 1)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.5, 0.5)
    net.eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        expected = net(x)
        folded = train.fold_batch_norm(net)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        assert torch.allclose(folded(x), expected, atol=1e-4)


def test_training_command_learns(tmp_path):
    out = tmp_path / "shapenet.pt"
    train.main(["--epochs", "3", "--images-per-epoch", "768", "--validation-images", "200", "--out", str(out)])
    checkpoint = torch.load(out, weights_only=True)
    history = checkpoint["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert len(checkpoint["classes"]) == 10 and checkpoint["val_accuracy"] is not None
    net = models.shapenet.ShapeNet()
    net.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})


def test_course_model_rejects_integer_images_and_names_the_minimum_size(shapenet):
    with pytest.raises(TypeError, match="float images"):
        shapenet(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    smallest = shapenet.min_input_size()
    assert 1 < smallest <= 32
    shapenet(torch.zeros(1, 3, smallest, smallest))  # the smallest size works
    with pytest.raises(ValueError, match=f"at least {smallest}x{smallest}"):
        shapenet(torch.zeros(1, 3, smallest - 1, smallest - 1))
