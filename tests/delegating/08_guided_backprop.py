"""What a student who delegates every graded function of assignment 08_guided_backprop to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "guided_relu": '''
GuidedReLU = attribution.RELU_RULES["guided"]


def guided_relu(x):
    return GuidedReLU.apply(x)
''',
    "deconvnet_relu": '''
DeconvnetReLU = attribution.RELU_RULES["deconvnet"]


def deconvnet_relu(x):
    return DeconvnetReLU.apply(x)
''',
    "relu_rule_map": '''
def relu_rule_map(model, images, target, relu):
    if relu is torch.relu:
        return attribution.input_gradient(model, images, target)
    if relu is deconvnet_relu:
        return attribution.deconvnet(model, images, target)
    return attribution.guided_backprop(model, images, target)
''',
    "choose_layers": '''
MY_LAYERS = ["classifier.6", "classifier.4"]
''',
}
