"""What a student who delegates every graded function of assignment 13_style_transfer to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "content_loss": '''
def content_loss(features, target):
    return synthesis.content_loss(features, target)
''',
    "gram_matrix": '''
from course_utils.synthesis import gram_matrix as _gram


def gram_matrix(features):
    return _gram(features)
''',
    "style_loss": '''
import importlib


def style_loss(features, targets, weights=None):
    return importlib.import_module("course_utils.synthesis").style_loss(features, targets, weights)
''',
    "tv_loss": '''
_saved = synthesis.tv_loss


def tv_loss(images, gamma=2.0):
    return _saved(images, gamma)
''',
    "choose_style_weight": '''
BETA = 300
''',
}
