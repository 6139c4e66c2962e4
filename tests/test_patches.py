import pytest
import torch
from torch import nn

from course_utils import models, patches


@pytest.mark.parametrize(
    "name, size, kinds",
    [("alexnet", 480, ("Conv2d", "MaxPool2d")), ("vgg16", 224, ("MaxPool2d",)), ("shapenet", 160, ("Conv2d", "MaxPool2d"))],
)
def test_analytic_receptive_fields_match_gradient_measurement(name, size, kinds):
    model = models.load(name, weights="random", device="cpu")
    rows = patches.layer_table(model, input_size=size)
    checked = 0
    for row in rows:
        if row.receptive_field is not None and row.name.startswith("features") and row.kind in kinds:
            if 2 * row.receptive_field < size:  # measure only fields that fit whole
                assert patches.measure_receptive_field(model, row.name, size) == (row.receptive_field,) * 2, row
                checked += 1
    assert checked >= 3


def test_known_values_alexnet_and_resnet18():
    alexnet = models.load("alexnet", weights="random", device="cpu")
    table = {row.name: row for row in patches.layer_table(alexnet)}
    assert table["features.0"].output_shape == (64, 55, 55)
    assert (table["features.12"].receptive_field, table["features.12"].jump) == (195, 32)
    assert table["classifier.6"].receptive_field is None and table["classifier.6"].output_shape == (1000,)
    assert table["classifier.6"].note == "all"
    uneven = {row.name: row for row in patches.layer_table(alexnet, input_size=300)}
    assert uneven["features.12"].receptive_field == 195 and uneven["avgpool"].note == "varies"
    assert "varies" in patches.format_layer_table(list(uneven.values()))
    resnet = models.load("resnet18", weights="random", device="cpu")
    assert patches.measure_receptive_field(resnet, "layer4", 1024) == (435, 435)  # published value
    with pytest.raises(NotImplementedError, match="branched"):
        patches.layer_table(resnet)


def test_dilation_padding_and_start_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, dilation=2, padding=2), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3))
    rows = patches.layer_table(net, input_size=32)
    # conv k=3 d=2: k'=5 -> r=5, j=1, c=0+(2-2)=0; pool k=2 s=2: r=6, j=2, c=0.5; conv k=3: r=10, j=2, c=2.5
    assert [(r.receptive_field, r.jump, r.start) for r in rows] == [(5, 1, 0.0), (6, 2, 0.5), (10, 2, 2.5)]
    assert [r.output_shape for r in rows] == [(2, 32, 32), (2, 16, 16), (2, 14, 14)]
    assert patches.measure_receptive_field(net, "2", 32) == (10, 10)
    text = patches.format_layer_table(rows)
    assert "MaxPool2d" in text and "10" in text


def test_measure_leaves_model_untouched_and_validates_layer():
    model = models.load("shapenet", weights="random", device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    patches.measure_receptive_field(model, "features.6", 96)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(model.net.features[2], nn.MaxPool2d)
    with pytest.raises(KeyError, match="valid layer names"):
        patches.measure_receptive_field(model, "conv9")


def test_layer_geometry():
    assert patches.layer_geometry(nn.Conv2d(3, 4, 5, stride=2, padding=1, dilation=3)) == (5, 2, 1, 3)
    assert patches.layer_geometry(nn.MaxPool2d(3)) == (3, 3, 0, 1)  # stride defaults to the kernel
    assert patches.layer_geometry(nn.ReLU()) is None
