"""ipywidgets explorers, one module per topic (each has a static counterpart in ``plotting``).

* :mod:`.occlusion`    window/stride slider and the occlusion quiz (lecture 05)
* :mod:`.activations`  the deepvis-style activation explorer (lecture 06)
"""
from .occlusion import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
