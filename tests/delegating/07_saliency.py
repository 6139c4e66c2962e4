"""What a student who delegates every graded function of assignment 07_saliency to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "saliency_map": '''
from course_utils.attribution import saliency as _saliency


def saliency_map(model, images, targets):
    return _saliency(model, images, targets)
''',
    "neuron_gradient": '''
def neuron_gradient(model, images, layer, unit):
    from course_utils import attribution

    return attribution.neuron_gradient(model, images, layer, unit)
''',
    "pointing_hits": '''
from course_utils.evaluation import pointing_game as _game


def pointing_hits(maps, masks):
    return _game(maps, masks).hits
''',
    "choose_neuron": '''
MY_NEURON = (88, 11, 4)
''',
}
