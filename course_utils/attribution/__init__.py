"""Attribution: which pixels matter for a score.

One technique, one module:

* :mod:`.occlusion`   occlusion maps (Zeiler & Fergus 2013), lecture 05
* :mod:`.gradients`   input gradients, saliency maps, SmoothGrad, neuron gradients, Grad-CAM, lecture 07
* :mod:`.grabcut`     GrabCut segmentation seeded by a saliency map, lecture 07
* :mod:`.relu_rules`  deconvnet and guided backpropagation (swapped ReLU backward rules), lecture 08
"""
from .occlusion import *  # noqa: F401,F403
from .gradients import *  # noqa: F401,F403
from .grabcut import *  # noqa: F401,F403
from .relu_rules import *  # noqa: F401,F403
