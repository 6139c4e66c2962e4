"""A correct submission of assignment 04_representation_space written differently from the solutions
(one solution cell, by grade id, at a time): other operations than the solutions', only what the
docstrings promise, and another right choice; it must get full marks on every test cell (see
``tests/test_nbgrader.py``)."""
CELLS = {
    "nearest_neighbors": '''
def nearest_neighbors(queries, base, k, metric="euclidean"):
    for name, points in (("queries", queries), ("base", base)):
        if points.dim() != 2:
            raise ValueError(f"{name} must be a matrix (rows, D), got shape {tuple(points.shape)}")
    if queries.size(1) != base.size(1):
        raise ValueError(f"{queries.size(1)} dimensions for the queries, {base.size(1)} for the base")
    if type(k) is not int or not 0 < k <= base.size(0):
        raise ValueError(f"k must be an int from 1 to {base.size(0)}, got {k!r}")
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"unknown metric {metric!r}")
    if metric == "euclidean":
        score = -torch.cdist(queries, base)  # larger is nearer
    else:
        lengths = queries.norm(dim=1)[:, None] * base.norm(dim=1)[None, :]
        score = torch.einsum("qd,md->qm", queries, base) / lengths.clamp_min(1e-12)
    return score.argsort(dim=1, descending=True)[:, :k]
''',
    "choose_layer": '''
MY_LAYER = "features.10"
''',
    "grid_cost": '''
def grid_cost(xy, rows, cols):
    low, high = xy.min(0).values, xy.max(0).values
    unit = (xy - low) / (high - low).clamp(min=1e-12)  # (N, 2)
    cell = torch.arange(rows * cols, device=xy.device)
    centres = torch.stack([(cell % cols + 0.5) / cols, 1 - (cell // cols + 0.5) / rows], 1).to(xy.dtype)  # (R*C, 2)
    return ((unit[:, None, :] - centres[None]) ** 2).sum(-1)
''',
    "snap_to_grid": '''
from scipy.optimize import linear_sum_assignment


def snap_to_grid(xy, rows, cols):
    if len(xy) > rows * cols:
        raise ValueError(f"{len(xy)} points do not fit in {rows} x {cols} = {rows * cols} cells")
    points, chosen = linear_sum_assignment(grid_cost(xy, rows, cols).cpu().numpy())
    cells = torch.empty(len(xy), dtype=torch.int64)
    cells[torch.as_tensor(points)] = torch.as_tensor(chosen, dtype=torch.int64)
    return cells
''',
}
