"""Figures, one module per topic; every function returns its matplotlib ``Figure``.

* :mod:`.core`         image grids, prediction bars, heatmap overlays, receptive fields, confusion
* :mod:`.filters`      filter mosaics and their frequency content (lecture 02)
* :mod:`.patches`      top activating patches with their boxes (lecture 03)
* :mod:`.embedding`    embeddings, neighbours and image grids (lecture 04)
* :mod:`.occlusion`    occlusion maps (lecture 05)
* :mod:`.activations`  feature maps of a layer (lecture 06)
* :mod:`.saliency`     saliency, guided backprop and friends (lectures 07-08)
* :mod:`.synthesis`    optimized images and their histories (lectures 09-13)
* :mod:`.adversarial`  adversarial and fooling examples (lecture 14)
"""
from .core import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from .patches import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .occlusion import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
from .saliency import *  # noqa: F401,F403
from .synthesis import *  # noqa: F401,F403
from .adversarial import *  # noqa: F401,F403
