"""What a student who delegates every graded function of assignment 02_raw_filters to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "normalize_filters": '''
from course_utils import filters as _filters


def normalize_filters(weight, per_filter=True):
    return _filters._min_max(weight.detach().float(), (1, 2, 3) if per_filter else (0, 1, 2, 3))
''',
    "tile_images": '''
def tile_images(tiles, ncols, separator=1, background=1.0):
    return _filters.tile(tiles, ncols, separator=separator, background=background)
''',
    "channel_tiles": '''
def channel_tiles(weight):
    return _filters.mosaic(weight, normalize="global", mode="channels", separator=0)
''',
    "choose_filters": '''
MY_STRONG = 36
MY_FAINT = 9
pair = shapenet_weight[[MY_STRONG, MY_FAINT]]
image = tile_images(normalize_filters(pair), ncols=2, separator=2)
''',
}
