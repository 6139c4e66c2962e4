"""Lectures 11-13 on the one loop: losses (against naive loops and the papers' definitions),
feature inversion, DeepDream and style transfer (their objectives improve, the model is unchanged)."""
import pytest
import torch
from torch import nn

from course_utils import hooks, models
from course_utils.data import make_shapes
from course_utils.synthesis import (content_loss, deepdream, gram_matrix, guided_dream, invert, octave_sizes,
                                    style_loss, style_transfer, texture, tv_loss)  # fmt: skip
from course_utils.synthesis.objectives import Context


def _unchanged(model):
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert not model.training


# --------------------------------------------------------------------------- #
# Losses
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("beta", [1.0, 2.0, 3.0])
def test_tv_loss_equals_a_naive_loop(device, beta):
    images = torch.rand(2, 3, 5, 6, device=device, dtype=torch.float64)
    expected = torch.zeros(2, dtype=torch.float64)
    for n in range(2):
        for c in range(3):
            for i in range(4):
                for j in range(5):
                    dx = images[n, c, i, j + 1] - images[n, c, i, j]
                    dy = images[n, c, i + 1, j] - images[n, c, i, j]
                    expected[n] += (dx**2 + dy**2 + (0 if beta == 2 else 1e-8)) ** (beta / 2)
    expected /= 5 * 6
    torch.testing.assert_close(tv_loss(images, beta).cpu(), expected, rtol=1e-6, atol=1e-10)
    assert torch.equal(tv_loss(torch.full((1, 3, 4, 4), 0.3, device=device)).cpu(), torch.zeros(1))


def test_gram_matrix_and_style_loss_follow_gatys_definitions(device):
    features = torch.randn(2, 4, 3, 5, device=device, dtype=torch.float64)
    gram = gram_matrix(features)
    naive = torch.zeros(2, 4, 4, dtype=torch.float64)
    for n in range(2):
        for c in range(4):
            for d in range(4):
                naive[n, c, d] = (features[n, c] * features[n, d]).sum() / 15
    torch.testing.assert_close(gram.cpu(), naive)
    # style_loss = 4 E_l of Gatys et al. eq. 4 (unnormalized Grams, 1 / (4 N^2 M^2)), per layer.
    target_features = torch.randn(1, 4, 6, 2, device=device, dtype=torch.float64)
    flat, flat_target = features.flatten(2), target_features.flatten(2)
    g, a = flat @ flat.transpose(1, 2), flat_target @ flat_target.transpose(1, 2)
    e_l = ((g / 15 - a / 12) ** 2).sum(dim=(1, 2)) / (4 * 4**2)  # M_l normalizes each Gram
    loss = style_loss([features], [gram_matrix(target_features)], [1.0])
    torch.testing.assert_close(loss, 4 * e_l)
    two = style_loss([features, features], [gram_matrix(target_features)] * 2, [0.25, 0.5])
    torch.testing.assert_close(two, 0.75 * loss)
    with pytest.raises(ValueError, match="weights"):
        style_loss([features], [gram], [1.0, 2.0])


def test_content_loss_is_the_mean_squared_difference(device):
    features, target = torch.randn(3, 2, 4, 4, device=device), torch.randn(1, 2, 4, 4, device=device)
    expected = torch.stack([((f - target[0]) ** 2).mean() for f in features])
    torch.testing.assert_close(content_loss(features, target), expected)
    with pytest.raises(ValueError, match="does not match"):
        content_loss(features, torch.randn(1, 3, 4, 4, device=device))


def test_guided_dream_pulls_each_position_to_its_most_similar_guide_vector(device):
    act = torch.randn(2, 3, 2, 2, device=device)
    guide = torch.randn(5, 3, device=device)
    ctx = Context(image=torch.zeros(2, 3, 4, 4, device=device), input=None, output=None, acts={"l": act})
    values = guided_dream("l", guide)(ctx)
    expected = torch.tensor([sum(max(float(act[n, :, i, j] @ g) for g in guide) for i in range(2) for j in range(2))
                            for n in range(2)])  # fmt: skip
    torch.testing.assert_close(values.cpu(), expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- #
# Feature inversion
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def inverted(shapenet):
    images = make_shapes(2, seed=11).images
    layers = [shapenet.roles["first_conv"], shapenet.roles["last_conv"]]
    return images, {layer: invert(shapenet, images, layer) for layer in layers}  # the default steps


def test_inversion_loss_falls_by_ninety_percent_and_early_layers_keep_more(shapenet, inverted):
    from skimage.metrics import peak_signal_noise_ratio

    images, results = inverted
    psnr = {}
    for layer, result in results.items():
        loss = result.records["feature_loss"]  # (steps, N)
        assert (loss[-1] <= 0.1 * loss[0]).all(), f"{layer}: {loss[0].tolist()} -> {loss[-1].tolist()}"
        assert result.image.shape == images.shape and 0 <= result.image.min() and result.image.max() <= 1
        psnr[layer] = sum(peak_signal_noise_ratio(images[i].numpy(), result.image[i].numpy(), data_range=1)
                          for i in range(len(images)))  # fmt: skip
    early, late = results
    assert psnr[early] > psnr[late] + 2 * len(images), psnr
    _unchanged(shapenet)


def test_inversion_of_class_log_probabilities_and_errors(shapenet, device):
    model = models.load("shapenet", device=device)
    images = make_shapes(1, seed=3).images.to(device)
    result = invert(model, images, "log_probs", steps=5)
    assert result.records["feature_loss"].shape == (5, 1) and result.image.device.type == device.type
    with pytest.raises(KeyError, match="valid layer names"):
        invert(model, images, "features.99", steps=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        invert(model, images * 3, None, steps=1)
    _unchanged(model)


# --------------------------------------------------------------------------- #
# DeepDream
# --------------------------------------------------------------------------- #
def test_deepdream_objective_grows_in_every_octave(device):
    model = models.load("shapenet", device=device)
    image = make_shapes(1, seed=4).images.to(device)
    dreamed, history = deepdream(model, image, octaves=2, steps=4, jitter=4)
    assert dreamed.shape == image.shape and history.shape == (8, 1)
    for octave in history.view(2, 4, 1):
        assert octave[-1] > octave[0]
    assert 0 <= dreamed.min() and dreamed.max() <= 1 and not torch.equal(dreamed, image)
    _unchanged(model)


def test_seeded_functions_repeat_and_leave_the_global_rng_alone(shapenet):
    """invert, deepdream, style_transfer and texture take seed=: same result twice, caller's RNG untouched."""
    image = make_shapes(1, seed=6).images
    extractor = models.load("texturenet", device="cpu")
    calls = [
        lambda: invert(shapenet, image, shapenet.roles["last_conv"], steps=2, jitter=2).image,
        lambda: deepdream(shapenet, image, octaves=1, steps=2, jitter=4)[0],
        lambda: style_transfer(extractor, image, image.flip(-1), optimizer="adam", init="noise", steps=1).image,
        lambda: texture(extractor, image, optimizer="adam", steps=1).image,
    ]
    torch.manual_seed(5)
    untouched = torch.rand(3)  # what the caller's stream gives when nothing else draws from it
    for call in calls:
        torch.manual_seed(5)
        first = call()
        assert torch.equal(torch.rand(3), untouched)  # the call drew nothing from the caller's stream
        torch.manual_seed(99)
        torch.testing.assert_close(call(), first, rtol=0, atol=0)  # nor depends on it


def test_deepdream_with_a_zero_gradient_gives_no_nan(device):
    dead = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).to(device)
    nn.init.zeros_(dead[0].weight)
    nn.init.constant_(dead[0].bias, -1.0)  # every ReLU is off: the gradient is exactly zero
    image = torch.rand(1, 3, 16, 16, device=device)
    dreamed, history = deepdream(dead, image, "1", octaves=2, steps=3)
    assert torch.isfinite(dreamed).all() and torch.isfinite(history).all()
    torch.testing.assert_close(dreamed, image, atol=0.02, rtol=0)  # only resampling between octaves


def test_deepdream_guided_and_octave_sizes(shapenet):
    image, guide = make_shapes(2, seed=8).images.split(1)
    dreamed, history = deepdream(shapenet, image, octaves=1, steps=3, guide=guide)
    assert history[-1] > history[0]
    assert octave_sizes(100, 80, 3, 2.0) == [(25, 20), (50, 40), (100, 80)]
    assert octave_sizes(64, 64, 4, 1.4, smallest=30) == [(33, 33), (46, 46), (64, 64)]
    with pytest.raises(ValueError, match="scale"):
        octave_sizes(64, 64, 2, 1.0)


# --------------------------------------------------------------------------- #
# Style transfer and textures
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_style_transfer_lowers_the_style_loss_and_keeps_the_content(device, optimizer):
    model = models.load("texturenet", device=device)
    content_image, style = make_shapes(2, seed=9, size=32).images.to(device).split(1)
    result = style_transfer(model, content_image, style, optimizer=optimizer, steps=8)
    history, records = result.history[:, 0], result.records
    assert history[-1] < 0.5 * history[0]
    assert records["style"][-1, 0] < 0.5 * records["style"][0, 0]
    assert records["content"][0, 0] == 0  # init="content"
    assert result.image.shape == content_image.shape and 0 <= result.image.min() and result.image.max() <= 1
    _unchanged(model)


def test_texture_matches_the_style_grams_and_errors(device):
    model = models.load("texturenet", device=device)
    style = make_shapes(1, seed=2, size=32).images.to(device)
    result = texture(model, style, steps=10, size=24, batch=2)
    assert result.image.shape == (2, 3, 24, 24)
    assert (result.history[-1] < 0.2 * result.history[0]).all()
    with pytest.raises(ValueError, match="init"):
        style_transfer(model, style, style, init="photo", steps=1)
    with pytest.raises(ValueError, match="optimizer"):
        texture(model, style, optimizer="sgd", steps=1)
    _unchanged(model)


# --------------------------------------------------------------------------- #
# Lecture 12's objective per position, lecture 13's evaluation counts and shuffled tiles
# --------------------------------------------------------------------------- #
def test_deepdream_per_position_divides_each_octave_by_the_layers_positions(shapenet):
    image = make_shapes(1, seed=4).images
    layer = shapenet.roles["deepdream"]
    dreamed, summed = deepdream(shapenet, image, layer, octaves=2, steps=3, jitter=4)
    same, mean = deepdream(shapenet, image, layer, octaves=2, steps=3, jitter=4, per_position=True)
    torch.testing.assert_close(same, dreamed, rtol=0, atol=0)  # the dream itself does not change
    for index, size in enumerate(octave_sizes(*image.shape[-2:], 2, 1.4, shapenet.min_input_size())):
        probe = torch.zeros(1, 3, *size)
        h, w = hooks.activations(shapenet, probe, layer)[layer].shape[-2:]
        torch.testing.assert_close(mean[3 * index:3 * index + 3], summed[3 * index:3 * index + 3] / (h * w))
    _unchanged(shapenet)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_style_transfer_counts_its_evaluations_per_step(optimizer):
    model = models.load("texturenet", device="cpu")
    content_image, style = make_shapes(2, seed=9, size=32).images.split(1)
    calls = []
    handle = model.register_forward_hook(lambda *args: calls.append(1))
    try:
        result = style_transfer(model, content_image, style, optimizer=optimizer, steps=4)
    finally:
        handle.remove()
    evaluations = result.records["evaluations"]
    assert evaluations.shape == (4, 1)
    if optimizer == "adam":
        assert torch.equal(evaluations, torch.ones(4, 1))
    # every forward pass of the loop is counted once (the targets' two passes come before the loop)
    assert evaluations.sum().item() == len(calls) - 2 and (evaluations >= 1).all()
    assert hooks.count_hooks(model) == 0


def test_shuffle_tiles_moves_whole_tiles_and_keeps_the_pixels():
    from course_utils.synthesis.style import shuffle_tiles

    images = torch.rand(2, 3, 8, 12)
    tiled = shuffle_tiles(images, 4, seed=1)
    assert tiled.shape == images.shape and not torch.equal(tiled, images)
    originals = {images[n, :, i:i + 4, j:j + 4].numpy().tobytes() for n in range(1) for i in (0, 4) for j in (0, 4, 8)}
    moved = {tiled[n, :, i:i + 4, j:j + 4].numpy().tobytes() for n in range(1) for i in (0, 4) for j in (0, 4, 8)}
    assert moved == originals  # the same six tiles, in another order
    pixels = shuffle_tiles(images, 1)
    torch.testing.assert_close(pixels.flatten(2).sort(dim=2).values, images.flatten(2).sort(dim=2).values)
    assert torch.equal(shuffle_tiles(images, 4, seed=1), tiled)
    with pytest.raises(ValueError, match="divide"):
        shuffle_tiles(images, 5)
