"""Two-photon imaging (the Seong & Park chapter): Neurofinder movies and ROIs, summary images, segmentation targets,
U-Net training on disjoint regions, detection of cells, Neurofinder's centre metric, patches and their
classification by transfer learning.

Submodules: :mod:`.neurofinder` (loading, label images, masks), :mod:`.summary` (mean/max/std/correlation images,
probability targets), :mod:`.detection` (components, patches, metric, baselines), :mod:`.segmentation` (U-Net
training per held-out quadrant), :mod:`.patches` (patch datasets, augmentation, transfer-learning CV).
"""
from .detection import (Detections, centers_metric, correlation_baseline, detect_cells, detect_peaks, extract_patches,
                        match_centers, pixel_accuracy, quadrant_slices, suite2p_detect)
from .neurofinder import (NeurofinderData, NeurofinderError, load_neurofinder, load_regions, roi_centroids,
                          rois_to_labels, rois_to_masks, write_neurofinder)
from .summary import (SUMMARY_CHANNELS, local_correlation_image, local_normalise, normalise, probability_target,
                      stack_summary, summary_images)

__all__ = [
    "NeurofinderError", "NeurofinderData", "load_neurofinder", "load_regions", "rois_to_labels", "rois_to_masks",
    "roi_centroids", "write_neurofinder", "normalise", "local_normalise", "local_correlation_image",
    "summary_images", "stack_summary", "probability_target", "SUMMARY_CHANNELS", "Detections", "detect_cells",
    "detect_peaks", "extract_patches", "match_centers", "centers_metric", "pixel_accuracy", "quadrant_slices",
    "correlation_baseline", "suite2p_detect",
]
