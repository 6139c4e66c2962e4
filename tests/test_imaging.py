import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import imaging


def test_to_tensor_from_uint8_array_gray_rgba_and_float():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = imaging.to_tensor(gray)
    assert out.shape == (3, 3, 4) and out.dtype == torch.float32
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert out[0, 0, 1].item() == pytest.approx(1 / 255)

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # one opaque red pixel, the rest transparent -> white
    out = imaging.to_tensor(rgba)
    assert out[:, 0, 0].tolist() == [1, 0, 0]
    assert out[:, 1, 1].tolist() == [1, 1, 1]

    floats = np.full((5, 6, 3), 0.25, np.float32)
    assert imaging.to_tensor(floats).shape == (3, 5, 6)


def test_to_tensor_from_pil_path_and_tensor(tmp_path):
    array = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(array).save(tmp_path / "x.png")
    from_path = imaging.to_tensor(tmp_path / "x.png")
    from_pil = imaging.to_tensor(Image.fromarray(array))
    assert torch.equal(from_path, from_pil)
    assert torch.allclose(from_path.permute(1, 2, 0), torch.from_numpy(array).float() / 255)
    assert imaging.to_tensor(torch.rand(1, 8, 8)).shape == (3, 8, 8)
    round_trip = imaging.to_tensor(imaging.to_pil(from_path))
    assert torch.equal(round_trip, from_path)


def test_resize_shorter_side_and_center_crop():
    image = torch.rand(3, 40, 80)
    assert imaging.resize(image, 20).shape == (3, 20, 20)
    assert imaging.resize(image, (10, 30)).shape == (3, 10, 30)
    assert imaging.resize(image[None], 16).shape == (1, 3, 16, 16)
    const = torch.full((3, 40, 80), 0.3)
    assert torch.allclose(imaging.resize(const, 20), torch.full((3, 20, 20), 0.3), atol=1e-6)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        ("/no/such/file.png", "no image file"),
        (42, "cannot read"),
    ],
)
def test_to_tensor_rejects_bad_input(bad, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=message):
        imaging.to_tensor(bad)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.rand(3, 8, 8), "unsqueeze"),
        (torch.rand(2, 1, 8, 8), "grayscale"),
        (torch.rand(2, 4, 8, 8), "RGBA"),
        (torch.randint(0, 255, (1, 3, 4, 4)), "uint8|float"),
        (torch.full((1, 3, 2, 2), float("inf")), "NaN or infinite"),
        (torch.rand(1, 3, 4, 4) * 255, r"\[0, 1\]"),
        (torch.rand(1, 3, 4, 4) - 0.5, "normalize internally"),
        (np.zeros((1, 3, 4, 4)), "torch.Tensor"),
    ],
)
def test_check_images_errors_name_the_problem(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        imaging.check_images(bad)


def test_to_display_shape():
    assert imaging.to_display(torch.rand(3, 5, 7)).shape == (5, 7, 3)
    assert imaging.to_display(torch.rand(1, 3, 5, 7)).shape == (5, 7, 3)
    with pytest.raises(ValueError):
        imaging.to_display(torch.rand(2, 3, 5, 7))
