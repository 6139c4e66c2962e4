"""The pointing game and mask IoU, against brute-force loops."""
import numpy as np
import pytest
import torch

from course_utils.evaluation import mask_iou, pointing_game


def _brute_force(maps, masks, tolerance):
    hits, chance = [], []
    for heat, mask in zip(maps.numpy(), masks.numpy()):
        y, x = np.unravel_index(np.argmax(heat), heat.shape)
        objects = np.argwhere(mask)
        hits.append(bool(len(objects)) and np.sqrt(((objects - [y, x]) ** 2).sum(1)).min() <= tolerance)
        near = [[len(objects) and np.sqrt(((objects - [i, j]) ** 2).sum(1)).min() <= tolerance
                 for j in range(mask.shape[1])] for i in range(mask.shape[0])]  # fmt: skip
        chance.append(np.mean(near))
    return np.array(hits), np.array(chance)


@pytest.mark.parametrize("tolerance", [0, 1, 2, 2.5])
def test_pointing_game_equals_brute_force(tolerance):
    generator = torch.Generator().manual_seed(0)
    maps = torch.rand(20, 12, 10, generator=generator)
    masks = torch.rand(20, 12, 10, generator=generator) > 0.93
    masks[0] = False  # an image without its object never scores
    result = pointing_game(maps, masks, tolerance=tolerance)
    hits, chance = _brute_force(maps, masks, tolerance)
    assert result.hits.dtype == torch.bool and result.hits.tolist() == hits.tolist()
    np.testing.assert_allclose(result.chance.numpy(), chance, atol=1e-6)
    assert not result.hits[0] and result.chance[0] == 0


def test_pointing_game_strict_hit_and_errors():
    masks = torch.zeros(1, 5, 5, dtype=torch.bool)
    masks[0, 1, 1] = True
    heat = torch.zeros(1, 5, 5)
    heat[0, 1, 1] = 1
    assert pointing_game(heat, masks).hits.item()
    heat = torch.roll(heat, 2, dims=2)  # peak at (1, 3): 2 px away
    assert not pointing_game(heat, masks, tolerance=1.9).hits.item()
    assert pointing_game(heat[0].numpy(), masks[0].numpy(), tolerance=2).hits.item()
    with pytest.raises(ValueError, match="same shape"):
        pointing_game(heat, masks[:, :4])
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(heat, masks, tolerance=-1)


def test_mask_iou():
    a = np.zeros((2, 4, 4), bool)
    b = np.zeros((2, 4, 4), bool)
    a[0, :2], b[0, 1:3] = True, True  # 4 shared pixels of 12
    np.testing.assert_allclose(mask_iou(a, b).numpy(), [4 / 12, 1.0])  # two empty masks: 1
    assert mask_iou(a[0], a[0]).item() == 1.0
    with pytest.raises(ValueError, match="same shape"):
        mask_iou(a, b[:, :3])


def test_window_centres_puts_each_value_at_its_window_centre():
    from course_utils.evaluation import window_centres

    values = torch.rand(2, 3, 4)
    out = window_centres(values, (10, 12), window=4, stride=3)  # windows at rows 0, 3, 6; centres 1, 4, 7
    assert out.shape == (2, 10, 12)
    for n in range(2):
        for i in range(3):
            for j in range(4):
                assert out[n, 3 * i + 1, 3 * j + 1] == values[n, i, j]
        assert out[n].min() == values[n].min() and out[n].sum() > 0
    with pytest.raises(ValueError, match="do not fit"):
        window_centres(values, (6, 12), window=4, stride=3)


def test_mass_on_object_against_a_loop():
    from course_utils.evaluation import mass_on_object

    generator = torch.Generator().manual_seed(1)
    maps = torch.randn(5, 7, 6, generator=generator)
    masks = torch.rand(5, 7, 6, generator=generator) > 0.7
    expected = [(m.clamp(min=0) * k).sum() / m.clamp(min=0).sum() for m, k in zip(maps, masks)]
    torch.testing.assert_close(mass_on_object(maps, masks), torch.stack(expected))
    assert mass_on_object(torch.zeros(1, 3, 3), torch.ones(1, 3, 3, dtype=torch.bool)).item() == 0
    assert mass_on_object(torch.ones(4, 4), torch.ones(4, 4, dtype=torch.bool)).item() == 1  # (H, W) input
    with pytest.raises(ValueError, match="same shape"):
        mass_on_object(maps, masks[:, :3])


def test_edge_map_is_sobel_magnitude():
    from scipy import ndimage

    from course_utils.evaluation import edge_map

    images = torch.rand(2, 3, 9, 8, generator=torch.Generator().manual_seed(2))
    grey = images.mean(1).numpy()
    expected = np.stack([np.hypot(ndimage.sobel(g, axis=1), ndimage.sobel(g, axis=0)) for g in grey])
    expected[:, [0, -1], :] = 0
    expected[:, :, [0, -1]] = 0
    np.testing.assert_allclose(edge_map(images).numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError):
        edge_map(images[0])


def test_score_maps_agrees_with_its_parts():
    from course_utils.evaluation import format_scores, mass_on_object, score_maps

    generator = torch.Generator().manual_seed(3)
    maps = {"a": torch.rand(6, 8, 8, generator=generator), "b": torch.rand(6, 8, 8, generator=generator)}
    masks = torch.rand(6, 8, 8, generator=generator) > 0.6
    table = score_maps(maps, masks, point_only=["b"])
    assert list(table) == ["a", "b", "chance"]
    assert table["a"]["strict"] == pointing_game(maps["a"], masks).hits.float().mean().item()
    assert table["a"]["near"] == pointing_game(maps["a"], masks, tolerance=2).hits.float().mean().item()
    assert table["a"]["on_object"] == pytest.approx(mass_on_object(maps["a"], masks).mean().item())
    assert table["b"]["on_object"] != table["b"]["on_object"]  # NaN for a point map
    assert table["chance"]["on_object"] == pytest.approx(masks.float().mean().item())
    assert len(format_scores(table).splitlines()) == 4
