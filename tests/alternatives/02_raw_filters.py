"""A correct submission of assignment 02_raw_filters written differently from the solutions (one
solution cell, by grade id, at a time): it must get full marks, so the tests check only what the
docstrings promise."""
CELLS = {
    "normalize_filters": '''
def normalize_filters(weight, per_filter=True):
    if len(weight.shape) != 4:
        raise ValueError("weight must be 4-D (C_out, C_in, kH, kW)")
    values = weight.detach().to(torch.float32)
    rows = values.reshape(values.shape[0], -1) if per_filter else values.reshape(1, -1)
    low = rows.min(dim=1).values[:, None]
    high = rows.max(dim=1).values[:, None]
    out = torch.full_like(rows, 0.5)
    varying = (high > low).squeeze(1)
    out[varying] = (rows[varying] - low[varying]) / (high[varying] - low[varying])
    return out.reshape(values.shape)
''',
    "tile_images": '''
import torch.nn.functional as F


def tile_images(tiles, ncols, separator=1, background=1.0):
    if len(tiles.shape) != 4 or tiles.shape[1] != 3 or len(tiles) == 0:
        raise ValueError("tiles must be (T, 3, h, w) with T >= 1")
    if ncols < 1 or separator < 0:
        raise ValueError("need ncols >= 1 and separator >= 0")
    count, _, h, w = tiles.shape
    cols = min(ncols, count)
    rows = (count + cols - 1) // cols
    padded = F.pad(tiles, (0, separator, 0, separator), value=background)
    missing = rows * cols - count
    if missing:
        padded = torch.cat([padded, padded.new_full((missing, *padded.shape[1:]), background)])
    grid = padded.reshape(rows, cols, 3, h + separator, w + separator).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(3, rows * (h + separator), cols * (w + separator))
    return grid[:, : grid.shape[1] - separator, : grid.shape[2] - separator].clone()
''',
    "channel_tiles": '''
def channel_tiles(weight):
    return torch.stack([weight.flatten(0, 1)] * 3, dim=1)
''',
    "choose_filters": '''
MY_STRONG = 41
MY_FAINT = 32
pair = shapenet_weight[[MY_STRONG, MY_FAINT]]
image = tile_images(normalize_filters(pair), ncols=2, separator=2)
''',
}
