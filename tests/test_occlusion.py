"""Occlusion maps (lecture 05): against a naive loop over positions, against Captum, the pointing game."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import attribution, evaluation, hooks
from course_utils.data import make_shapes


class TinyNet(nn.Module):
    """A small classifier with dropout and an in-place ReLU, class names like a course model."""

    classes = ["a", "b", "c", "d"]

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(3),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(54, 4),
        )  # fmt: skip

    def forward(self, images):
        return self.net(images - 0.5) * 4


def naive_occlusion(model, images, targets, window, stride, fill):
    """One forward per position: the independent reference. ``fill`` is ``(N, 3, H, W)``."""
    count, _, height, width = images.shape
    rows, cols = (height - window) // stride + 1, (width - window) // stride + 1
    probability = torch.empty(count, rows, cols)
    top = torch.empty(count, rows, cols, dtype=torch.long)
    with torch.no_grad():
        for n in range(count):
            for i in range(rows):
                for j in range(cols):
                    image = images[n : n + 1].clone()
                    box = (slice(None), slice(None), slice(i * stride, i * stride + window), slice(j * stride, j * stride + window))
                    image[box] = fill[n : n + 1][box]
                    probs = model(image).softmax(1)[0]
                    probability[n, i, j], top[n, i, j] = probs[targets[n]], probs.argmax()
    return probability, top


def assert_untouched(model, was_training):
    assert model.training == was_training
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("baseline", [0.5, 0.0, (0.2, 0.9, 0.4), "mean", "blur"])
def test_matches_naive_loop(device, baseline):
    model = TinyNet().to(device)
    model.train()  # the function must work in eval mode and restore train mode
    images = torch.rand(3, 3, 13, 11, generator=torch.Generator().manual_seed(1)).to(device)
    maps = attribution.occlusion(model, images, [0, "c", 3], window=4, stride=3, baseline=baseline, batch_size=5)
    assert maps.probability.shape == maps.top_class.shape == (3, 4, 3)
    assert maps.probability.device.type == device.type and maps.top_class.dtype == torch.long
    assert_untouched(model, True)
    if baseline == "mean":
        fill = images.mean((2, 3), keepdim=True).expand_as(images)
    elif baseline == "blur":  # independent blur: a dense 2-D Gaussian kernel, reflected borders
        sigma, radius = 2.0, 6
        offsets = torch.arange(-radius, radius + 1.0)
        kernel = torch.exp(-(offsets[:, None] ** 2 + offsets[None] ** 2) / (2 * sigma**2))
        kernel = (kernel / kernel.sum()).to(device)
        padded = F.pad(images, (radius,) * 4, mode="reflect")
        fill = torch.cat([F.conv2d(padded[:, c : c + 1], kernel[None, None]) for c in range(3)], 1)
    else:
        fill = torch.as_tensor(baseline, dtype=torch.float32, device=device).reshape(1, -1, 1, 1).expand_as(images)
    model.eval()
    probability, top = naive_occlusion(model, images, [0, 2, 3], 4, 3, fill)
    torch.testing.assert_close(maps.probability.cpu(), probability, atol=1e-5, rtol=1e-4)
    assert torch.equal(maps.top_class.cpu(), top)


def test_shapenet_default_target_batching_and_device(device, shapenet, shapes):
    model = copy.deepcopy(shapenet).to(device)
    images = shapes.images[:2].to(device)
    maps = attribution.occlusion(model, images, window=24, stride=20)  # h = w = 3
    with torch.no_grad():
        predicted = model(images).argmax(1)
    probability, top = naive_occlusion(model, images, predicted.tolist(), 24, 20, torch.full_like(images, 0.5))
    torch.testing.assert_close(maps.probability.cpu(), probability, atol=1e-5, rtol=1e-4)
    assert torch.equal(maps.top_class.cpu(), top)
    for batch_size in (1, 7, 1000):  # any chunking gives the same maps
        other = attribution.occlusion(model, images, predicted, window=24, stride=20, batch_size=batch_size)
        torch.testing.assert_close(other.probability, maps.probability, atol=1e-5, rtol=1e-4)
    assert_untouched(model, False)


def test_batched_not_one_forward_per_position(shapenet, shapes):
    calls = []
    handle = shapenet.register_forward_pre_hook(lambda module, args: calls.append(len(args[0])))
    try:
        attribution.occlusion(shapenet, shapes.images[:4], window=8, stride=8)  # 4 x 64 positions
    finally:
        handle.remove()
    assert calls[0] == 4 and sum(calls[1:]) == 4 * 64  # the originals (target=None), then the positions
    assert len(calls) == 2, f"expected one batch for 256 small images, got batch sizes {calls}"
    assert hooks.count_hooks(shapenet) == 0


def captum_occlusion(model, images, targets, window, stride, baseline, per_eval=1):
    from captum.attr import Occlusion

    forward = lambda x: model(x).softmax(1)  # noqa: E731  probabilities, as in our maps
    return Occlusion(forward).attribute(
        images, sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
        baselines=baseline, target=targets, perturbations_per_eval=per_eval,
    )  # fmt: skip


@pytest.mark.parametrize("window, stride, baseline", [(8, 8, 0.5), (16, 6, 0.0), (12, 4, "mean")])
def test_matches_captum(device, shapenet, shapes, window, stride, baseline):
    """Captum returns p(original) - p(occluded) spread over each window's pixels and averaged over
    the windows covering a pixel: rebuild exactly that from our probability map. (Captum also
    slides a truncated window past the border when ``(H - window) % stride != 0``; the sizes here
    divide evenly, so both use the same windows.)"""
    model = copy.deepcopy(shapenet).to(device)
    images = shapes.images[:1 if window == 12 else 2].to(device)
    assert (images.shape[-1] - window) % stride == 0
    with torch.no_grad():
        original = model(images).softmax(1)
    targets = original.argmax(1)
    maps = attribution.occlusion(model, images, targets, window=window, stride=stride, baseline=baseline)
    captum_baseline = images.mean((2, 3), keepdim=True).expand_as(images).contiguous() if baseline == "mean" else baseline
    captum = captum_occlusion(model, images, targets, window, stride, captum_baseline, per_eval=16)
    drop = original.gather(1, targets[:, None])[:, :, None] - maps.probability  # (N, h, w)
    ones = torch.ones(1, 1, window, window, device=device)
    spread = F.conv_transpose2d(drop[:, None], ones, stride=stride)  # (N, 1, H, W): sum over covering windows
    count = F.conv_transpose2d(torch.ones_like(drop[:, None]), ones, stride=stride)  # windows per pixel
    torch.testing.assert_close(captum, (spread / count).expand_as(captum), atol=2e-5, rtol=1e-4)
    if stride == window:  # non-overlapping windows: Captum's value at each window centre is the drop itself
        centres = captum[:, 0, window // 2 :: stride, window // 2 :: stride]
        torch.testing.assert_close(centres, drop, atol=2e-5, rtol=1e-4)


def test_pointing_game_on_fresh_shapes(shapenet):
    """The window that hurts the correct class most lies on the object (Zeiler & Fergus, Fig. 7)."""
    batch = make_shapes(40, seed=20_505)  # a seed neither training nor validation used
    with torch.no_grad():
        correct = shapenet(batch.images).argmax(1) == batch.labels
    maps = attribution.occlusion(shapenet, batch.images, batch.labels, window=16, stride=12)  # 5 x 5 windows
    hits, chance = evaluation.window_pointing_game(maps.probability, batch.masks, window=16, stride=12)
    rate, chance_rate = hits[correct].float().mean().item(), chance[correct].mean().item()
    print(f"\npointing game: {rate:.0%} of {int(correct.sum())} correctly classified images "
          f"(chance with a uniformly random window: {chance_rate:.0%})")  # fmt: skip
    assert correct.float().mean() > 0.8
    assert rate >= 0.9 and rate > chance_rate + 0.2


def test_pointing_game_and_overlap_by_hand():
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 6:, 6:] = True  # bottom-right corner only
    masks[1, 0, 0] = True  # top-left pixel only
    overlap = evaluation.window_overlap(masks, window=4, stride=2)  # 3 x 3 positions
    assert overlap.shape == (2, 3, 3) and overlap[0].sum() == 1 and overlap[0, 2, 2] and overlap[1, 0, 0]
    probability = torch.ones(2, 3, 3)
    probability[0, 2, 2] = 0.1  # lowest on the object: a hit
    probability[1, 1, 1] = 0.1  # lowest elsewhere: a miss
    hits, chance = evaluation.window_pointing_game(probability, masks, window=4, stride=2)
    assert hits.tolist() == [True, False]
    torch.testing.assert_close(chance, torch.tensor([1 / 9, 1 / 9]))


def test_occlude_shows_the_baseline_inside_the_window_only():
    images = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    occluded = attribution.occlude(images, window=4, stride=3, baseline=0.0)
    assert occluded.shape == (2, 3, 3, 3, 10, 10)
    inside = torch.zeros(10, 10, dtype=torch.bool)
    inside[3:7, 6:10] = True
    assert torch.all(occluded[1, 1, 2][:, inside] == 0)
    assert torch.equal(occluded[1, 1, 2][:, ~inside], images[1][:, ~inside])


def test_errors_name_the_problem(shapenet, shapes):
    images = shapes.images[:2]
    cases = [
        (dict(window=65, stride=4), ValueError, "larger than the images"),
        (dict(window=8, stride=0), ValueError, "stride must be a positive"),
        (dict(window=0, stride=2), ValueError, "window must be a positive"),
        (dict(window=8.5, stride=2), TypeError, "window must be a positive int"),
        (dict(window=8, stride=4, baseline="zeros"), ValueError, "'mean' or 'blur'"),
        (dict(window=8, stride=4, baseline=2.0), ValueError, "in \\[0, 1\\]"),
        (dict(window=8, stride=4, batch_size=0), ValueError, "batch_size"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            attribution.occlusion(shapenet, images, 0, **kwargs)
    with pytest.raises(ValueError, match="'disk', 'square'"):
        attribution.occlusion(shapenet, images, "cat", window=8, stride=8)
    with pytest.raises(ValueError, match="out of range"):
        attribution.occlusion(shapenet, images, 10, window=8, stride=8)
    with pytest.raises(ValueError, match="one per image"):
        attribution.occlusion(shapenet, images, [0, 1, 2], window=8, stride=8)
    with pytest.raises(TypeError, match="uint8"):
        attribution.occlusion(shapenet, (images * 255).to(torch.uint8), window=8, stride=8)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attribution.occlusion(shapenet, images * 255, window=8, stride=8)
    assert_untouched(shapenet, False)


def test_model_restored_after_an_exception():
    model = TinyNet()
    model.train()

    def boom(module, args):
        if len(args[0]) > 1:
            raise RuntimeError("boom")

    handle = model.net[0].register_forward_pre_hook(boom)
    with pytest.raises(RuntimeError, match="boom"):
        attribution.occlusion(model, torch.rand(1, 3, 8, 8), 0, window=2, stride=2)
    handle.remove()
    assert_untouched(model, True)
    assert math.isclose(model.net[4].p, 0.5)


def test_quiz_records_answers_and_accuracy():
    from course_utils import widgets

    items = widgets.make_quiz(levels=(0.0, 0.5), per_level=3, seed=4)
    assert items.images.shape == (6, 3, 64, 64) and items.levels.tolist() == [0.0] * 3 + [0.5] * 3
    assert torch.equal(items.images, widgets.make_quiz(levels=(0.0, 0.5), per_level=3, seed=4).images)
    grey = (items.images[3:] == 0.5).all(dim=1).float().mean((1, 2))  # exactly half the pixels grey
    torch.testing.assert_close(grey, torch.full((3,), 0.5))
    assert torch.all(items.visible[:3] == 1) and torch.all(items.visible[3:] <= 1)
    quiz = widgets.OcclusionQuiz(items)
    names = [items.classes[label] for label in items.labels.tolist()]
    wrong = next(name for name in items.classes if name != names[1])
    for answer in (names[0], wrong, names[2], names[3]):  # 2 of 3 right at 0%, 1 of 1 at 50%
        quiz.answer(answer)
    levels, accuracy, counts = quiz.accuracy()
    assert levels.tolist() == [0.0, 0.5] and counts.tolist() == [3, 1]
    assert accuracy.tolist() == pytest.approx([2 / 3, 1.0])
    assert "Item 5 of 6" in quiz._status.value
    with pytest.raises(ValueError, match="answer one of"):
        quiz.answer("cat")
    quiz.answer(names[4]), quiz.answer(names[5])
    assert "Done" in quiz._status.value
    with pytest.raises(IndexError, match="finished"):
        quiz.answer(names[0])
    button = quiz.widget.children[2].children[items.classes.index(names[0])]
    assert button.description == names[0]  # the buttons are wired to answer(...)


def test_simulated_reader_and_accuracy_by_level():
    from course_utils import widgets

    items = widgets.make_quiz(levels=(0.0, 1.0), per_level=200, seed=1)
    correct = (widgets.simulated_reader(items, seed=0) == items.labels).numpy()
    levels, accuracy, counts = widgets.accuracy_by_level(correct, items.levels)
    assert levels.tolist() == [0.0, 1.0] and counts.tolist() == [200, 200]
    assert accuracy[0] == 1.0 and abs(accuracy[1] - 0.1) < 0.06  # all visible: right; none: guessing


def test_explorer_and_figures_draw(shapenet, shapes):
    import matplotlib.pyplot as plt

    from course_utils import plotting, widgets

    box = widgets.occlusion_explorer(shapenet, shapes.images[:2], masks=shapes.masks[:2])
    window = box.children[0].children[1]
    window.value = 40  # redraws without error
    maps = attribution.occlusion(shapenet, shapes.images[:2], window=16, stride=16)
    fig = plotting.show_occlusion(shapes.images[:2], maps, shapenet.classes, window=16, stride=16, masks=shapes.masks[:2])
    assert len(fig.axes) >= 8
    fig2 = plotting.show_quiz_results([0, 0.5], {"network": [1.0, 0.5]}, chance=0.1)
    assert fig2.axes[0].get_xlabel().startswith("share")
    plt.close("all")
    assert hooks.count_hooks(shapenet) == 0


@pytest.mark.parametrize("baseline", [0.5, "mean"])
def test_occlusion_activation_matches_naive_loop(device, baseline):
    """Zeiler & Fergus Fig. 7 (b): the total activation of one feature map per window position,
    against one forward pass per position with the layer's output read by hand."""
    model = TinyNet().to(device)
    model.train()
    images = torch.rand(2, 3, 10, 9, generator=torch.Generator().manual_seed(5)).to(device)
    result = attribution.occlusion_activation(model, images, "net.1", window=3, stride=2, baseline=baseline, batch_size=7)
    assert result.activation.shape == (2, 4, 4) and result.channel.shape == (2,)
    assert_untouched(model, True)
    model.eval()
    with torch.no_grad():
        clean = model.net[:2](images - 0.5).sum((2, 3))  # (N, C): the channels' total activations
    assert torch.equal(result.channel.cpu(), clean.argmax(1).cpu())  # the strongest map of each unoccluded image
    torch.testing.assert_close(result.unoccluded, clean.gather(1, result.channel[:, None])[:, 0])
    fill = images.mean((2, 3), keepdim=True).expand_as(images) if baseline == "mean" else torch.full_like(images, 0.5)
    expected = torch.empty(2, 4, 4)
    with torch.no_grad():
        for n in range(2):
            for i in range(4):
                for j in range(4):
                    image = images[n : n + 1].clone()
                    box = (slice(None), slice(None), slice(2 * i, 2 * i + 3), slice(2 * j, 2 * j + 3))
                    image[box] = fill[n : n + 1][box]
                    expected[n, i, j] = model.net[:2](image - 0.5)[0, int(result.channel[n])].sum()
    torch.testing.assert_close(result.activation.cpu(), expected, atol=1e-5, rtol=1e-4)
    fixed = attribution.occlusion_activation(model, images, "net.1", 4, window=3, stride=2, baseline=baseline)
    assert fixed.channel.tolist() == [4, 4]
    with pytest.raises(ValueError, match="channel must be"):
        attribution.occlusion_activation(model, images, "net.1", 6, window=3, stride=2)
    with pytest.raises(ValueError, match="feature maps"):
        attribution.occlusion_activation(model, images, "net.5", window=3, stride=2)
    with pytest.raises(KeyError):
        attribution.occlusion_activation(model, images, "net.99", window=3, stride=2)
    assert_untouched(model, False)


def test_feature_occlusion_and_answer_figures(shapenet, shapes):
    import matplotlib.pyplot as plt

    from course_utils import plotting, widgets

    images = shapes.images[:2]
    feature = attribution.occlusion_activation(shapenet, images, shapenet.roles["last_conv"], window=16, stride=16)
    maps = attribution.occlusion(shapenet, images, window=16, stride=16)
    fig = plotting.show_feature_occlusion(images, feature, maps, shapenet.classes, window=16, stride=16,
                                          layer="features.9", masks=shapes.masks[:2], top_patches=torch.rand(2, 4, 3, 8, 8))
    assert "(b) features.9 channel" in fig.axes[1].get_title() and sum(len(ax.images) for ax in fig.axes) == 2 * 4
    items = widgets.make_quiz(levels=(0.0, 0.85), per_level=5, seed=2)
    fig2 = plotting.show_answers_by_level(items.levels, items.labels, items.classes)
    heights = sum(patch.get_height() for patch in fig2.axes[0].patches)
    assert heights == pytest.approx(200)  # two levels, each 100% of its answers
    plt.close("all")
    assert hooks.count_hooks(shapenet) == 0


def test_replacement_classes():
    probability = torch.tensor([[[0.9, 0.2], [0.1, 0.3]], [[0.9, 0.8], [0.7, 0.6]]])  # (2, 2, 2)
    top_class = torch.tensor([[[0, 2], [2, 1]], [[0, 0], [0, 0]]])
    maps = attribution.OcclusionMaps(probability, top_class)
    assert attribution.replacement_classes(maps, [0, 0]) == [2, None]  # 2 twice, 1 once; image 1 never loses
    assert attribution.replacement_classes(maps, [0, 0], threshold=0.95) == [2, None]
    with pytest.raises(ValueError, match="targets"):
        attribution.replacement_classes(maps, [0])
