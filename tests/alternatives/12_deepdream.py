"""A correct submission of assignment 12_deepdream written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "dream_step": '''
def dream_step(model, images, layer, shift, step_size=1.5 / 255, eps=1e-8):
    dy, dx = int(shift[0]), int(shift[1])
    rolled = images.detach().roll(dy, dims=2).roll(dx, dims=3).clone()
    rolled.requires_grad_()
    kept = []

    def keep(module, inputs, output):
        kept.append(output)
        return output.clone()  # an in-place ReLU after the layer must not change what we keep

    handle = hooks.get_layer(model, layer).register_forward_hook(keep)
    try:
        model(rolled)
    finally:
        handle.remove()
    a = kept[-1]
    per_image = 0.5 * (a * a).sum(dim=tuple(range(1, a.dim())))  # (N,)
    (grad,) = torch.autograd.grad(per_image.sum(), [rolled])
    size = grad.abs().mean(dim=(1, 2, 3), keepdim=True)
    size = torch.where(size > eps, size, torch.full_like(size, eps))
    with torch.no_grad():
        moved = (rolled + step_size * grad / size).clamp(0.0, 1.0)  # clamping commutes with the roll
        back = moved.roll(-dx, dims=3).roll(-dy, dims=2)
    return back, per_image.detach()
''',
    "dream_loop": '''
def dream_loop(model, images, layer, steps=10, jitter=8, step_size=1.5 / 255, seed=0):
    generator = torch.Generator().manual_seed(seed)
    dream = images
    values = torch.zeros(steps, images.shape[0])
    for k in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
        dream, values[k] = dream_step(model, dream, layer, (dy, dx), step_size=step_size)
    return dream, values
''',
    "choose_dream": '''
MY_LAYER = "features.10"  # the pooling after the last convolution
MY_STEP_SIZE = 0.004
''',
}
