"""What a student who delegates every graded function of assignment 03_top_patches to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "unit_box": '''
def unit_box(y, x, field, jump, start, image_size):
    padding = int((field - 1) / 2 - start)  # one convolution with this receptive field, jump and start
    layer = torch.nn.Sequential(torch.nn.Conv2d(3, 1, field, jump, padding))
    return tuple(patches.receptive_box(layer, "0", y, x, image_size=image_size))
''',
    "streaming_topk": '''
def streaming_topk(batches, k):
    maps = torch.cat(list(batches))
    top = patches.top_activations(torch.nn.Sequential(torch.nn.Identity()), maps, "0", k=k)
    return top.values, top.image, top.y, top.x
''',
    "choose_unit": '''
MY_UNIT = 13
MY_CLASS = "star"
''',
}
