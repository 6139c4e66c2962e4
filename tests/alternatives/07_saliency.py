"""A correct submission of assignment 07_saliency written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "saliency_map": '''
import torch.nn.functional as F


def saliency_map(model, images, targets):
    if targets.shape != (images.shape[0],):
        raise ValueError("one target class per image")
    mode = model.training
    leaf = images.detach().clone()
    leaf.requires_grad = True
    try:
        model.train(False)
        with torch.enable_grad():
            out = model(leaf)
            pick = F.one_hot(targets.to(out.device), out.shape[1]).to(out.dtype)
            grad = torch.autograd.grad(out, [leaf], grad_outputs=pick)[0]
    finally:
        model.train(mode)
    return grad.abs().max(dim=1).values
''',
    "neuron_gradient": '''
def neuron_gradient(model, images, layer, unit):
    c, y, x_ = unit
    x = images.detach().clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with hooks.capture_activations(model, layer, detach=False) as store:
            model(x)
        output = store[layer]  # (N, C, h, w)
        if not (0 <= c < output.shape[1] and 0 <= y < output.shape[2] and 0 <= x_ < output.shape[3]):
            raise ValueError(f"unit {unit} is outside the output {tuple(output.shape)} of layer {layer!r}")
        seed = torch.zeros_like(output)
        seed[:, c, y, x_] = 1.0
        (grad,) = torch.autograd.grad(output, x, grad_outputs=seed)
    finally:
        model.train(was_training)
    return grad
''',
    "pointing_hits": '''
def pointing_hits(maps, masks):
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} differ")
    peak = maps.flatten(1).argmax(dim=1)  # (N,)
    return masks.flatten(1).gather(1, peak[:, None])[:, 0].bool()
''',
    "choose_neuron": '''
MY_NEURON = (53, 12, 4)  # another channel, one row lower, still over the square
''',
}
