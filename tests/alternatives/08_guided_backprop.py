"""A correct submission of assignment 08_guided_backprop written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "guided_relu": '''
class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output.clamp(min=0) * (input > 0)


def guided_relu(x):
    return GuidedReLU.apply(x)
''',
    "deconvnet_relu": '''
class DeconvnetReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.clamp(min=0)


def deconvnet_relu(x):
    return DeconvnetReLU.apply(x)
''',
    "relu_rule_map": '''
import torch.nn.functional as F


def _swap_relus(module, relu):
    """Replace, depth first, every nn.ReLU below ``module`` by CallReLU(relu)."""
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            module.add_module(name, CallReLU(relu))
        else:
            _swap_relus(child, relu)


def relu_rule_map(model, images, target, relu):
    net = copy.deepcopy(model)
    net.train(False)
    _swap_relus(net, relu)
    x = images.detach().clone().requires_grad_()
    scores = net(x)
    (scores * F.one_hot(target, scores.shape[1]).to(scores.dtype)).sum().backward()
    return x.grad.detach()
''',
    "choose_layers": '''
MY_LAYERS = ["classifier.6"]  # the top layer alone
''',
}
