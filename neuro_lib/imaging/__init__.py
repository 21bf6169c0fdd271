"""Two-photon imaging (the Seong & Park chapter): Neurofinder movies and ROIs, summary images, the U-Net on held-out
quadrants, detection and Neurofinder's centre metric, peers (suite2p, a correlation-image detector), patch
classification by transfer learning, the two-stage pipeline, and classifying a user's own ROIs.

Submodules: :mod:`.neurofinder` (loading, label images, masks), :mod:`.data` (the book's movie, cached summary
images), :mod:`.summary` (summary images, targets, per-ROI contrast and transients), :mod:`.detection` (components,
peaks, patches, metric, quadrants), :mod:`.peers` (suite2p), :mod:`.segmentation` (the U-Net estimator and its
cross-quadrant protocol), :mod:`.patches` (patch datasets, augmentation, the transfer-learning estimator),
:mod:`.chapter` (profile settings), :mod:`.predict` (``python -m neuro_lib.predict imaging``).
"""
from .detection import (Detections, centers_metric, correlation_baseline, detect_cells, detect_peaks, extract_patches,
                        match_centers, pixel_accuracy, quadrant_slices)
from .neurofinder import (NeurofinderData, NeurofinderError, load_neurofinder, load_regions, roi_centroids,
                          rois_to_labels, rois_to_masks, write_neurofinder)
from .summary import (SUMMARY_CHANNELS, local_correlation_image, local_normalise, normalise, probability_target,
                      stack_summary, summary_images)

__all__ = [
    "NeurofinderError", "NeurofinderData", "load_neurofinder", "load_regions", "rois_to_labels", "rois_to_masks",
    "roi_centroids", "write_neurofinder", "normalise", "local_normalise", "local_correlation_image",
    "summary_images", "stack_summary", "probability_target", "SUMMARY_CHANNELS", "Detections", "detect_cells",
    "detect_peaks", "extract_patches", "match_centers", "centers_metric", "pixel_accuracy", "quadrant_slices",
    "correlation_baseline",
]
