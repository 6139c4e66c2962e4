"""What a student who delegates every graded function of assignment 10_feature_visualization to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "decay_blur": '''
from course_utils.imaging import gaussian_blur as _blur
from course_utils.synthesis import regularizers as _regularizers


class _State:
    def __init__(self, image, grad=None):
        self.image, self.grad, self.step = image, grad, 0


def decay(image, rate, center=0.5):
    state = _State(image.clone())
    _regularizers.decay(rate, center=center)(state)
    return state.image


def gaussian_blur(image, sigma):
    return _blur(image, sigma) if sigma > 0 else image
''',
    "clipping": '''
def clip_small_norm(image, pct, center=0.5):
    state = _State(image.clone())
    _regularizers.clip_norm(pct, center=center)(state)
    return state.image


def clip_small_contribution(image, grad, pct, center=0.5):
    state = _State(image.clone(), grad)
    _regularizers.clip_contribution(pct, center=center)(state)
    return state.image
''',
    "choose_settings": '''
MY_SETTINGS = dict(norm_pct=70, blur_sigma=1.0)
''',
}
