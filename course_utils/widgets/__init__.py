"""ipywidgets explorers, one module per topic (each has a static counterpart in ``plotting``).

* :mod:`.occlusion`    window/stride slider and the occlusion quiz (lecture 05)
* :mod:`.activations`  the deepvis-style activation explorer (lecture 06)
* :mod:`.static`       with ``COURSE_WIDGETS=static`` (pages executed for the site) each explorer
  displays a picture of its initial view and one line saying the live notebook is interactive
"""
from .static import *  # noqa: F401,F403
from .occlusion import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
