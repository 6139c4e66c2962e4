"""What a student who delegates every graded function of assignment 06_activations to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "record_activations": '''
from course_utils.hooks import capture_activations as _capture


def record_activations(model, layers):
    return _capture(model, layers)
''',
    "layer_activations": '''
from course_utils import hooks as _hooks


def layer_activations(model, images, layers):
    return _hooks.activations(model, images, layers)
''',
    "unit_summary": '''
from course_utils.activations import unit_statistics as _statistics


def unit_summary(output):
    stats = _statistics(torch.nn.Sequential(torch.nn.Identity()), output, "0")
    stats = stats["0"] if isinstance(stats, dict) else stats
    return stats.active_fraction, stats.dead, stats.always_on
''',
    "choose_unit": '''
MY_LAYER = "classifier.5"  # a rectified layer of ShapeNet
MY_UNIT = 8  # a unit (channel) of that layer
MY_CLASS = "disk"  # the class it responds to
''',
}
