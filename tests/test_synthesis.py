"""The image-optimization loop, its objectives, parameterizations, transforms and regularizers."""
import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from course_utils import hooks, synthesis as S
from course_utils.synthesis import regularizers as R


class Tiny(nn.Module):
    """conv -> in-place ReLU -> conv -> pool -> linear, with dropout: a model whose mode matters."""

    def __init__(self, classes=3):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 5, 3, padding=1))
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(5, classes))
        self.classes = ["cat", "dog", "fox"][:classes]

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def _images(n=2, size=8, device="cpu", seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(device)


def _assert_untouched(model, training=True):
    assert model.training is training
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert hooks.count_hooks(model) == 0


# ---------------------------------------------------------------- objectives

def _ctx(model, images, layers=("features.0", "features.2")):
    with hooks.capture_activations(model, list(layers), detach=False) as acts:
        output = model(images)
    return S.Context(image=images, input=images, output=output, acts=dict(acts), model=model)


def test_objectives_read_the_right_values_and_compose():
    model = Tiny().eval()
    x = _images(2)
    ctx = _ctx(model, x)
    conv = model.features[2](model.features[1](model.features[0](x)))  # (2, 5, 8, 8), independent forward
    assert torch.allclose(S.class_score("dog")(ctx), model(x)[:, 1])
    assert torch.allclose(S.class_score(["fox", 0])(ctx), model(x)[[0, 1], [2, 0]])
    assert torch.allclose(S.channel("features.2", 3)(ctx), conv[:, 3].mean((1, 2)))
    assert torch.allclose(S.channel("features.2", [1, 4])(ctx), torch.stack([conv[0, 1].mean(), conv[1, 4].mean()]))
    assert torch.allclose(S.neuron("features.2", 2)(ctx), conv[:, 2, 4, 4])
    assert torch.allclose(S.neuron("features.2", 2, (1, 6))(ctx), conv[:, 2, 1, 6])
    assert torch.allclose(S.neuron("features.2", [1, 4], [(0, 3), (7, 2)])(ctx), torch.stack([conv[0, 1, 0, 3], conv[1, 4, 7, 2]]))
    assert torch.allclose(S.l2()(ctx), ((x - 0.5) ** 2).sum((1, 2, 3)))
    combo = S.class_score(0) + 2 * S.channel("features.2", 1) - S.l2() / 4 + 1.0
    expected = model(x)[:, 0] + 2 * conv[:, 1].mean((1, 2)) - ((x - 0.5) ** 2).sum((1, 2, 3)) / 4 + 1
    assert torch.allclose(combo(ctx), expected, atol=1e-6)
    assert torch.allclose(S.negate(S.scale(S.add(S.class_score(0), S.class_score(1)), 3))(ctx),
                          -3 * (model(x)[:, 0] + model(x)[:, 1]), atol=1e-6)
    assert set(combo.layers) == {"features.2"}


def test_objective_errors_name_the_problem():
    model = Tiny().eval()
    ctx = _ctx(model, _images(2))
    with pytest.raises(ValueError, match="unknown class name 'cow'.*'cat', 'dog', 'fox'"):
        S.class_score("cow")(ctx)
    with pytest.raises(ValueError, match="out of range"):
        S.class_score(7)(ctx)
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        S.class_score([0, 1, 2])(ctx)
    with pytest.raises(ValueError, match="has 5 units"):
        S.channel("features.2", 5)(ctx)
    with pytest.raises(ValueError, match="outside layer"):
        S.neuron("features.2", 0, (9, 0))(ctx)
    with pytest.raises(ValueError, match="one value per image"):
        S.Objective(lambda c: c.output.sum())(ctx)
    with pytest.raises(TypeError, match="cannot combine"):
        S.class_score(0) + "x"


# ---------------------------------------------------------------- the loop

def test_optimize_leaves_the_model_untouched_and_improves(device):
    model = Tiny().to(device).train()
    result = S.optimize(model, S.channel("features.2", 1), param=_images(3, device=device), steps=15,
                        lr=0.05, record={"dog": S.class_score("dog")})
    _assert_untouched(model, training=True)
    assert result.image.shape == (3, 3, 8, 8) and result.image.device.type == device.type
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert result.history.shape == (15, 3) and result.history.device.type == "cpu"
    assert result.records["dog"].shape == (15, 3)
    assert (result.history[-1] > result.history[0]).all()
    image, history = result  # unpacks
    assert image is result.image


def test_an_objective_in_the_loss_and_in_record_is_computed_once_per_pass():
    model, calls = Tiny(), []
    counted = S.Objective(lambda ctx: calls.append(1) or ctx.output[:, 1], name="counted")
    result = S.optimize(model, 2.0 * counted, param=_images(2), steps=3, record={"counted": counted})
    assert len(calls) == 3  # once per step, not again for the record
    assert result.records["counted"].shape == (3, 2)
    torch.testing.assert_close(result.history, 2.0 * result.records["counted"])


def test_one_sgd_step_is_the_gradient_of_the_objective(device):
    """Independent reference: autograd on an explicit forward pass of a copy of the model."""
    model = Tiny().to(device).eval()
    x0 = _images(2, device=device) * 0.5 + 0.25  # away from the clamp
    lr = 1e-3
    result = S.optimize(model, S.neuron("features.2", 3) + S.class_score("fox"), param=x0, steps=1, lr=lr, optimizer="sgd")
    x = x0.clone().requires_grad_(True)
    reference = Tiny().to(device).eval()
    value = reference.features(x)[:, 3, 4, 4] + reference(x)[:, 2]
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.allclose(result.image, x0 + lr * grad, atol=1e-6)
    assert torch.allclose(result.history[0], value.detach().cpu(), atol=1e-5)
    # minimize=True goes the other way
    down = S.optimize(model, S.class_score("fox"), param=x0, steps=1, lr=lr, optimizer="sgd", minimize=True)
    (grad_fox,) = torch.autograd.grad(reference(x)[:, 2].sum(), x)
    assert torch.allclose(down.image, x0 - lr * grad_fox, atol=1e-6)


def test_normalized_step_and_zero_gradient_gives_no_nan(device):
    x0 = _images(2, device=device) * 0.5 + 0.25
    model = Tiny().to(device).eval()
    result = S.optimize(model, S.class_score(1), param=x0, steps=1, lr=0.01, optimizer="normalized")
    x = x0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, 1].sum(), x)
    step = grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(result.image, x0 + 0.01 * step, atol=1e-6)
    flat = S.Objective(lambda ctx: 0.0 * ctx.image.sum((1, 2, 3)), name="zero")
    still = S.optimize(model, flat, param=x0, steps=3, optimizer="normalized")
    assert torch.isfinite(still.image).all() and torch.equal(still.image, x0)


def test_lbfgs_steps_are_lbfgs_iterations(device):
    """Independent reference: one call of torch's L-BFGS running the same number of iterations."""
    model = Tiny().to(device).train()
    target = _images(1, seed=5, device=device)
    with torch.no_grad(), hooks.eval_mode(model):
        goal = model.features(target)
    match = S.Objective(lambda ctx: (ctx.acts["features.2"] - goal).pow(2).flatten(1).sum(1), ["features.2"], "match")
    start = torch.full_like(target, 0.5)
    result = S.optimize(model, match, param=S.PixelImage(start, clamp=False), steps=12, optimizer="lbfgs", minimize=True)
    assert result.history[-1, 0] < 0.2 * result.history[0, 0]
    _assert_untouched(model, training=True)
    x = start.clone().requires_grad_(True)
    reference = torch.optim.LBFGS([x], lr=1, max_iter=12, max_eval=1000, history_size=20, line_search_fn="strong_wolfe")
    reference_model = Tiny().to(device).eval()

    def closure():
        reference.zero_grad()
        loss = (reference_model.features(x) - goal).pow(2).sum()
        loss.backward()
        return loss

    reference.step(closure)
    assert torch.allclose(result.param.parameters()[0], x.detach(), atol=1e-4)


def test_post_step_hooks_see_the_state_and_can_schedule():
    model = Tiny().eval()
    seen = []

    def hook(state):
        seen.append((state.step, state.steps, tuple(state.grad.shape), tuple(state.values.shape)))
        state.optimizer.param_groups[0]["lr"] *= 0.5

    S.optimize(model, S.class_score(0), param=_images(2), steps=3, lr=0.1, post_step=[hook])
    assert seen == [(i, 3, (2, 3, 8, 8), (2,)) for i in range(3)]
    with pytest.raises(TypeError, match="pixel parameterization"):
        S.optimize(model, S.class_score(0), param=S.fourier_image(8), steps=1, post_step=[R.decay(0.1)])


def test_the_loop_cleans_up_after_an_exception():
    model = Tiny().train()

    def boom(ctx):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        S.optimize(model, S.Objective(boom, ["features.0"]), param=_images(1), steps=2)
    _assert_untouched(model, training=True)


def test_optimize_errors():
    model = Tiny()
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        S.optimize(model, S.class_score(0), param=_images(1), steps=1, optimizer="rmsprop")
    with pytest.raises(TypeError, match="param must be"):
        S.optimize(model, S.class_score(0), param=[1, 2], steps=1)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        S.optimize(model, S.class_score(0), param=_images(1) * 3, steps=1)
    with pytest.raises(TypeError, match="Objective"):
        S.optimize(model, lambda ctx: ctx.output[:, 0], steps=1)
    with pytest.raises(KeyError, match="valid layer names"):
        S.optimize(model, S.channel("features.9", 0), param=_images(1), steps=1)
    with pytest.raises(ValueError, match="steps"):
        S.optimize(model, S.class_score(0), param=_images(1), steps=-1)


def test_keep_best_returns_the_best_image_evaluated(device):
    """The image kept is the one the loop evaluated at the step where the value peaks, per image;
    independent reference: the images collected by a post-step hook."""
    model = Tiny().to(device).eval()
    start = _images(2, device=device)
    seen = [start.clone()]  # the image evaluated at step s is the one left by step s - 1

    def collect(state):
        seen.append(state.image.detach().clone())

    # A large step with decay towards grey: the score rises, then falls, so best != last.
    objective = S.class_score([0, 1])
    result = S.optimize(model, objective, param=start, steps=8, lr=0.5, optimizer="sgd", keep_best=True,
                        post_step=[R.decay(0.0), lambda state: state.optimizer.param_groups[0].update(lr=-0.5 if state.step >= 3 else 0.5), collect])
    best_step = result.history.argmax(0)
    assert torch.equal(result.best_step, best_step)
    for i in range(2):
        assert torch.allclose(result.image[i], seen[int(best_step[i])][i])
    assert (best_step < 7).all() and not torch.allclose(result.image, result.param().detach())
    last = S.optimize(model, objective, param=start, steps=3, lr=0.5, optimizer="sgd")
    assert last.best_step is None and torch.allclose(last.image, last.param().detach())
    recorded = S.optimize(model, objective - 10.0 * S.l2(), param=start, steps=4, lr=0.2, optimizer="sgd",
                          record={"score": objective}, keep_best="score")
    assert torch.equal(recorded.best_step, recorded.records["score"].argmax(0))
    lowest = S.optimize(model, objective, param=start, steps=4, lr=0.2, optimizer="sgd", minimize=True, keep_best=True)
    assert torch.equal(lowest.best_step, lowest.history.argmin(0))
    with pytest.raises(ValueError, match="keep_best must be"):
        S.optimize(model, objective, param=start, steps=1, keep_best="score")


def test_custom_optimizer_factory():
    model = Tiny().eval()
    x0 = _images(1) * 0.5 + 0.25
    a = S.optimize(model, S.class_score(0), param=x0, steps=2, optimizer=lambda t: torch.optim.SGD(t, lr=1e-3))
    b = S.optimize(model, S.class_score(0), param=x0, steps=2, optimizer="sgd", lr=1e-3)
    assert torch.allclose(a.image, b.image)


# ---------------------------------------------------------------- parameterizations

def test_fourier_image_is_valid_and_inverts_an_image(device):
    param = S.fourier_image((12, 10), batch=2, device=device)
    image = param()
    assert image.shape == (2, 3, 12, 10) and image.min() > 0 and image.max() < 1
    assert param.parameters()[0].requires_grad
    target = _images(2, size=12, device=device).clamp(0.05, 0.95)
    again = S.fourier_image(init=target)()
    assert torch.allclose(again, target, atol=1e-4)


def test_fourier_image_optimizes_a_unit(device):
    model = Tiny().to(device).eval()
    torch.manual_seed(0)
    result = S.optimize(model, S.channel("features.2", 2), param=S.fourier_image(16, batch=2, device=device), steps=10, lr=0.05)
    assert (result.history[-1] > result.history[0]).all()
    assert result.image.shape == (2, 3, 16, 16)


def test_pixel_image_default_is_grey_noise():
    torch.manual_seed(0)
    image = S.pixel_image(16, batch=3, noise=0.1)()
    assert image.shape == (3, 3, 16, 16) and (image - 0.5).abs().max() <= 0.1


# ---------------------------------------------------------------- transforms

def test_gaussian_blur_matches_scipy():
    x = _images(2, size=11)
    for sigma in (0.5, 1.0, 1.7):
        ours = S.gaussian_blur(x, sigma).numpy()
        # torch's "reflect" padding mirrors without repeating the edge: scipy's "mirror" mode
        radius = int(np.ceil(3 * sigma))
        theirs = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="mirror", truncate=radius / sigma)
        assert np.allclose(ours, theirs, atol=1e-5), sigma
    assert torch.equal(S.gaussian_blur(x, 0), x)


def test_jitter_rolls_and_its_gradient_rolls_back():
    x = _images(1, size=9).requires_grad_(True)
    torch.manual_seed(3)
    out = S.jitter(3)(x)
    shifts = [(a, b) for a in range(-3, 4) for b in range(-3, 4) if torch.equal(torch.roll(x, (a, b), (2, 3)), out)]
    assert len(shifts) == 1
    weight = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weight).sum(), x)
    assert torch.equal(grad, torch.roll(weight, (-shifts[0][0], -shifts[0][1]), (2, 3)))
    with pytest.raises(ValueError):
        S.jitter(-1)


def test_scale_rotate_pad_compose_shapes_and_identity():
    x = _images(2, size=10)
    assert torch.allclose(S.random_scale((1.0,))(x), x, atol=1e-5)
    assert torch.allclose(S.random_rotate((0,))(x), x, atol=1e-5)
    rotated = S.random_rotate((90,))(x)
    assert torch.allclose(rotated, torch.rot90(x, 1, (2, 3)), atol=1e-4) or torch.allclose(rotated, torch.rot90(x, -1, (2, 3)), atol=1e-4)
    assert S.compose(S.pad(2), S.jitter(1))(x).shape == (2, 3, 14, 14)
    assert all(t(x).shape[:2] == (2, 3) for t in S.transforms.standard(2))


# ---------------------------------------------------------------- regularizers

class _State:
    def __init__(self, image, grad=None, step=0):
        self.image, self.grad, self.step = image, grad, step


def test_decay_and_blur_every():
    x = _images(1, size=9)
    state = _State(x.clone())
    R.decay(0.25, center=0.5)(state)
    assert torch.allclose(state.image, 0.5 + 0.75 * (x - 0.5))
    for step, blurred in [(0, False), (2, True), (3, False), (5, True)]:
        state = _State(x.clone(), step=step)
        R.blur_every(3, 1.0)(state)
        assert torch.equal(state.image, S.gaussian_blur(x, 1.0)) == blurred or torch.equal(state.image, x) == (not blurred)


def test_clip_norm_and_contribution_match_a_naive_loop():
    x, g = _images(2, size=6), torch.randn(2, 3, 6, 6)
    center = torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)
    for pct, hook, score in [
        (30, R.clip_norm(30, center=center), lambda i, r, c: float(((x[i, :, r, c] - center[0, :, 0, 0]) ** 2).sum().sqrt())),
        (55, R.clip_contribution(55, center=center), lambda i, r, c: abs(float(((x[i, :, r, c] - center[0, :, 0, 0]) * g[i, :, r, c]).sum()))),
    ]:
        state = _State(x.clone(), g)
        hook(state)
        for i in range(2):
            scores = np.array([[score(i, r, c) for c in range(6)] for r in range(6)])
            threshold = np.percentile(scores, pct)
            for r in range(6):
                for c in range(6):
                    expected = center[0, :, 0, 0] if scores[r, c] < threshold else x[i, :, r, c]
                    assert torch.allclose(state.image[i, :, r, c], expected, atol=1e-6)
    with pytest.raises(ValueError, match="percentile"):
        R.clip_norm(120)


# ---------------------------------------------------------------- class models (lecture 09)

def test_linear_decay_schedule():
    model = Tiny().eval()
    seen = []
    S.optimize(model, S.class_score(0), param=_images(1), steps=4, lr=1.0, optimizer="sgd",
               post_step=[S.linear_decay(0.2), lambda state: seen.append(state.optimizer.param_groups[0]["lr"])])
    assert np.allclose(seen, [0.8, 0.6, 0.4, 0.2])


def test_class_model_of_every_shapenet_class(shapenet):
    """One batch, one image per class: the score rises and the image is classified as its class."""
    torch.manual_seed(0)
    result = S.class_model(shapenet, shapenet.classes, steps=30)
    image, scores = result
    assert image.shape == (10, 3, 64, 64) and scores.shape == (30, 10)
    assert (scores[-5:].mean(0) > scores[:5].mean(0) + 1).all()
    with torch.no_grad():
        probabilities = shapenet(image).softmax(1)
    assert (probabilities.diagonal() >= 0.9).all(), probabilities.diagonal()
    assert result.records["objective"].shape == (30, 10)
    _assert_untouched_eval = shapenet.training is False and hooks.count_hooks(shapenet) == 0
    assert _assert_untouched_eval and all(p.grad is None for p in shapenet.parameters())


def test_class_model_defaults_and_devices(device):
    model = Tiny().to(device).train()
    image, scores = S.class_model(model, "fox", steps=3, size=16)
    assert image.shape == (1, 3, 16, 16) and image.device.type == device.type and scores.shape == (3, 1)
    _assert_untouched(model, training=True)
    with pytest.raises(ValueError, match="unknown class name 'cow'"):
        S.class_model(model, "cow", steps=1)


# ---------------------------------------------------------------- regularized visualization (lecture 10)

def test_presets_are_table_1_of_the_paper():
    table = {name: (p["decay"], p["blur_sigma"], p["blur_every"], p["norm_pct"], p["contribution_pct"]) for name, p in S.PRESETS.items()}
    assert table == {
        "yosinski1": (0, 0.5, 4, 50, 0), "yosinski2": (0.3, 0, 0, 20, 0),
        "yosinski3": (1e-4, 1.0, 4, 0, 0), "yosinski4": (0, 0.5, 4, 0, 90),
    }


def test_one_visualize_step_is_the_explicit_scheme(device):
    """Independent reference: the step, decay, blur (scipy) and norm clipping (numpy) by hand."""
    model = Tiny().to(device).eval()
    x0 = _images(1, size=12, device=device) * 0.6 + 0.2
    result = S.visualize(model, ("features.2", 1), steps=1, lr=0.05, decay=0.1, blur_every=1, blur_sigma=1.0,
                         norm_pct=25, contribution_pct=0, jitter=0, init=x0)
    x = x0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model.features(x)[:, 1].mean(), x)
    step = (x0 + 0.05 * g / g.abs().mean()).clamp(0, 1).cpu().numpy()
    step = 0.5 + 0.9 * (step - 0.5)
    step = ndimage.gaussian_filter(step, sigma=(0, 0, 1, 1), mode="mirror", truncate=3.0)
    norms = np.sqrt(((step - 0.5) ** 2).sum(1))
    step = np.where((norms < np.percentile(norms, 25))[:, None], 0.5, step)
    assert np.allclose(result.image.cpu().numpy(), step, atol=1e-5)


def test_visualize_presets_and_fourier_raise_the_unit(device):
    model = Tiny().to(device).train()
    for options in ({"preset": "yosinski1"}, {"preset": "yosinski3"}, {"parameterization": "fourier", "lr": 0.1}):
        torch.manual_seed(0)
        result = S.visualize(model, S.channel("features.2", [0, 3]), size=16, steps=12, **options)
        assert result.image.shape == (2, 3, 16, 16), options
        assert (result.history[-1] > result.history[0]).all(), options
    _assert_untouched(model, training=True)


def test_selective_units_follow_the_selectivity_index():
    """Independent reference: peaks by a plain forward pass, the index by numpy, the rule by a loop."""
    from course_utils.synthesis.visualize import selective_units

    model = Tiny().eval()
    images, labels = _images(24, size=8, seed=3), torch.arange(24) % 3
    favourites, units, _ = selective_units(model, images, labels, ["features.0", "features.2"], count=2, groups=3)
    with torch.no_grad():
        first = model.features[0](images).amax((2, 3)).numpy()  # (24, 4)
        second = model.features(images).amax((2, 3)).numpy()  # (24, 5)

    def index(peaks):
        means = np.stack([peaks[labels.numpy() == g].mean(0) for g in range(3)])  # (3, C)
        best, rest = means.max(0), (means.sum(0) - means.max(0)) / 2
        return (best - rest) / np.maximum(best + rest, 1e-8), means.argmax(0)

    si, group = index(second)
    expected = []
    for unit in np.argsort(-si, kind="stable"):
        if group[unit] not in [group[u] for u in expected]:
            expected.append(unit)
    assert units["features.2"] == [int(u) for u in expected[:2]] and favourites == [int(group[u]) for u in expected[:2]]
    si0, group0 = index(first)
    assert units["features.0"] == [int(np.argmax(np.where(group0 == f, si0, -1))) for f in favourites]


def test_visualize_errors():
    model = Tiny()
    with pytest.raises(ValueError, match="unknown preset 'yosinski5'"):
        S.visualize(model, 0, preset="yosinski5", steps=1)
    with pytest.raises(ValueError, match="Fourier parameterization replaces"):
        S.visualize(model, 0, preset="yosinski1", parameterization="fourier", steps=1)
    with pytest.raises(ValueError, match="'pixel' or 'fourier'"):
        S.visualize(model, 0, parameterization="cppn", steps=1)
    with pytest.raises(TypeError, match="objective must be"):
        S.visualize(model, 2.5, steps=1)
    with pytest.raises(ValueError, match="different batch sizes"):
        S.class_score([0, 1]) + S.channel("features.2", [0, 1, 2])
