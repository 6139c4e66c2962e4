"""Lecture 03: top activations over a dataset, receptive boxes and crops, against brute force."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from course_utils import hooks, patches


@pytest.fixture(scope="module")
def images(shapes):
    return shapes.images[:40]  # (40, 3, 64, 64)


def _model(shapenet, device):
    model = copy.deepcopy(shapenet).to(device)
    model.train()  # the function must restore the caller's mode
    return model


def _all_maps(model, images, layer, batch_size):
    """Brute force: every activation map of the dataset, same batches, then one global top-k."""
    with torch.no_grad():
        maps = [hooks.activations(model, batch, layer)[layer] for batch in images.split(batch_size)]
    maps = torch.cat(maps)  # (N, C, h, w) or (N, C)
    return maps if maps.ndim == 4 else maps[:, :, None, None]


def _assert_untouched(model):
    assert model.training and all(m.training for m in model.modules())
    assert hooks.count_hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer, channels", [("features.4", [5, 0, 17]), ("features.9", None), ("classifier.5", [1, 2])])
def test_equals_brute_force_top_k(shapenet, images, device, layer, channels):
    model = _model(shapenet, device)
    top = patches.top_activations(model, images.to(device), layer, k=7, channels=channels, batch_size=16)
    maps = _all_maps(model, images.to(device), layer, 16).cpu()
    chosen = torch.arange(maps.shape[1]) if channels is None else torch.tensor(channels)
    maps = maps[:, chosen]  # (N, C', h, w)
    n, c, h, w = maps.shape
    flat = maps.transpose(0, 1).reshape(c, -1)  # (C', N h w)
    values, index = flat.topk(7, dim=1)
    assert all(t.shape == (c, 7) and t.device.type == "cpu" for t in top)
    assert torch.equal(top.values, values)  # exactly, same arithmetic
    assert torch.equal(maps[top.image, torch.arange(c)[:, None], top.y, top.x], top.values)
    positions = (top.image * h + top.y) * w + top.x
    assert all(len(set(row.tolist())) == 7 for row in positions)  # never the same unit twice
    tied = (flat[:, None, :] == values[:, :, None]).sum(-1) > 1  # (C', 7): value occurs more than once
    assert torch.equal(positions[~tied], index[~tied])
    assert (~tied).float().mean() > 0.5  # the test compares positions for real
    if layer.startswith("classifier"):
        assert (top.y == 0).all() and (top.x == 0).all()
    _assert_untouched(model)


def test_dataset_dataloader_and_tensor_agree(shapenet, images):
    labels = torch.arange(len(images))
    by_tensor = patches.top_activations(shapenet, images, "features.7", k=5, channels=[3, 4], batch_size=9)
    by_dataset = patches.top_activations(shapenet, TensorDataset(images, labels), "features.7", k=5,
                                         channels=[3, 4], batch_size=9)  # fmt: skip
    loader = DataLoader(TensorDataset(images), batch_size=9)
    by_loader = patches.top_activations(shapenet, loader, "features.7", k=5, channels=[3, 4])

    class Plain(Dataset):  # items are bare images
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return images[i]

    by_plain = patches.top_activations(shapenet, Plain(), "features.7", k=5, channels=[3, 4], batch_size=9)
    for other in (by_dataset, by_loader, by_plain):
        for a, b in zip(by_tensor, other):
            assert torch.equal(a, b)
    assert torch.equal(patches.fetch_images(TensorDataset(images, labels), by_tensor.image[0]),
                       images[by_tensor.image[0]])  # fmt: skip


def test_one_per_image_is_best_distinct_images(shapenet, images, device):
    model = _model(shapenet, device)
    top = patches.top_activations(model, images.to(device), "features.6", k=6, channels=[2, 9], one_per_image=True,
                                  batch_size=16)  # fmt: skip
    maps = _all_maps(model, images.to(device), "features.6", 16).cpu()[:, [2, 9]]  # (N, 2, 8, 8)
    peak = maps.flatten(2).amax(2).T  # (2, N): each image's best unit
    assert torch.equal(top.values, peak.topk(6, dim=1).values)
    assert all(len(set(row.tolist())) == 6 for row in top.image)
    assert torch.equal(maps[top.image, torch.arange(2)[:, None], top.y, top.x], top.values)
    _assert_untouched(model)


def test_streaming_memory_is_bounded_by_k(shapenet, images, monkeypatch):
    """The running state never grows with the data: the merge sees at most k + k entries per channel."""
    widths = []
    original = torch.Tensor.argsort

    def spy(self, *args, **kwargs):
        widths.append(self.shape[-1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "argsort", spy)
    patches.top_activations(shapenet, images, "features.9", k=4, channels=[0], batch_size=4)
    assert len(widths) == len(images) // 4 - 1 and max(widths) == 8


def test_errors(shapenet, images):
    with pytest.raises(ValueError, match="k=41 is larger than the data"):
        patches.top_activations(shapenet, images, "classifier.5", k=41)
    assert patches.top_activations(shapenet, images, "classifier.5", k=40, channels=0).values.shape == (1, 40)
    with pytest.raises(ValueError, match="larger than the data"):
        patches.top_activations(shapenet, images[:2], "features.9", k=129)
    with pytest.raises(KeyError, match="valid layer names"):
        patches.top_activations(shapenet, images, "conv9")
    with pytest.raises(IndexError, match="the layer has 96 channels, 0 to 95"):
        patches.top_activations(shapenet, images, "features.4", channels=[3, 96])
    with pytest.raises(ValueError, match="positive"):
        patches.top_activations(shapenet, images, "features.4", k=0)
    with pytest.raises(TypeError, match="float"):
        patches.top_activations(shapenet, (images * 255).to(torch.uint8), "features.4")
    with pytest.raises(TypeError, match="Dataset or a DataLoader"):
        patches.top_activations(shapenet, [images], "features.4")
    assert hooks.count_hooks(shapenet) == 0 and not shapenet.training


def _support_boxes(net, layer_index, size):
    """Independent reference: the input pixels each unit depends on, by autograd on positive weights."""
    image = torch.ones(1, 3, size, size, requires_grad=True)
    out = net[: layer_index + 1](image)[0].sum(0)  # (h, w)
    boxes = torch.zeros(*out.shape, 4, dtype=torch.long)
    for y in range(out.shape[0]):  # a few dozen units: a plain loop is the clear reference
        for x in range(out.shape[1]):
            (grad,) = torch.autograd.grad(out[y, x], image, retain_graph=True)
            rows, cols = grad[0].abs().sum(0).any(1).nonzero(), grad[0].abs().sum(0).any(0).nonzero()
            boxes[y, x] = torch.stack([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1])
    return boxes


def test_receptive_box_matches_autograd_support():
    net = nn.Sequential(nn.Conv2d(3, 2, 5, stride=2, padding=2), nn.AvgPool2d(3, 2, padding=1),
                        nn.Conv2d(2, 2, 4, padding=2), nn.Flatten(), nn.LazyLinear(3))  # fmt: skip
    net(torch.zeros(1, 3, 24, 24))
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0)
    for index, name in [(0, "0"), (1, "1"), (2, "2")]:
        expected = _support_boxes(net, index, 24)  # (h, w, 4)
        h, w = expected.shape[:2]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        box = patches.receptive_box(net, name, yy, xx, image_size=24)
        assert torch.equal(torch.stack(box, -1), expected), name
    assert patches.receptive_box(net, "4", 0, 0, image_size=24) == (0, 0, 24, 24)  # fully connected


def test_receptive_box_known_values_and_errors(shapenet):
    # features.9: r = 57, jump 8, first centre 2 -> unit (y, x) spans 2 + 8 y - 28 ... + 57
    assert patches.receptive_box(shapenet, "features.9", 0, 0, clip=False) == (-26, -26, 31, 31)
    assert patches.receptive_box(shapenet, "features.9", 0, 0) == (0, 0, 31, 31)
    assert patches.receptive_box(shapenet, "features.9", 7, 3) == (30, 0, 64, 55)
    box = patches.receptive_box(shapenet, "features.9", torch.tensor([[0, 7]]), torch.tensor([[0, 3]]))
    assert box.top.shape == (1, 2) and box.bottom.tolist() == [[31, 64]]
    assert patches.receptive_box(shapenet, "classifier.5", 0, 0) == (0, 0, 64, 64)
    assert patches.receptive_box(shapenet, "features.9", 0, 0, image_size=96) == (0, 0, 31, 31)
    with pytest.raises(ValueError, match=r"y must be in \[0, 7\]"):
        patches.receptive_box(shapenet, "features.9", 8, 0)
    with pytest.raises(ValueError, match="uneven"):
        patches.receptive_box(shapenet, "avgpool", 0, 0, image_size=96)
    with pytest.raises(KeyError, match="valid layer names"):
        patches.receptive_box(shapenet, "nope", 0, 0)
    assert hooks.count_hooks(shapenet) == 0


def test_crop_patches_against_slicing(images, device):
    images = images[:3].to(device)
    boxes = torch.tensor([[0, 0, 16, 16], [5, 9, 21, 25], [40, 30, 56, 46]])
    crops = patches.crop_patches(images, boxes, 16)  # same size: the exact pixels
    expected = torch.stack([im[:, t:b, l:r] for im, (t, l, b, r) in zip(images, boxes.tolist())])
    torch.testing.assert_close(crops, expected)
    halves = patches.crop_patches(images, boxes, 8)  # half size: the mean of each 2 x 2 block
    torch.testing.assert_close(halves, F.avg_pool2d(expected, 2))
    index = torch.tensor([2, 2, 0])
    picked = patches.crop_patches(images, patches.Box(*boxes.T), 16, index=index)  # a Box of tensors
    torch.testing.assert_close(picked[0], images[2, :, 0:16, 0:16])
    torch.testing.assert_close(picked[2], images[0, :, 40:56, 30:46])
    outside = patches.crop_patches(images[:1], torch.tensor([[-40, -40, -24, -24]]), 4, fill=0.25)
    torch.testing.assert_close(outside, torch.full_like(outside, 0.25))
    assert crops.device.type == device.type
    with pytest.raises(ValueError, match="give index="):
        patches.crop_patches(images, boxes[:2], 8)
    with pytest.raises(ValueError, match="bottom > top"):
        patches.crop_patches(images[:1], torch.tensor([[5, 5, 5, 9]]), 8)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        patches.crop_patches(images[:1], torch.tensor([[5, 5, 9]]), 8)


def test_peak_activations_and_top_patches(shapenet, images):
    peaks = patches.peak_activations(shapenet, images, "features.7", batch_size=16)
    assert torch.equal(peaks, _all_maps(shapenet, images, "features.7", 16).amax((2, 3)))
    top = patches.top_activations(shapenet, images, "features.7", k=4, channels=[1, 6], one_per_image=True)
    crops, boxes = patches.top_patches(shapenet, images, "features.7", top, size=20, clip=True)
    assert crops.shape == (2, 4, 3, 20, 20) and boxes.top.shape == (2, 4)
    expected = patches.crop_patches(images[top.image[1]], patches.receptive_box(shapenet, "features.7", top.y[1],
                                    top.x[1]), 20)  # fmt: skip
    torch.testing.assert_close(crops[1], expected)
    assert hooks.count_hooks(shapenet) == 0


def test_class_selectivity_by_hand():
    peaks = torch.tensor([[4.0, 1.0, 0.0], [2.0, 1.0, 0.0], [1.0, 1.0, 3.0], [1.0, 1.0, 1.0]])  # (N=4, C=3)
    labels = torch.tensor([0, 0, 1, 1])
    result = patches.class_selectivity(peaks, labels)
    # channel 0: means 3 and 1 -> (3 - 1) / 4; channel 1: no preference; channel 2: means 0 and 2 -> 1
    torch.testing.assert_close(result.index, torch.tensor([0.5, 0.0, 1.0]))
    assert result.group[0] == 0 and result.group[2] == 1
    with pytest.raises(ValueError, match="needs an image"):
        patches.class_selectivity(peaks, labels, groups=3)


def test_random_crops_are_lazy_and_repeatable(shapes):
    photos = shapes.images[:2]  # (2, 3, 64, 64)
    crops = patches.RandomCrops(photos, 50, 24, scale=(0.25, 0.5), seed=1)
    assert len(crops) == 50 and torch.equal(crops[7], crops[7]) and crops[7].shape == (3, 24, 24)
    photo, top, left, side = crops.box(7)
    assert 16 <= side <= 32 and top + side <= 64 and left + side <= 64
    from course_utils.imaging import resize

    torch.testing.assert_close(crops[7], resize(photos[photo, :, top : top + side, left : left + side], (24, 24)))
    assert not torch.equal(crops[7], patches.RandomCrops(photos, 50, 24, seed=2)[7])
    with pytest.raises(IndexError):
        crops[50]


def test_figures(shapes):
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import plotting

    crops, values = torch.rand(2, 5, 3, 8, 8), torch.rand(2, 5)
    fig = plotting.show_top_patches(crops, values, ["a", "b"])
    assert len([ax for ax in fig.get_axes() if ax.images]) == 10
    fig = plotting.show_boxes(shapes.images[:3], torch.tensor([[0, 0, 10, 10]] * 3), torch.rand(3))
    assert sum(len(ax.patches) for ax in fig.get_axes()) == 3
    with pytest.raises(ValueError, match="titles"):
        plotting.show_top_patches(crops, values, ["a"])
    with pytest.raises(ValueError, match="boxes"):
        plotting.show_boxes(shapes.images[:3], torch.tensor([[0, 0, 10, 10]]))


def test_most_selective_units_one_per_favourite_group():
    selectivity = patches.Selectivity(torch.tensor([0.2, 0.9, 0.5, 0.7, 0.1]), torch.tensor([2, 0, 2, 0, 3]))
    channels, groups = patches.most_selective_units(selectivity)
    assert channels.tolist() == [1, 2, 4] and groups.tolist() == [0, 2, 3]  # group 1 is nobody's favourite


def test_majority_labels_and_colour_names():
    labels = torch.tensor([[3, 3, 1, 3], [0, 1, 1, 0]])
    assert patches.majority_labels(labels) == [(3, 3), (0, 2)]  # a tie goes to the smallest label
    assert patches.majority_labels(labels, ["a", "b", "c", "d"]) == [("d", 3), ("a", 2)]
    with pytest.raises(ValueError, match=r"\(U, k\)"):
        patches.majority_labels(torch.tensor([1, 2]))
    colours = torch.tensor([[0.9, 0.1, 0.1], [0.9, 0.9, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.8], [0.1, 0.1, 0.9],
                            [0.8, 0.1, 0.8], [0.5, 0.5, 0.55], [0.05, 0.1, 0.02]])  # fmt: skip
    assert patches.colour_names(colours) == ["red", "yellow", "green", "cyan", "blue", "magenta", "grey", "dark"]
    from matplotlib.colors import rgb_to_hsv  # an independent hue for random saturated colours

    random = torch.rand(200, 3)
    hsv = torch.from_numpy(rgb_to_hsv(random.numpy()))
    keep = (hsv[:, 1] >= 0.25) & (hsv[:, 2] >= 0.2)
    bins = ((hsv[:, 0] + 1 / 12) % 1 * 6).long().clamp(max=5)
    names = patches.colour_names(random)
    assert [n for n, k in zip(names, keep) if k] == [patches.HUE_NAMES[b] for b, k in zip(bins.tolist(), keep) if k]
