"""Lecture 14: linear attack, FGSM, PGD, fooling images, evolution strategy, HOG (course_utils.adversarial)."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import adversarial, hooks
from course_utils.data import make_shapes


def _model_untouched(model, training_before=False):
    assert model.training == training_before
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


# --------------------------------------------------------------------------- linear classifier
def test_linear_attack_reproduces_the_lecture_numbers():
    result = adversarial.linear_attack(adversarial.LECTURE_W, adversarial.LECTURE_X, 0.0, 0.5)
    assert result.score.item() == -3.0 and result.adversarial_score.item() == 2.0
    assert round(result.probability.item(), 4) == 0.0474
    assert round(result.adversarial_probability.item(), 2) == 0.88
    expected = [1.5, -1.5, 3.5, -2.5, 2.5, 1.5, 1.5, -3.5, 4.5, 1.5]  # the lecture's nudged input
    assert result.adversarial.tolist() == expected
    # independent: elementwise products summed by hand, as on the slide
    assert sum(wi * xi for wi, xi in zip(adversarial.LECTURE_W, expected)) == 2.0


def test_linear_attack_batch_flip_epsilon_and_errors():
    rng = np.random.default_rng(0)
    w, x, b = rng.normal(size=20), rng.normal(size=(7, 20)), 0.3
    eps = adversarial.flip_epsilon(w, x, b)  # (7,)
    scores = x @ w + b
    toward_other = -np.sign(scores)[:, None] * eps.numpy()[:, None]  # move against the current class
    moved = adversarial.linear_attack(w, x + 0 * x, b, 0.0).adversarial.numpy() + toward_other * np.sign(w)
    np.testing.assert_allclose(moved @ w + b, 0.0, atol=1e-9)  # exactly on the boundary
    batch = adversarial.linear_attack(w, x, b, 0.1)
    assert batch.adversarial.shape == (7, 20)
    np.testing.assert_allclose(batch.adversarial_score - batch.score, 0.1 * np.abs(w).sum())
    with pytest.raises(ValueError, match="match w"):
        adversarial.linear_attack(w, x[:, :5], b, 0.1)
    with pytest.raises(ValueError, match="all zeros"):
        adversarial.flip_epsilon(np.zeros(3), np.ones(3))


def test_epsilon_for_a_fixed_score_change_shrinks_with_dimension():
    result = adversarial.epsilon_vs_dimension((4, 16, 64), repeats=2)
    assert np.all(np.diff(result["l1"]) > 0)
    assert np.all(np.diff(result["epsilon_for_change"]) < 0)
    assert result["accuracy"][-1] > 0.95
    with pytest.raises(ValueError, match="between 1 and 64"):
        adversarial.epsilon_vs_dimension((100,))


# --------------------------------------------------------------------------- FGSM
def _reference_fgsm(model, images, labels, epsilon):
    """Hand-written FGSM on a private copy of the model, with .backward() (not autograd.grad)."""
    clone = copy.deepcopy(model).eval()
    x = images.clone().requires_grad_(True)
    F.cross_entropy(clone(x), labels).backward()
    return torch.clamp(x + epsilon * x.grad.sign(), 0, 1).detach()


@pytest.fixture
def batch(shapenet, shapes, device):
    return shapenet.to(device), shapes.images[:12].to(device), shapes.labels[:12].to(device)


def test_fgsm_matches_hand_written_reference(batch):
    model, images, labels = batch
    model.train()  # the attack must switch to eval and restore this
    try:
        adversarial_images = adversarial.fgsm(model, images, labels, 8 / 255)
        _model_untouched(model, training_before=True)
    finally:
        model.eval()
    reference = _reference_fgsm(model, images, labels, 8 / 255)
    assert torch.equal(adversarial_images, reference)
    assert (adversarial_images - images).abs().max() <= 8 / 255 + 1e-6
    assert adversarial_images.min() >= 0 and adversarial_images.max() <= 1
    assert adversarial_images.device == images.device
    with torch.no_grad():
        clean = (model(images).argmax(1) == labels).float().mean()
        attacked = (model(adversarial_images).argmax(1) == labels).float().mean()
    assert attacked < clean


def test_fgsm_equals_torchattacks(batch):
    """The independent implementation the issue names (``make venv`` installs it; skipped without it)."""
    torchattacks = pytest.importorskip("torchattacks")
    model, images, labels = batch
    reference = torchattacks.FGSM(model, eps=8 / 255)(images, labels)
    model.eval()  # torchattacks leaves the model in eval mode, which is how the fixture keeps it
    assert torch.equal(adversarial.fgsm(model, images, labels, 8 / 255), reference)
    _model_untouched(model)


def test_fgsm_predicted_labels_and_errors(batch):
    model, images, labels = batch
    with torch.no_grad():
        predicted = model(images).argmax(1)
    assert torch.equal(adversarial.fgsm(model, images, None, 4 / 255), _reference_fgsm(model, images, predicted, 4 / 255))
    assert torch.equal(adversarial.fgsm(model, images, labels, 0.0), images)
    with pytest.raises(ValueError, match="pixel units"):
        adversarial.fgsm(model, images, labels, -0.1)
    with pytest.raises(ValueError, match="valid class names are: .disk."):
        adversarial.fgsm(model, images, "dog", 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adversarial.fgsm(model, images * 255, labels, 0.1)
    _model_untouched(model)


def test_accuracy_under_attack_agrees_with_fgsm(batch):
    model, images, labels = batch
    epsilons = [0.0, 2 / 255, 16 / 255]
    curve = adversarial.accuracy_under_attack(model, images, labels, epsilons, batch_size=5)
    with torch.no_grad():
        expected = [(model(adversarial.fgsm(model, images, labels, e)).argmax(1) == labels).float().mean().item() for e in epsilons]
    np.testing.assert_allclose(curve.numpy(), expected, atol=1e-6)
    assert curve[0] >= curve[-1]
    predicted = adversarial.accuracy_under_attack(model, images, labels, epsilons, attack_labels="predicted")
    assert predicted.shape == (3,) and predicted[0] == curve[0]
    with pytest.raises(ValueError, match="attack_labels"):
        adversarial.accuracy_under_attack(model, images, labels, epsilons, attack_labels="leaky")
    _model_untouched(model)


# --------------------------------------------------------------------------- PGD
def _reference_pgd(model, images, labels, epsilon, step_size, steps, noise=None, targeted=False):
    """Hand-written PGD (Madry et al. 2018, eq. 2) on a private copy of the model, with .backward():
    signed steps on the mean cross-entropy, projected by min/max onto the ball, then onto [0, 1]."""
    clone = copy.deepcopy(model).eval()
    x = images.clone() if noise is None else (images + noise).clamp(0, 1)
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(clone(x), labels)
        loss.backward()
        x = x + (-1 if targeted else 1) * step_size * x.grad.sign()
        x = torch.min(torch.max(x, images - epsilon), images + epsilon).clamp(0, 1)
    return x.detach()


def _saturated(images):
    """The batch with black and white stripes: pixels at 0 and 1, where the clip to [0, 1] binds."""
    images = images.clone()
    images[:, :, :6] = 0.0
    images[:, :, -6:] = 1.0
    return images


def _in_ball(adversarial_images, images, epsilon):
    assert adversarial_images.shape == images.shape and adversarial_images.device == images.device
    assert (adversarial_images - images).abs().max() <= epsilon + 1e-6
    assert adversarial_images.min() >= 0 and adversarial_images.max() <= 1


@pytest.mark.parametrize("random_start", [True, False])
@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_stays_in_the_ball_and_in_range(batch, random_start, targeted):
    model, images, labels = batch
    images = _saturated(images)
    goal = (labels + 3).remainder(10) if targeted else None
    model.train()  # the attack must switch to eval and restore this
    try:
        for epsilon, step_size, steps in [(8 / 255, 2 / 255, 5), (2 / 255, 1 / 255, 3), (1 / 255, 4 / 255, 2), (0.0, 2 / 255, 2)]:
            rng = torch.get_rng_state()
            result = adversarial.pgd(model, images, goal, epsilon=epsilon, step_size=step_size, steps=steps,
                                     random_start=random_start, targeted=targeted, seed=3)  # fmt: skip
            assert torch.equal(torch.get_rng_state(), rng)  # the caller's random stream is untouched
            _in_ball(result, images, epsilon)
            if epsilon == 0:
                assert torch.equal(result, images)
        _model_untouched(model, training_before=True)
    finally:
        model.eval()


def test_pgd_matches_hand_written_reference(batch):
    model, images, labels = batch
    epsilon, step_size, steps = 6 / 255, 2 / 255, 5
    with torch.no_grad():
        predicted = model(images).argmax(1)
    goal = (labels + 5).remainder(10)
    for seed in (0, 7):
        generator = torch.Generator(device="cpu").manual_seed(seed) if images.device.type == "cpu" else None
        with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
            torch.manual_seed(seed)  # what pgd's seed= does, drawn here by hand
            noise = torch.empty_like(images).uniform_(-epsilon, epsilon)
        del generator
        cases = [(labels, False, labels), (None, False, predicted), (goal, True, goal)]
        for given, targeted, used in cases:
            ours = adversarial.pgd(model, images, given, epsilon=epsilon, step_size=step_size, steps=steps, targeted=targeted, seed=seed)
            reference = _reference_pgd(model, images, used, epsilon, step_size, steps, noise, targeted)
            torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)
    no_start = adversarial.pgd(model, images, labels, epsilon=epsilon, step_size=step_size, steps=steps, random_start=False)
    torch.testing.assert_close(no_start, _reference_pgd(model, images, labels, epsilon, step_size, steps), atol=1e-6, rtol=0)
    one_step = adversarial.pgd(model, images, labels, epsilon=epsilon, step_size=epsilon, steps=1, random_start=False)
    assert torch.equal(one_step, adversarial.fgsm(model, images, labels, epsilon))  # one full step is FGSM
    _model_untouched(model)


def test_pgd_is_at_least_as_strong_as_fgsm_and_torchattacks(shapenet, device):
    """Success rate (the share of correctly classified shapes it misclassifies) at the same epsilon,
    step and steps. torchattacks draws its random start from the global RNG: rates are compared over
    a few seeds, not images."""
    model = shapenet.to(device)
    shapes = make_shapes(96, seed=11)
    images, labels = shapes.images.to(device), shapes.labels.to(device)
    with torch.no_grad():
        right = model(images).argmax(1) == labels
    images, labels = images[right], labels[right]

    def success(adversarial_images):
        with torch.no_grad():
            return (model(adversarial_images).argmax(1) != labels).float().mean().item()

    epsilon, step_size, steps = 4 / 255, 1 / 255, 10
    ours = np.mean([success(adversarial.pgd(model, images, labels, epsilon=epsilon, step_size=step_size, steps=steps, seed=s)) for s in range(3)])
    assert ours > success(adversarial.fgsm(model, images, labels, epsilon))
    torchattacks = pytest.importorskip("torchattacks")
    attack = torchattacks.PGD(model, eps=epsilon, alpha=step_size, steps=steps, random_start=True)
    theirs = []
    for s in range(3):
        torch.manual_seed(100 + s)
        theirs.append(success(attack(images, labels)))
    model.eval()  # torchattacks leaves the model in eval mode, which is how the fixture keeps it
    assert ours >= np.mean(theirs) - 0.02, (ours, theirs)
    no_start = torchattacks.PGD(model, eps=epsilon, alpha=step_size, steps=steps, random_start=False)(images, labels)
    model.eval()
    ours_no_start = adversarial.pgd(model, images, labels, epsilon=epsilon, step_size=step_size, steps=steps, random_start=False)
    torch.testing.assert_close(ours_no_start, no_start, atol=1e-6, rtol=0)  # deterministic: the same images
    _model_untouched(model)


def test_pgd_targeted_reaches_the_targets(shapenet, shapes, device):
    model, images = shapenet.to(device), shapes.images[:20].to(device)
    goal = (shapes.labels[:20] + 1 + torch.arange(20) % 9).remainder(10).to(device)  # never the true class
    result = adversarial.pgd(model, images, goal, epsilon=32 / 255, step_size=4 / 255, steps=20, targeted=True)
    _in_ball(result, images, 32 / 255)
    with torch.no_grad():
        reached = (model(result).argmax(1) == goal).float().mean().item()  # 0.9 on this batch
        before, after = (adversarial.target_confidence(model, x, goal) for x in (images, result))
    assert reached >= 0.75, reached
    assert adversarial.success_rate(model, result, goal, targeted=True) == pytest.approx(reached)
    with torch.no_grad():
        missed = (model(result).argmax(1) != goal).float().mean().item()
    assert adversarial.success_rate(model, result, goal) == pytest.approx(missed)
    assert bool((after > before).all())  # every image moves toward its target
    by_name = adversarial.pgd(model, images[:2], "heart", epsilon=16 / 255, steps=2, targeted=True)
    assert torch.equal(by_name, adversarial.pgd(model, images[:2], model.classes.index("heart"), epsilon=16 / 255, steps=2, targeted=True))
    _model_untouched(model)


def test_pgd_bad_input(batch):
    model, images, labels = batch
    with pytest.raises(ValueError, match="pixel units"):
        adversarial.pgd(model, images, labels, epsilon=-0.1)
    with pytest.raises(ValueError, match="step_size"):
        adversarial.pgd(model, images, labels, step_size=float("inf"))
    for steps in (-1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            adversarial.pgd(model, images, labels, steps=steps)
    with pytest.raises(ValueError, match="targeted attack needs labels"):
        adversarial.pgd(model, images, None, targeted=True)
    with pytest.raises(ValueError, match="valid class names are: .disk."):
        adversarial.pgd(model, images, "dog")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adversarial.pgd(model, images * 255, labels)
    with pytest.raises(ValueError, match="one image"):
        adversarial.pgd(model, images[0], labels[:1])
    with pytest.raises(TypeError, match="seed"):
        adversarial.pgd(model, images, labels, seed=0.5)
    _model_untouched(model)


def test_accuracy_under_attack_with_pgd_agrees_with_pgd(batch):
    model, images, labels = batch
    epsilons = [0.0, 4 / 255, 8 / 255]
    curve = adversarial.accuracy_under_attack(model, images, labels, epsilons, attack="pgd", steps=3, batch_size=20)
    with torch.no_grad():
        expected = [(model(adversarial.pgd(model, images, labels, epsilon=e, step_size=e / 4, steps=3)).argmax(1) == labels).float().mean().item() for e in epsilons]
    np.testing.assert_allclose(curve.numpy(), expected, atol=1e-6)
    fgsm_curve = adversarial.accuracy_under_attack(model, images, labels, epsilons)
    assert curve[0] == fgsm_curve[0]
    with pytest.raises(ValueError, match="attack must be"):
        adversarial.accuracy_under_attack(model, images, labels, epsilons, attack="cw")
    _model_untouched(model)


# --------------------------------------------------------------------------- fooling images
def _all_pairs(classes=10):
    sources = torch.arange(classes).repeat_interleave(classes - 1)  # (90,)
    targets = torch.cat([torch.tensor([t for t in range(classes) if t != s]) for s in range(classes)])
    return sources, targets


def test_fool_every_class_to_every_other(shapenet, device):
    """All 90 (source, target) pairs in one batch: >= 99% on every one, small mean change."""
    sources, targets = _all_pairs()
    images = make_shapes(len(sources), seed=5, labels=sources).images.to(device)
    model = shapenet.to(device)
    max_steps, restarts = 50, 5
    result = adversarial.fool(model, images, targets.to(device), max_steps=max_steps, restarts=restarts)
    change = (result.images - images).abs().flatten(1).mean(1)  # (90,) mean |change| per pixel
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert change.mean() <= 0.1
    independent = adversarial.target_confidence(model, result.images, targets.to(device))
    torch.testing.assert_close(independent, result.confidence)
    failed = [(int(s), int(t)) for s, t in zip(sources[~result.success.cpu()], targets[~result.success.cpu()])]
    assert not failed, f"{len(failed)} of 90 pairs missed 99%: {failed}"
    assert bool((result.confidence >= 0.99).all())
    assert int(result.steps.max()) <= max_steps * (restarts + 1)
    torch.testing.assert_close(result.history[0], adversarial.target_confidence(model, images, targets.to(device)).cpu())
    _model_untouched(model)


def test_fool_step_is_the_linearized_step(shapenet, shapes, device):
    """One step by hand: r = overshoot * (log c - log p) g / ||g||^2, mean |r| capped, clipped to [0, 1]."""
    model, images = shapenet.to(device), shapes.images[:6].to(device)
    targets = (shapes.labels[:6] + 4).remainder(10).to(device)
    for max_step in (1 / 255, 0.5):  # the cap binds, then it does not
        result = adversarial.fool(model, images, targets, max_steps=1, restarts=0, max_step=max_step, overshoot=1.5)
        x = images.clone().requires_grad_(True)
        log_p = F.log_softmax(copy.deepcopy(model).eval()(x), dim=1)[torch.arange(6), targets]
        (g,) = torch.autograd.grad(log_p.sum(), x)
        r = (1.5 * (np.log(0.99) - log_p.detach()) / g.pow(2).sum((1, 2, 3)))[:, None, None, None] * g
        mean = r.abs().mean((1, 2, 3), keepdim=True)
        expected = (images + r * torch.clamp(max_step / mean, max=1)).clamp(0, 1)
        torch.testing.assert_close(result.images, expected, atol=1e-5, rtol=0)
        assert bool((result.steps == 1).all())
    _model_untouched(model)


class _Constant(torch.nn.Module):
    """Logits that do not depend on the input: a zero gradient everywhere."""

    classes = ("a", "b")

    def forward(self, x):
        return torch.zeros(len(x), 2, device=x.device) + 0 * x.sum()


def test_fool_with_a_zero_gradient_gives_no_nan(device):
    images = torch.rand(2, 3, 16, 16, device=device)
    result = adversarial.fool(_Constant(), images, 1, max_steps=3, restarts=1, restart_noise=0)
    assert torch.isfinite(result.images).all() and torch.equal(result.images, images)
    assert not result.success.any() and result.steps.tolist() == [6, 6]
    assert result.history.shape == (2 * 4, 2)


def test_fool_respects_epsilon_and_names(shapenet, shapes, device):
    model, images = shapenet.to(device), shapes.images[:4].to(device)
    result = adversarial.fool(model, images, "heart", max_steps=3, epsilon=4 / 255, restarts=2)
    assert (result.images - images).abs().max() <= 4 / 255 + 1e-6  # restarts start inside the bound too
    assert result.history.shape[1] == 4 and result.history[3].mean() > result.history[0].mean()
    with pytest.raises(ValueError, match="valid class names are"):
        adversarial.fool(model, images, "unicorn", max_steps=2)
    with pytest.raises(ValueError, match="2 targets for 4 images"):
        adversarial.fool(model, images, [0, 1], max_steps=2)
    with pytest.raises(ValueError, match="confidence"):
        adversarial.fool(model, images, 0, confidence=1.0)
    with pytest.raises(ValueError, match="restarts"):
        adversarial.fool(model, images, 0, restarts=-1)
    with pytest.raises(ValueError, match="overshoot"):
        adversarial.fool(model, images, 0, overshoot=0)
    _model_untouched(model)


def test_evolution_strategy_raises_confidence_without_gradients(shapenet, device):
    model = shapenet.to(device)
    noise = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0)).to(device)
    result = adversarial.evolve(model, noise, [1, 4, 7], generations=4, population=4)
    assert result.history.shape[1] == 3
    assert bool((result.confidence > result.history[0].to(device)).all())
    assert result.images.min() >= 0 and result.images.max() <= 1
    with pytest.raises(ValueError, match="even integer"):
        adversarial.evolve(model, noise, 0, population=5)
    _model_untouched(model)


# --------------------------------------------------------------------------- HOG
@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
def test_hog_matches_scikit_image(block_norm, device):
    from skimage.feature import hog as skimage_hog

    generator = torch.Generator().manual_seed(1)
    gray = torch.rand(2, 1, 40, 52, generator=generator, dtype=torch.float64)  # uneven: partial cells ignored
    gray[1] = F.avg_pool2d(gray[1:2], 5, 1, 2)[0]  # a smoother image as well
    images = gray.expand(-1, 3, -1, -1).to(device)  # gray RGB: the luminance is the gray value
    options = dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm=block_norm)
    ours = adversarial.hog(images, **options).cpu().numpy()
    for index in range(2):
        reference = skimage_hog(gray[index, 0].numpy(), **options)
        assert ours[index].shape == reference.shape
        np.testing.assert_allclose(ours[index], reference, atol=1e-5)  # float64; differences ~1e-8


def test_hog_is_differentiable_and_checks_inputs(device):
    x = torch.rand(1, 3, 24, 24, dtype=torch.float64, device=device).requires_grad_(True)
    flat = torch.full((1, 3, 24, 24), 0.5, device=device).requires_grad_(True)
    for binning in ("hard", "linear"):
        (gradient,) = torch.autograd.grad(adversarial.hog(x, pixels_per_cell=6, cells_per_block=2, binning=binning).sum(), x)
        assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0
        (gradient,) = torch.autograd.grad(adversarial.hog(flat, binning=binning, cells_per_block=1).sum(), flat)
        assert torch.isfinite(gradient).all()  # a flat image has zero gradients everywhere: no NaN
    with pytest.raises(ValueError, match="fewer than one block"):
        adversarial.hog(torch.rand(1, 3, 16, 16), pixels_per_cell=8, cells_per_block=3)
    with pytest.raises(ValueError, match="block_norm"):
        adversarial.hog(torch.rand(1, 3, 32, 32), block_norm="L3")


def test_match_hog_brings_descriptors_together(device):
    from course_utils.data import load_photos

    photos = load_photos(["camera", "coins"], size=32).to(device)
    result = adversarial.match_hog(photos[:1], photos[1:], steps=40, lr=0.02, pixels_per_cell=8, cells_per_block=2)
    assert result.distance.item() < 0.5 * result.start_distance.item()
    assert result.history[-1] < result.history[0]
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert (result.images - photos[1:]).abs().mean() > 0.05  # still a different picture
    from skimage.feature import hog as skimage_hog  # independent: the distance from scikit-image's descriptors

    gray = lambda x: (x[0].cpu().double() * torch.tensor(adversarial.GRAY_WEIGHTS, dtype=torch.float64)[:, None, None]).sum(0)  # noqa: E731
    ours, goal = (skimage_hog(gray(x).numpy(), 9, (8, 8), (2, 2), "L2-Hys") for x in (result.images, photos[1:]))
    assert result.distance.item() == pytest.approx(np.linalg.norm(ours - goal) / np.linalg.norm(goal), rel=1e-3)
    assert adversarial.hog_distance(photos[1:], photos[1:]).item() == 0
