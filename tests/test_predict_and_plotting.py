import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import data, models, plotting  # noqa: E402


def test_topk_matches_softmax_and_sorting():
    model = models.load("resnet18", weights="random", device="cpu")
    images = torch.rand(3, 3, 64, 64)
    result = models.topk_predictions(model, images, k=5)
    with torch.no_grad():
        probabilities = model(images).softmax(1)
    for row, probs in zip(result, probabilities):
        assert len(row) == 5
        values = [p for _, p in row]
        assert values == sorted(values, reverse=True)
        best = int(probs.argmax())
        assert row[0][0] == model.classes[best] and row[0][1] == pytest.approx(probs[best].item(), rel=1e-5)
        # Independent check: the 5th value is the 5th largest probability.
        assert values[4] == pytest.approx(probs.sort(descending=True).values[4].item(), rel=1e-5)


def test_topk_restores_train_mode_and_checks_arguments(shapenet):
    shapenet.train()
    try:
        models.topk_predictions(shapenet, torch.rand(1, 3, 64, 64), k=1)
        assert shapenet.training
    finally:
        shapenet.eval()
    with pytest.raises(ValueError, match="between 1 and 10"):
        models.topk_predictions(shapenet, torch.rand(1, 3, 64, 64), k=11)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        models.topk_predictions(shapenet, torch.rand(1, 3, 64, 64) * 3)
    with pytest.raises(ValueError, match="not a classifier"):
        models.topk_predictions(models.load("texturenet", device="cpu"), torch.rand(1, 3, 32, 32))


def test_example_images_suit_the_model(shapenet):
    images, captions = data.example_images(shapenet, n=4)
    assert images.shape == (4, 3, 64, 64) and all(c.startswith("true: ") for c in captions)
    imagenet_like = models.load("alexnet", weights="random", device="cpu")
    photos, names = data.example_images(imagenet_like, n=2, size=32)
    assert photos.shape == (2, 3, 32, 32) and names == ["chelsea", "coffee"]


def test_figures_are_drawn():
    images = torch.rand(4, 3, 16, 16)
    assert len(plotting.show_images(images, ["a", "b", "c", "d"], ncols=2).axes) == 4
    with pytest.raises(ValueError, match="titles"):
        plotting.show_images(images, ["a"])
    predictions = [[("x", 0.7), ("y", 0.2)]] * 4
    assert plotting.show_predictions(images, predictions, ncols=2)
    overlay = plotting.heatmap_overlay(images[0], torch.rand(16, 16))
    assert overlay.shape == (16, 16, 3) and 0 <= overlay.min() and overlay.max() <= 1
    with pytest.raises(ValueError, match="heatmap"):
        plotting.heatmap_overlay(images[0], torch.rand(8, 8))
    assert plotting.show_heatmaps(images, torch.rand(4, 16, 16))
    labels = torch.tensor([0, 1, 1, 2])
    assert plotting.show_confusion(labels, torch.tensor([0, 1, 2, 2]), ["a", "b", "c"])
    assert plotting.show_preprocessing(images[0], images[1], images[2] - 0.5)
    matrix = plotting.confusion_matrix(labels, torch.tensor([0, 1, 2, 2]), 3)
    torch.testing.assert_close(matrix, torch.tensor([[100.0, 0, 0], [0, 50, 50], [0, 0, 100]]))
    assert len(plotting.show_confusion(labels, torch.tensor([0, 1, 2, 2]), ["a", "b", "c"]).axes) == 2  # + colourbar
    shown = plotting.show_class_examples(torch.rand(5, 3, 8, 8), torch.tensor([2, 0, 1, 0, 2]), ["a", "b", "c"])
    assert [ax.get_title() for ax in shown.axes if ax.images] == ["0: a", "1: b", "2: c"]
    with pytest.raises(ValueError, match="no image of the classes"):
        plotting.show_class_examples(torch.rand(2, 3, 8, 8), torch.tensor([0, 0]), ["a", "b"])
    matplotlib.pyplot.close("all")
