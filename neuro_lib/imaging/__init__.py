"""Two-photon imaging (the Seong & Park chapter): Neurofinder movies and ROIs, summary images, the U-Net on held-out
quadrants, detection and Neurofinder's centre metric, peers (suite2p, a correlation-image detector), patch
classification by transfer learning, the two-stage pipeline, and classifying a user's own ROIs.

Submodules: :mod:`.neurofinder` (loading, label images, masks), :mod:`.data` (the book's movie, cached summary
images), :mod:`.summary` (summary images, targets, per-ROI contrast and transients), :mod:`.detection` (components,
peaks, patches, metric, quadrants), :mod:`.peers` (suite2p), :mod:`.segmentation` (the U-Net estimator and its
cross-quadrant protocol), :mod:`.patches` (patch datasets, augmentation, the transfer-learning estimator),
:mod:`.chapter` (profile settings), :mod:`.predict` (``python -m neuro_lib.predict imaging``).
"""
from . import detection, neurofinder, summary
from .detection import *  # noqa: F403 - detection, patches and Neurofinder's metric (detection.__all__)
from .neurofinder import *  # noqa: F403 - the Neurofinder format (neurofinder.__all__)
from .summary import *  # noqa: F403 - summary images and targets (summary.__all__)

__all__ = [*neurofinder.__all__, *summary.__all__, *detection.__all__]
