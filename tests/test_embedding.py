"""course_utils.embedding: codes, nearest neighbours, t-SNE and grid snapping, each against an
independent computation (a hand-written forward pass, scikit-learn, a brute-force search)."""
import itertools
import sys

import numpy as np
import pytest
import torch
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

from course_utils import embedding, hooks
from course_utils.imaging import resize
from course_utils.models import load


@pytest.fixture(scope="module")
def model():
    return load("shapenet", device="cpu")


def _by_hand(model, images):
    """ShapeNet's code (fc7 after ReLU) written out layer by layer, in eval mode."""
    net = model.net
    with torch.no_grad():
        x = net.avgpool(net.features(model.normalize(images))).flatten(1)  # (N, 2048)
        return torch.relu(net.classifier[4](torch.relu(net.classifier[1](x))))  # (N, 256)


def _assert_unchanged(model):
    assert hooks.count_hooks(model) == 0, "hooks left on the model"
    assert all(p.grad is None for p in model.parameters()), ".grad left on parameters"


# ----------------------------------------------------------------------------- codes


def test_codes_match_a_hand_written_forward(model, shapes, device):
    model = model.to(device)
    try:
        model.train()  # the caller's mode must come back, and dropout must be off inside
        result = embedding.codes(model, shapes.images.to(device), batch_size=24)
        assert model.training and all(m.training for m in model.modules()), "train mode not restored"
        model.eval()
        expected = _by_hand(model, shapes.images.to(device))
        assert result.shape == (len(shapes), 256) and result.device.type == device.type
        # other batch sizes may pick other convolution algorithms (TF32 on recent GPUs)
        tolerance = dict(rtol=1e-4, atol=1e-5) if device.type == "cpu" else dict(rtol=1e-2, atol=5e-3)
        torch.testing.assert_close(result, expected, **tolerance)
        _assert_unchanged(model)
    finally:
        model.to("cpu").eval()


def test_codes_from_a_dataset_or_a_loader_and_another_layer(model, shapes):
    expected = embedding.codes(model, shapes.images)
    dataset = torch.utils.data.TensorDataset(shapes.images, shapes.labels)
    torch.testing.assert_close(embedding.codes(model, dataset, batch_size=40), expected)
    loader = torch.utils.data.DataLoader(shapes.images, batch_size=7)
    torch.testing.assert_close(embedding.codes(model, loader), expected)
    conv = embedding.codes(model, shapes.images[:5], layer=model.roles["last_conv"])
    with torch.no_grad():
        maps = model.net.features[:10](model.normalize(shapes.images[:5]))  # (5, 128, 8, 8)
    torch.testing.assert_close(conv, maps.flatten(1))
    _assert_unchanged(model)


def test_codes_resize_batch_by_batch(model, shapes):
    small = shapes.images[:6, :, ::2, ::2]  # (6, 3, 32, 32)
    expected = embedding.codes(model, resize(small, 64))
    torch.testing.assert_close(embedding.codes(model, small, size=64, batch_size=4), expected)


def test_codes_errors(model, shapes):
    with pytest.raises(KeyError, match="valid layer names"):
        embedding.codes(model, shapes.images, layer="classifier.99")
    with pytest.raises(TypeError, match="float"):
        embedding.codes(model, (shapes.images * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        embedding.codes(model, shapes.images * 255)
    with pytest.raises(ValueError, match="batch_size"):
        embedding.codes(model, shapes.images, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        embedding.codes(model, shapes.images[:0])
    with pytest.raises(ValueError, match="layer="):
        embedding.codes(model.net, shapes.images)
    with pytest.raises(ValueError, match="at least"):  # the forward pass raises: hooks still removed
        embedding.codes(model, torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="float"):  # checked batch by batch for a dataset
        embedding.codes(model, torch.utils.data.TensorDataset(torch.zeros(3, 3, 64, 64, dtype=torch.uint8)))
    _assert_unchanged(model)


# ----------------------------------------------------------------------------- neighbours


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nearest_neighbors_match_scikit_learn(metric, device):
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(300, 16, generator=generator, dtype=torch.float64)
    queries = torch.randn(45, 16, generator=generator, dtype=torch.float64)
    result = embedding.nearest_neighbors(queries.to(device), base.to(device), 7, metric=metric, chunk_size=8)
    assert result.shape == (45, 7) and result.dtype == torch.int64 and result.device.type == device.type
    search = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(base.numpy())
    expected = search.kneighbors(queries.numpy(), return_distance=False)
    np.testing.assert_array_equal(result.cpu().numpy(), expected)


def test_nearest_neighbors_against_a_loop_in_float32():
    generator = torch.Generator().manual_seed(1)
    base, queries = torch.rand(200, 32, generator=generator), torch.rand(20, 32, generator=generator)
    result = embedding.nearest_neighbors(queries, base, 5)
    for q, row in zip(queries, result):
        distances = torch.tensor([float(((q - b) ** 2).sum()) for b in base])
        expected = torch.sort(distances).values[:5]
        torch.testing.assert_close(distances[row], expected, rtol=1e-4, atol=1e-5)  # ties may swap
    # each base point finds itself first; numpy arrays are accepted
    itself = embedding.nearest_neighbors(base.numpy(), base.numpy(), 1)[:, 0]
    assert torch.equal(itself, torch.arange(200))


def test_nearest_neighbors_errors():
    base = torch.rand(10, 4)
    with pytest.raises(ValueError, match="between 1 and the number of base points"):
        embedding.nearest_neighbors(base, base, 11)
    with pytest.raises(ValueError, match="k must"):
        embedding.nearest_neighbors(base, base, 0)
    with pytest.raises(ValueError, match="unknown metric"):
        embedding.nearest_neighbors(base, base, 1, metric="manhattan")
    with pytest.raises(ValueError, match="dimensions"):
        embedding.nearest_neighbors(torch.rand(3, 5), base, 1)
    with pytest.raises(ValueError, match="2-D"):
        embedding.nearest_neighbors(torch.rand(4), base, 1)
    with pytest.raises(ValueError, match="NaN"):
        embedding.nearest_neighbors(torch.full((1, 4), float("nan")), base, 1)


def test_knn_accuracy_against_a_loop():
    generator = torch.Generator().manual_seed(3)
    points, labels = torch.rand(60, 3, generator=generator), torch.randint(3, (60,), generator=generator)
    points[5] = points[6]  # a duplicate: its twin may come first, the point itself must still be left out
    for k in (1, 4, 5):
        correct = 0
        for i in range(60):
            distances = ((points - points[i]) ** 2).sum(1)
            distances[i] = float("inf")
            votes = labels[distances.argsort()[:k]].tolist()
            best = max(votes.count(c) for c in set(votes))
            correct += min(c for c in set(votes) if votes.count(c) == best) == labels[i].item()
        assert embedding.knn_accuracy(points, labels, k=k) == pytest.approx(correct / 60), k
    separated = torch.cat([torch.zeros(10, 2), torch.ones(10, 2) * 5]) + torch.rand(20, 2, generator=generator)
    assert embedding.knn_accuracy(separated, torch.arange(2).repeat_interleave(10), k=3) == 1.0
    with pytest.raises(ValueError, match="k must"):
        embedding.knn_accuracy(points, labels, k=60)
    with pytest.raises(ValueError, match="labels"):
        embedding.knn_accuracy(points, labels[:5])


# ----------------------------------------------------------------------------- t-SNE


def _clusters(n_per=40, clusters=3, dims=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, dims, generator=generator) * 10
    points = centres.repeat_interleave(n_per, 0) + torch.randn(n_per * clusters, dims, generator=generator)
    return points, torch.arange(clusters).repeat_interleave(n_per)


def _cluster_separation(xy, labels):
    """Share of points whose nearest map neighbour has the same label."""
    nearest = embedding.nearest_neighbors(xy, xy, 2)[:, 1]
    return (labels[nearest] == labels).float().mean().item()


def test_tsne_is_deterministic_and_keeps_neighbours(device):
    points, labels = _clusters()
    xy = embedding.tsne(points.to(device), perplexity=10, seed=3)
    assert xy.shape == (120, 2) and xy.dtype == torch.float32 and xy.device.type == device.type
    assert torch.equal(xy, embedding.tsne(points.to(device), perplexity=10, seed=3)), "same seed, same map"
    assert not torch.equal(xy, embedding.tsne(points.to(device), perplexity=10, seed=4))
    assert trustworthiness(points.numpy(), xy.cpu().numpy(), n_neighbors=5) > 0.9
    assert _cluster_separation(xy.cpu(), labels) == 1.0


def test_tsne_falls_back_to_scikit_learn(monkeypatch):
    called = []
    original = embedding._tsne_sklearn
    monkeypatch.setattr(embedding, "_tsne_sklearn", lambda *args: called.append(1) or original(*args))
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # "import openTSNE" now raises ImportError
    points, labels = _clusters(n_per=25)
    with pytest.warns(UserWarning, match="openTSNE is not installed"):
        xy = embedding.tsne(points.numpy(), perplexity=8, seed=1)
    assert called and xy.shape == (75, 2)
    assert _cluster_separation(xy, labels) == 1.0


def test_tsne_errors():
    with pytest.raises(ValueError, match=r"perplexity=30 is too large for 50 points.*perplexity <= 16.3"):
        embedding.tsne(torch.rand(50, 3))
    with pytest.raises(ValueError, match="positive"):
        embedding.tsne(torch.rand(50, 3), perplexity=0)
    with pytest.raises(ValueError, match="2-D"):
        embedding.tsne(torch.rand(50))


# ----------------------------------------------------------------------------- grid


def test_grid_layout_is_optimal_against_brute_force(device):
    generator = torch.Generator().manual_seed(2)
    for count, rows, cols in [(4, 2, 3), (6, 2, 3), (5, 3, 2)]:
        xy = torch.randn(count, 2, generator=generator, dtype=torch.float64)
        cells = embedding.grid_layout(xy.to(device), rows, cols)
        assert cells.shape == (count,) and cells.dtype == torch.int64 and cells.device.type == device.type
        assert len(set(cells.tolist())) == count, "one point per cell"
        # independent cost: scale each axis to [0, 1]; cell i*cols+j centred at ((j+.5)/cols, 1-(i+.5)/rows)
        unit = (xy - xy.min(0).values) / (xy.max(0).values - xy.min(0).values)
        centres = [((j + 0.5) / cols, 1 - (i + 0.5) / rows) for i in range(rows) for j in range(cols)]
        cost = lambda assignment: sum(  # noqa: E731
            (float(unit[p, 0]) - centres[c][0]) ** 2 + (float(unit[p, 1]) - centres[c][1]) ** 2
            for p, c in enumerate(assignment)
        )
        best = min(cost(a) for a in itertools.permutations(range(rows * cols), count))
        assert abs(cost(cells.tolist()) - best) < 1e-9, (count, rows, cols)


def test_grid_layout_keeps_a_grid_in_place_row_0_on_top():
    rows, cols = 3, 4
    i, j = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    xy = torch.stack([j.flatten() * 2.0, -i.flatten() * 5.0], 1)  # row 0 has the largest y
    order = torch.randperm(rows * cols, generator=torch.Generator().manual_seed(0))
    assert torch.equal(embedding.grid_layout(xy[order], rows, cols), order)
    same_x = torch.stack([torch.zeros(3), torch.tensor([2.0, 1.0, 0.0])], 1)  # a flat axis is fine
    assert embedding.grid_layout(same_x, 3, 1).tolist() == [0, 1, 2]


def test_grid_layout_errors():
    with pytest.raises(ValueError, match=r"7 points do not fit in a 2 x 3 grid \(6 cells\)"):
        embedding.grid_layout(torch.rand(7, 2), 2, 3)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        embedding.grid_layout(torch.rand(4, 3), 2, 2)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        embedding.grid_layout(torch.rand(4, 2), 0, 2)


def test_grid_image_places_each_image_in_its_cell(device):
    images = torch.rand(5, 3, 4, 6, device=device)
    cells = torch.tensor([5, 0, 3, 1, 2])
    mosaic = embedding.grid_image(images, cells, 2, 3, background=0.25)
    assert mosaic.shape == (3, 8, 18) and mosaic.device.type == device.type
    for image, cell in zip(images, cells.tolist()):
        row, col = divmod(cell, 3)
        assert torch.equal(mosaic[:, row * 4 : row * 4 + 4, col * 6 : col * 6 + 6], image)
    assert (mosaic[:, 4:8, 6:12] == 0.25).all(), "cell 4 is empty"
    with pytest.raises(ValueError, match="distinct"):
        embedding.grid_image(images, torch.tensor([0, 0, 1, 2, 3]), 2, 3)


def test_figures_draw_without_changing_their_inputs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plotting

    images, labels = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    before = images.clone()
    figures = [
        plotting.show_embedding(torch.randn(6, 2), labels, ["a", "b", "c"], title="map"),
        plotting.show_neighbors(images[:2], images, {"codes": torch.tensor([[0, 1], [2, 3]])},
                                query_labels=labels[:2], base_labels=labels),
        plotting.show_image_grid(images, torch.tensor([3, 1, 0, 2, 5, 4]), 2, 3),
    ]
    assert all(isinstance(figure, matplotlib.figure.Figure) for figure in figures)
    assert torch.equal(images, before)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plotting.show_embedding(torch.randn(6, 3), labels, ["a", "b", "c"])
    plt.close("all")


def test_codes_pool_averages_each_map(model, shapes):
    first = model.roles["first_conv"]
    full = embedding.codes(model, shapes.images[:5], layer=first)  # (5, 48 * 32 * 32)
    pooled = embedding.codes(model, shapes.images[:5], layer=first, pool=8)
    maps = full.reshape(5, 48, 32, 32)
    expected = maps.reshape(5, 48, 8, 4, 8, 4).mean((3, 5))  # 4 x 4 blocks averaged by hand
    torch.testing.assert_close(pooled, expected.flatten(1), rtol=1e-5, atol=1e-6)
    last = model.roles["last_conv"]  # 8 x 8 maps: already small enough, kept as they are
    torch.testing.assert_close(embedding.codes(model, shapes.images[:5], layer=last, pool=8),
                               embedding.codes(model, shapes.images[:5], layer=last))
    torch.testing.assert_close(embedding.codes(model, shapes.images[:5], pool=2), embedding.codes(model, shapes.images[:5]))
    with pytest.raises(ValueError, match="pool"):
        embedding.codes(model, shapes.images[:5], pool=0)
    _assert_unchanged(model)


def test_class_contacts_against_a_loop():
    generator = torch.Generator().manual_seed(3)
    points, labels = torch.randn(40, 2, generator=generator), torch.randint(3, (40,), generator=generator)
    contacts = embedding.class_contacts(points, labels, k=4, groups=3)
    expected = torch.zeros(3, 3, dtype=torch.int64)
    distances = torch.cdist(points.double(), points.double())
    for i in range(40):
        order = [j for j in distances[i].argsort().tolist() if j != i][:4]
        for j in order:
            expected[labels[i], labels[j]] += 1
    assert torch.equal(contacts, expected)
    assert contacts.sum(1).tolist() == [4 * int((labels == g).sum()) for g in range(3)]
    islands = torch.cat([torch.zeros(10, 2), torch.full((10, 2), 50.0)]) + torch.rand(20, 2, generator=generator)
    two = embedding.class_contacts(islands, torch.arange(2).repeat_interleave(10), k=3)
    assert torch.equal(two, torch.tensor([[30, 0], [0, 30]]))
    with pytest.raises(ValueError, match="k must be"):
        embedding.class_contacts(points, labels, k=40)
    with pytest.raises(ValueError, match="labels"):
        embedding.class_contacts(points, labels[:5])


def test_layer_scores_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plotting

    assert plotting.show_layer_scores(["pixels", "code"], [0.1, 0.9], chance=0.1, title="t").axes
    with pytest.raises(ValueError, match="names"):
        plotting.show_layer_scores(["pixels"], [0.1, 0.9])
    plt.close("all")


def test_tsne_after_pca_is_tsne_of_the_principal_components():
    from sklearn.decomposition import PCA

    points, labels = _clusters()
    wide = torch.cat([points, 0.01 * torch.randn(len(points), 200, generator=torch.Generator().manual_seed(0))], 1)
    xy = embedding.tsne(wide, perplexity=10, seed=3, pca=5)
    reduced = PCA(n_components=5, svd_solver="randomized", random_state=3).fit_transform(wide.double().numpy())
    torch.testing.assert_close(xy, embedding.tsne(reduced, perplexity=10, seed=3))
    assert _cluster_separation(xy, labels) == 1.0
    torch.testing.assert_close(embedding.tsne(points, perplexity=10, seed=3, pca=500), embedding.tsne(points, perplexity=10, seed=3))
    with pytest.raises(ValueError, match="pca"):
        embedding.tsne(points, perplexity=10, pca=1)
