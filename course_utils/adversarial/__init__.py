"""Adversarial and fooling examples (lecture 14), one technique per module.

* :mod:`.linear`   fooling a logistic-regression classifier; the nudge needed vs the dimension
* :mod:`.fgsm`     the fast gradient sign method and the accuracy-vs-epsilon curve
* :mod:`.pgd`      projected gradient descent: iterated FGSM inside an epsilon ball
* :mod:`.fooling`  targeted fooling images, and high-confidence images grown from noise
* :mod:`.hog`      a differentiable HOG descriptor and images optimized to match one
"""
from .fgsm import *  # noqa: F401,F403
from .fooling import *  # noqa: F401,F403
from .hog import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .pgd import *  # noqa: F401,F403
