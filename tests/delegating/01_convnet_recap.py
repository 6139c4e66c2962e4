"""What a student who delegates every graded function of assignment 01_convnet_recap to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "topk_classes": '''
from course_utils.models import topk_predictions as _topk


class _Scores(torch.nn.Module):
    def __init__(self, names):
        super().__init__()
        self.classes = list(names)

    def forward(self, x):
        return x


def topk_classes(scores, class_names, k=5):
    return _topk(_Scores(class_names), scores.detach(), k)
''',
    "conv_output_size": '''
import importlib


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    patches = importlib.import_module("course_utils.patches")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 1, kernel, stride, padding, dilation))
    return patches.layer_table(net, size)[-1].output_shape[-1]
''',
    "receptive_fields": '''
def receptive_fields(layers):
    from course_utils import patches

    net = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, k, s, p, d) for k, s, p, d in layers])
    return [(row.receptive_field, row.jump, row.start) for row in patches.layer_table(net, 224)]
''',
    "choose_chain": '''
MY_CHAIN = [(5, 2, 2, 1), (5, 1, 4, 2), (5, 1, 4, 2)]
for geometry, (field, jump, start) in zip(MY_CHAIN, receptive_fields(MY_CHAIN)):
    print(f"{str(geometry):<16} receptive field {field:>4}, jump {jump}")
''',
}
