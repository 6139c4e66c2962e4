"""A correct submission of assignment 09_class_models written differently from the solutions (other
operations, only what the docstrings promise), one solution cell (by grade id) at a time: it must get
full marks on every test cell."""
CELLS = {
    "ascent_step": '''
def ascent_step(image, grad, lr=0.02, l2=1e-3, eps=1e-8):
    if image.dim() != 4 or grad.shape != image.shape:
        raise ValueError("ascent_step needs image and grad of one (N, 3, H, W) shape")
    d = grad + 2 * l2 * (0.5 - image)
    values = d[0].numel()
    size = torch.linalg.vector_norm(d.reshape(len(d), -1), ord=1, dim=1) / values  # (N,) mean |d|
    moved = torch.addcdiv(image, d, (size + eps).view(-1, 1, 1, 1), value=lr)
    return torch.minimum(torch.maximum(moved, torch.zeros_like(moved)), torch.ones_like(moved))
''',
    "class_model_loop": '''
def class_model_loop(model, init, targets, steps=20, lr=0.02, l2=1e-3):
    current = init.clone().detach()
    rows = torch.arange(len(init))
    history = torch.empty(steps, len(init))
    for step in range(steps):
        leaf = current.detach().requires_grad_(True)
        chosen = model(leaf)[rows, targets]  # (N,) each image's own target score
        grad = torch.autograd.grad(chosen.sum(), leaf)[0]
        history[step] = chosen.detach()
        current = ascent_step(leaf.detach(), grad, lr=lr, l2=l2)
    return current, history
''',
    "choose_l2": '''
MY_L2 = 0.15
''',
}
