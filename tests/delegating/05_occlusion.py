"""What a student who delegates every graded function of assignment 05_occlusion to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "window_masks": '''
def window_masks(height, width, window, stride):
    occluded = attribution.occlude(torch.zeros(1, 3, height, width), window=window, stride=stride, baseline=1.0)
    return occluded[0, ..., 0, :, :].reshape(-1, height, width) > 0
''',
    "occlusion_map": '''
def occlusion_map(model, image, target, window, stride, baseline=0.5, batch_size=64):
    return attribution.occlusion(model, image[None], target, window=window, stride=stride, baseline=baseline).probability[0]
''',
    "pointing_hit": '''
def pointing_hit(probability, mask, window, stride):
    hits, chance = evaluation.window_pointing_game(probability[None], mask[None], window=window, stride=stride)
    return bool(hits[0]), float(chance[0])
''',
    "choose_window": '''
MY_WINDOW = 20  # the side of the occluder, in pixels
''',
}
