"""A correct submission of assignment 03_top_patches written differently from the solutions (one
solution cell, by grade id, at a time): other operations than the solutions', only what the docstrings
promise, and another right choice; it must get full marks on every test cell (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "unit_box": '''
def unit_box(y, x, field, jump, start, image_size):
    first = int(round(start - (field - 1) / 2))
    top, left = first + jump * y, first + jump * x
    bottom, right = top + field, left + field
    return tuple(t.clamp(0, image_size) for t in (top, left, bottom, right))
''',
    "streaming_topk": '''
def streaming_topk(batches, k):
    kept = where = None  # (C, <=k) values and their flat positions in the stream
    offset = 0
    for maps in batches:
        n, channels, h, w = maps.shape
        rows = maps.permute(1, 0, 2, 3).flatten(1)  # (C, n h w), image by image
        ids = torch.arange(rows.shape[1]).repeat(channels, 1) + offset * h * w
        if kept is not None:  # the whole batch competes with the kept entries
            rows, ids = torch.cat([kept, rows], dim=1), torch.cat([where, ids], dim=1)
        order = rows.argsort(dim=1, descending=True, stable=True)[:, :k]
        kept, where = torch.take_along_dim(rows, order, dim=1), torch.take_along_dim(ids, order, dim=1)
        offset += n
    if kept is None or kept.shape[1] < k:
        raise ValueError(f"fewer than {k} positions in the stream")
    plane = h * w
    image = torch.div(where, plane, rounding_mode="floor")
    rest = where - image * plane
    row = torch.div(rest, w, rounding_mode="floor")
    return kept, image, row, rest - row * w
''',
    "choose_unit": '''
MY_UNIT = 51
MY_CLASS = "checkered square"
''',
}
