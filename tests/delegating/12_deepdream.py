"""What a student who delegates every graded function of assignment 12_deepdream to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "dream_step": '''
def dream_step(model, images, layer, shift, step_size=1.5 / 255, eps=1e-8):
    rolled = torch.roll(images, shifts=tuple(shift), dims=(-2, -1))
    result = synthesis.optimize(model, synthesis.dream(layer), param=rolled, steps=1, lr=step_size, optimizer="normalized")
    return torch.roll(result.image, shifts=(-shift[0], -shift[1]), dims=(-2, -1)), result.history[0]
''',
    "dream_loop": '''
def dream_loop(model, images, layer, steps=10, jitter=8, step_size=1.5 / 255, seed=0):
    result = synthesis.optimize(model, synthesis.dream(layer), param=images, steps=steps, lr=step_size,
                                optimizer="normalized", transforms=[synthesis.jitter(jitter)])
    return result.image, result.history
''',
    "choose_dream": '''
MY_LAYER = model.roles["last_conv"]
MY_STEP_SIZE = 1 / 255
''',
}
