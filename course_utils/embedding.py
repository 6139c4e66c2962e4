"""The representation space: CNN codes, nearest neighbours, t-SNE maps and image grids.

The "code" of an image is the activation vector of the layer before the classifier (AlexNet's
4096-d fc7). Images with close codes look alike *to the network*; t-SNE (van der Maaten and
Hinton 2008) draws the codes in 2-D so that neighbours stay neighbours, and :func:`grid_layout`
snaps such a map onto a grid of images (the "t-SNE image grid").

Example:
    >>> z = codes(model, images)                     # (N, D)
    >>> nearest_neighbors(z[:5], z, k=6)              # (5, 6) indices, each query first
    >>> xy = tsne(z, perplexity=30)                   # (N, 2)
    >>> cells = grid_layout(xy, rows=20, cols=20)     # (N,) cell of each image
"""
from __future__ import annotations

import warnings
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import progress
from .hooks import capture_activations, eval_mode, get_layer
from .imaging import check_images, resize

__all__ = ["codes", "nearest_neighbors", "knn_accuracy", "tsne", "grid_layout", "grid_cost", "grid_image"]

METRICS = ("euclidean", "cosine")
# Largest number of query-by-base distances held at once by nearest_neighbors (256 MB of float32).
_MAX_DISTANCES = 2**26


# ----------------------------------------------------------------------------- codes


def _batches(images, batch_size: int) -> Iterator[torch.Tensor]:
    """Image batches ``(B, 3, H, W)`` from a tensor, a ``Dataset`` or a ``DataLoader``.

    Dataset items and loader batches may be an image (batch) alone or a tuple/list whose first
    element is it (``(image, label)`` pairs, as torchvision datasets give).
    """
    if isinstance(images, torch.Tensor):
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size]
        return
    if isinstance(images, torch.utils.data.Dataset):
        images = torch.utils.data.DataLoader(images, batch_size=batch_size, shuffle=False)
    if not isinstance(images, Iterable):
        raise TypeError(
            f"images must be a tensor (N, 3, H, W), a Dataset or a DataLoader, got {type(images).__name__}"
        )
    for batch in images:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _count_batches(images, batch_size: int) -> int | None:
    """How many batches :func:`_batches` yields (for the progress bar), when it is known."""
    try:
        if isinstance(images, (torch.Tensor, torch.utils.data.Dataset)):
            return -(-len(images) // batch_size)
        return len(images)  # a DataLoader's number of batches
    except TypeError:  # an iterable-style dataset has no length
        return None


def codes(
    model: nn.Module, images, *, layer: str | None = None, batch_size: int = 256, size: int | None = None,
    pool: int | None = None,
) -> torch.Tensor:
    """The activations of one layer for every image, flattened to one row ("code") per image.

    Args:
        model: a course model (or any module: then ``layer`` is required). Not changed: eval mode
            inside, hooks removed, no gradients.
        images: ``(N, 3, H, W)`` RGB in [0, 1], or a ``Dataset`` / ``DataLoader`` of such images
            (alone or as ``(image, label)`` pairs), streamed batch by batch.
        layer: layer name (see :func:`course_utils.hooks.layer_names`); default
            ``model.roles["code"]``, the layer before the classifier (AlexNet's fc7 after ReLU).
        batch_size: images per forward pass for a tensor or a ``Dataset`` (a ``DataLoader``
            keeps its own).
        size: resize each batch to ``size x size`` before the forward pass (e.g.
            ``model.input_size`` for 64-px synthetic images and a 224-px network); batch by batch,
            so the whole resized set is never held in memory. ``None`` (default) keeps the size.
        pool: for a convolutional layer ``(B, C, h, w)``, average its maps down to at most
            ``pool x pool`` positions first (adaptive average pooling; maps already that small are
            kept), so that layers of very different sizes can be compared at a few thousand
            dimensions. ``None`` (default) keeps every position.

    Returns:
        ``(N, D)`` float tensor on the model's device, ``D`` the layer's output size per image
        (``C * H * W`` for a convolutional layer), rows in the order of ``images``.

    Donahue et al. 2014 (DeCAF) and Krizhevsky et al. 2012 (Fig. 4) use these fc7 codes as features.

    Example:
        >>> codes(load("shapenet"), make_shapes(100).images).shape
        torch.Size([100, 256])
    """
    if isinstance(images, torch.Tensor):
        if images.numel() == 0:
            raise ValueError(f"images is empty (shape {tuple(images.shape)}): codes needs at least one image")
        check_images(images)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if pool is not None and (isinstance(pool, bool) or not isinstance(pool, int) or pool < 1):
        raise ValueError(f"pool must be a positive int or None, got {pool!r}")
    if layer is None:
        if not hasattr(model, "roles"):
            raise ValueError("this model has no layer roles: pass layer=<name> (see course_utils.hooks.layer_names)")
        layer = model.role("code")
    get_layer(model, layer)  # an unknown name raises here, listing the valid ones
    device = next(model.parameters()).device
    rows = []
    with torch.no_grad(), eval_mode(model), capture_activations(model, layer) as store:
        for batch in progress(_batches(images, batch_size), desc="codes", total=_count_batches(images, batch_size)):
            if not isinstance(images, torch.Tensor):
                check_images(batch, "a batch of images")
            batch = batch.to(device)
            model(batch if size is None else resize(batch, size))
            out = store[layer]  # (B, C, h, w) or (B, D)
            if pool is not None and out.ndim == 4 and max(out.shape[-2:]) > pool:
                out = F.adaptive_avg_pool2d(out, (min(pool, out.shape[-2]), min(pool, out.shape[-1])))
            rows.append(out.flatten(1))  # (B, D)
    if not rows:
        raise ValueError("images is empty: codes needs at least one image")
    return torch.cat(rows)


# ----------------------------------------------------------------------------- neighbours


def _as_matrix(points, name: str) -> torch.Tensor:
    """A 2-D float tensor of finite values (arrays are converted; tensors keep their device)."""
    points = torch.as_tensor(points)
    if points.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (number of points, dimensions), got shape {tuple(points.shape)}")
    if not points.is_floating_point():
        points = points.float()
    if not torch.isfinite(points).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return points


def nearest_neighbors(
    queries, base, k: int, *, metric: str = "euclidean", chunk_size: int | None = None
) -> torch.Tensor:
    """Indices of the ``k`` points of ``base`` closest to each query, closest first.

    Args:
        queries: ``(Q, D)`` tensor or array (e.g. :func:`codes` of the query images, or their
            flattened pixels).
        base: ``(M, D)`` points to search; a query that is also in ``base`` finds itself first.
        k: neighbours per query, ``1 <= k <= M``.
        metric: ``"euclidean"`` (``||q - b||``) or ``"cosine"`` (largest ``q.b / (|q| |b|)``;
            a zero vector has similarity 0 with everything).
        chunk_size: queries per block of distances; by default as many as keep the ``(chunk, M)``
            block under 2**26 entries, so memory stays bounded for any ``Q``.

    Returns:
        ``(Q, k)`` int64 indices into ``base``, on ``base``'s device (queries are moved there).
        Among equidistant points the order is unspecified.

    Vectorized: ``||q - b||^2 = ||q||^2 - 2 q.b + ||b||^2``, one matrix product per chunk.

    Example:
        >>> nearest_neighbors(torch.tensor([[0.0], [9.0]]), torch.tensor([[1.0], [10.0], [2.0]]), 2)
        tensor([[0, 2], [1, 2]])
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    base = _as_matrix(base, "base")
    queries = _as_matrix(queries, "queries").to(device=base.device, dtype=base.dtype)
    if queries.shape[1] != base.shape[1]:
        raise ValueError(
            f"queries have {queries.shape[1]} dimensions but base points have {base.shape[1]}; "
            "compute both in the same space (same layer, same image size)"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(base):
        raise ValueError(f"k must be an int between 1 and the number of base points ({len(base)}), got {k!r}")
    chunk_size = chunk_size or max(1, _MAX_DISTANCES // max(len(base), 1))
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if metric == "cosine":
        queries = torch.nn.functional.normalize(queries, dim=1)
        base = torch.nn.functional.normalize(base, dim=1)
    base_norms = (base * base).sum(1)  # (M,)
    found = []
    for start in range(0, len(queries), chunk_size):
        block = queries[start : start + chunk_size]  # (q, D)
        products = block @ base.T  # (q, M)
        if metric == "cosine":
            found.append(products.topk(int(k), dim=1).indices)
        else:  # ||q||^2 is the same along a row: it does not change the order
            found.append((base_norms - 2 * products).topk(int(k), dim=1, largest=False).indices)
    if not found:
        return torch.empty(0, int(k), dtype=torch.int64, device=base.device)
    return torch.cat(found)


def knn_accuracy(points, labels, *, k: int = 5, metric: str = "euclidean") -> float:
    """Leave-one-out k-nearest-neighbour accuracy: how often the majority label of a point's
    ``k`` nearest *other* points is its own label.

    Args:
        points: ``(N, D)`` tensor or array, ``N > k``.
        labels: ``(N,)`` integer class labels.
        k: neighbours that vote (a tie goes to the smallest label).
        metric: as in :func:`nearest_neighbors`.

    Returns:
        the accuracy, a float in [0, 1]: high when classes form tight groups in this space.

    Example:
        >>> knn_accuracy(codes(model, images), labels, k=5)  # doctest: +SKIP
        0.93
    """
    points = _as_matrix(points, "points")
    labels = torch.as_tensor(labels).to(points.device).reshape(-1)
    if len(labels) != len(points):
        raise ValueError(f"got {len(points)} points but {len(labels)} labels")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < len(points):
        raise ValueError(f"k must be an int between 1 and the number of points - 1 ({len(points) - 1}), got {k!r}")
    found = nearest_neighbors(points, points, int(k) + 1, metric=metric)  # (N, k + 1), usually self first
    others = found != torch.arange(len(points), device=found.device)[:, None]  # drop the point itself
    keep = torch.argsort((~others).to(torch.int8), dim=1, stable=True)[:, : int(k)]  # others first, in order
    votes = labels[found.gather(1, keep)]  # (N, k)
    return (votes.mode(dim=1).values == labels).float().mean().item()


def class_contacts(points, labels, *, k: int = 10, groups: int | None = None) -> torch.Tensor:
    """Which classes are neighbours of which, in a space or a 2-D map.

    Entry ``(i, j)`` of the result counts, over the points of class ``i``, how many of their ``k``
    nearest *other* points (Euclidean) are of class ``j``. Each row sums to ``k`` times the class
    size; the diagonal's share of the total is the share of neighbours within the class (1: every
    class is its own island), and a large off-diagonal ``(i, j) + (j, i)`` says where islands touch.

    Args:
        points: ``(N, D)`` tensor or array, e.g. a t-SNE map ``(N, 2)``; ``N > k``.
        labels: ``(N,)`` integer labels in ``[0, groups)``.
        groups: the number of classes (default ``labels.max() + 1``).

    Returns:
        ``(groups, groups)`` int64 tensor on the CPU.
    """
    points = _as_matrix(points, "points")
    labels = torch.as_tensor(labels).reshape(-1).long().to(points.device)
    if len(labels) != len(points):
        raise ValueError(f"got {len(points)} points but {len(labels)} labels")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < len(points):
        raise ValueError(f"k must be an int between 1 and the number of points - 1 ({len(points) - 1}), got {k!r}")
    groups = groups or int(labels.max()) + 1
    found = nearest_neighbors(points, points, int(k) + 1)  # (N, k + 1), usually self first
    others = found != torch.arange(len(points), device=found.device)[:, None]
    keep = torch.argsort((~others).to(torch.int8), dim=1, stable=True)[:, : int(k)]  # (N, k) others first
    pairs = labels[:, None] * groups + labels[found.gather(1, keep)]  # (N, k) flat (i, j) index
    return torch.bincount(pairs.flatten(), minlength=groups * groups).reshape(groups, groups).cpu()


# ----------------------------------------------------------------------------- t-SNE


def _tsne_opentsne(points: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    from openTSNE import TSNE

    # ints_in_interval=2: FFT interpolation boxes of 2 map units instead of 1 (used from 10,000 points on,
    # where openTSNE switches from Barnes-Hut to FFT); 4x fewer grid points, the same trustworthiness
    # on 10,000 codes (benchmarks/test_embedding.py), and about 4x faster than the default there
    return np.asarray(TSNE(perplexity=perplexity, random_state=seed, n_jobs=n_jobs, ints_in_interval=2).fit(points))


def _tsne_sklearn(points: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    model = TSNE(perplexity=perplexity, random_state=seed, init="pca", learning_rate="auto", n_jobs=n_jobs)
    # its Barnes-Hut gradient uses every OpenMP thread unless limited: hold it to n_jobs as well
    with threadpool_limits(limits=None if n_jobs == -1 else n_jobs, user_api="openmp"):
        return model.fit_transform(points)


def tsne(points, *, perplexity: float = 30.0, seed: int = 0, n_jobs: int = 1, pca: int | None = None) -> torch.Tensor:
    """A 2-D t-SNE map of ``points``: near points stay near, far ones end up anywhere.

    Args:
        points: ``(N, D)`` tensor or array (codes, flattened pixels, ...).
        perplexity: the effective number of neighbours each point keeps (typically 5-50); it needs
            ``N > 3 * perplexity`` points.
        seed: the same seed gives the same map (on the same machine).
        n_jobs: CPU threads for the neighbour search and the gradients (``-1``: all cores).
        pca: reduce the points to their first ``pca`` principal components before t-SNE (van der
            Maaten and Hinton 2008 did so with 30 for MNIST): the neighbour search in thousands of
            dimensions is the slow part, and the leading components keep the near neighbours.
            ``None`` (default) uses the points as they are; ignored when ``D <= pca``.

    Returns:
        ``(N, 2)`` float32 tensor, on the device of ``points`` when it is a tensor (else the CPU).

    Uses openTSNE (Poličar et al. 2019: FFT-accelerated gradients from 10,000 points on, about 3x
    faster than scikit-learn's Barnes-Hut there at equal trustworthiness) and falls back to ``sklearn.manifold.TSNE`` when openTSNE is not
    installed. van der Maaten and Hinton 2008, eq. 1 (input affinities) and eq. 4 (Student-t map).

    Example:
        >>> tsne(torch.randn(500, 64), perplexity=20).shape
        torch.Size([500, 2])
    """
    device = points.device if isinstance(points, torch.Tensor) else torch.device("cpu")
    matrix = _as_matrix(points, "points").detach().cpu().double().numpy()
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or perplexity <= 0:
        raise ValueError(f"perplexity must be a positive number, got {perplexity!r}")
    count = len(matrix)
    if count <= 3 * perplexity:
        raise ValueError(
            f"perplexity={perplexity:g} is too large for {count} points: t-SNE needs more than "
            f"3 x perplexity = {3 * perplexity:g} points; use perplexity <= {max((count - 1) / 3, 0):.1f} "
            "or more points"
        )
    if pca is not None:
        if isinstance(pca, bool) or not isinstance(pca, int) or pca < 2:
            raise ValueError(f"pca must be an int >= 2 or None, got {pca!r}")
        if matrix.shape[1] > pca:
            from sklearn.decomposition import PCA

            matrix = PCA(n_components=min(pca, count), svd_solver="randomized", random_state=seed).fit_transform(matrix)
    try:
        import openTSNE  # noqa: F401

        run = _tsne_opentsne
    except ImportError:
        warnings.warn("openTSNE is not installed: using scikit-learn's slower TSNE", stacklevel=2)
        run = _tsne_sklearn
    xy = run(matrix, float(perplexity), int(seed), n_jobs)  # (N, 2)
    return torch.as_tensor(np.ascontiguousarray(xy), dtype=torch.float32).to(device)


# ----------------------------------------------------------------------------- grid


def grid_cost(xy, rows: int, cols: int) -> torch.Tensor:
    """``(N, rows * cols)`` squared distances between points and cell centres, as
    :func:`grid_layout` defines them (each axis of ``xy`` min-max scaled to [0, 1]; cell
    ``r * cols + c`` centred at ``x = (c + 0.5) / cols``, ``y = 1 - (r + 0.5) / rows``, so row 0
    is the top of the map, as in a scatter plot)."""
    xy = _as_matrix(xy, "xy")
    if xy.shape[1] != 2:
        raise ValueError(f"xy must have shape (N, 2) (a 2-D map such as tsne's), got {tuple(xy.shape)}")
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    xy = xy.double()
    low, high = xy.min(0).values, xy.max(0).values
    unit = (xy - low) / (high - low).clamp(min=1e-12)  # (N, 2) in [0, 1]
    r, c = torch.meshgrid(torch.arange(rows, dtype=xy.dtype), torch.arange(cols, dtype=xy.dtype), indexing="ij")
    centres = torch.stack([(c.flatten() + 0.5) / cols, 1 - (r.flatten() + 0.5) / rows], 1).to(xy.device)  # (R*C, 2)
    return torch.cdist(unit, centres) ** 2


def grid_layout(xy, rows: int, cols: int) -> torch.Tensor:
    """Snap a 2-D map onto a ``rows x cols`` grid, one point per cell, moving points as little as possible.

    Args:
        xy: ``(N, 2)`` map (e.g. :func:`tsne`), ``N <= rows * cols``.
        rows, cols: the grid; cells are numbered row by row, row 0 at the top (largest y).

    Returns:
        ``(N,)`` int64 tensor: the cell of each point (all different), on the device of ``xy``.
        Cells left over (``N < rows * cols``) stay empty.

    The assignment minimizes the total squared distance between points and their cells'
    centres (:func:`grid_cost`) exactly, with the Hungarian-style solver
    ``scipy.optimize.linear_sum_assignment`` (Crouse 2016), not a greedy loop. As in Karpathy's
    "t-SNE image grid" of CNN codes.

    Example:
        >>> cells = grid_layout(tsne(z), 10, 10)          # z: 100 codes
        >>> picture[cells] = images                        # place image i in cell cells[i]
    """
    from scipy.optimize import linear_sum_assignment

    device = xy.device if isinstance(xy, torch.Tensor) else torch.device("cpu")
    cost = grid_cost(xy, rows, cols)  # (N, R*C)
    if len(cost) > rows * cols:
        raise ValueError(
            f"{len(cost)} points do not fit in a {rows} x {cols} grid ({rows * cols} cells); "
            "use a larger grid or fewer points"
        )
    points, cells = linear_sum_assignment(cost.cpu().numpy())
    result = np.empty(len(cost), dtype=np.int64)
    result[points] = cells
    return torch.from_numpy(result).to(device)


def grid_image(images: torch.Tensor, cells, rows: int, cols: int, *, background: float = 1.0) -> torch.Tensor:
    """Paste ``images[i]`` into cell ``cells[i]`` of a ``rows x cols`` mosaic (row-major cells).

    Args:
        images: ``(N, 3, H, W)`` in [0, 1].
        cells: ``(N,)`` distinct cell indices in ``[0, rows * cols)``, e.g. from :func:`grid_layout`.
        background: the grey level of empty cells.

    Returns:
        ``(3, rows * H, cols * W)`` image in [0, 1], on the device of ``images``.
    """
    check_images(images)
    cells = torch.as_tensor(cells, device=images.device).long().reshape(-1)
    if len(cells) != len(images):
        raise ValueError(f"got {len(images)} images but {len(cells)} cells")
    if len(cells) and (cells.min() < 0 or cells.max() >= rows * cols or len(cells.unique()) != len(cells)):
        raise ValueError(f"cells must be distinct indices in [0, {rows * cols}) for a {rows} x {cols} grid")
    _, channels, height, width = images.shape
    canvas = images.new_full((rows * cols, channels, height, width), float(background))
    canvas[cells] = images
    canvas = canvas.view(rows, cols, channels, height, width).permute(2, 0, 3, 1, 4)  # (3, rows, H, cols, W)
    return canvas.reshape(channels, rows * height, cols * width)
