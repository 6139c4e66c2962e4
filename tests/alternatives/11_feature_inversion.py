"""A correct submission of assignment 11_feature_inversion written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "tv_regularizer": '''
def tv_regularizer(images, beta=2.0):
    if images.dim() != 4 or not beta > 0:
        raise ValueError("expected (N, C, H, W) images and a positive beta")
    height, width = images.shape[-2:]
    right = torch.diff(images, dim=3)[:, :, : height - 1, :]  # x[i, j+1] - x[i, j] on the (H-1, W-1) grid
    down = torch.diff(images, dim=2)[:, :, :, : width - 1]  # x[i+1, j] - x[i, j]
    squared = right * right + down * down
    if beta != 2:
        squared = squared + 1e-8
    return torch.sum(squared ** (0.5 * beta), dim=(1, 2, 3)) / (height * width)
''',
    "inversion_loss": '''
def inversion_loss(features, target, images, tv_weight=0.02, beta=2.0):
    if tuple(features.shape[1:]) != tuple(target.shape[1:]):
        raise ValueError("features and target differ in shape")
    difference = (features - target).reshape(features.shape[0], -1)
    reference = torch.linalg.vector_norm(target.reshape(target.shape[0], -1), dim=1) ** 2
    reference = torch.maximum(reference, torch.full_like(reference, 1e-12))
    return (difference * difference).sum(1) / reference + tv_weight * tv_regularizer(images, beta)
''',
    "invert_layer": '''
def invert_layer(model, images, layer, steps=30, lr=0.05, tv_weight=0.02, beta=2.0, seed=0):
    was_training = model.training
    model.eval()
    store = {}

    def keep(module, inputs, output):
        store["a"] = output
        return output.clone()  # an in-place ReLU after the layer must not change what we keep

    handle = hooks.get_layer(model, layer).register_forward_hook(keep)
    try:
        with torch.no_grad():
            model(images)
        target = store["a"].detach().clone()
        noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))
        x = (0.45 + 0.1 * noise).to(images.device)
        x.requires_grad = True
        adam = torch.optim.Adam([x], lr=lr)
        history = torch.zeros(steps, images.shape[0])
        for step in range(steps):
            model(x)
            loss = inversion_loss(store["a"], target, x, tv_weight, beta)
            x.grad = torch.autograd.grad(loss.sum(), [x])[0]
            adam.step()
            x.data.clamp_(min=0.0, max=1.0)
            history[step] = loss.detach().cpu()
    finally:
        handle.remove()
        model.train(was_training)
    return x.detach(), history
''',
    "choose_tv_weight": '''
MY_TV_WEIGHT = 10.0  # smooth, and the code is still matched
''',
}
