"""From a cell-probability map to cells: threshold, 8-connected components, centroids; patches around them;
Neurofinder's centre-matching metric per held-out quadrant; a correlation-image detector for comparison (suite2p:
:mod:`.peers`).

Seong & Park threshold the U-Net's probability map at 0.7, take connected components as cells and cut a 101x101
pixel patch around each centroid, upsampled to the classifier's input size (224 for ResNets, 299 for Inception-v3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["Detections", "detect_cells", "detect_peaks", "peaks_with_heights", "extract_patches", "match_centers",
           "centers_metric", "pixel_accuracy", "correlation_baseline", "quadrant_slices", "in_region", "region_mask",
           "cross_quadrant_select", "quadrant_scores"]


@dataclass
class Detections:
    """Found cells: ``centroids`` (n, 2) (row, col) in pixels, ``areas`` (n,) in pixels, ``labels`` the label image
    of the kept components (rows, cols), ``n_dropped`` the components smaller than ``min_area``."""

    centroids: np.ndarray
    areas: np.ndarray
    labels: np.ndarray
    n_dropped: int = 0

    def __len__(self) -> int:
        return len(self.centroids)


def detect_cells(prob: np.ndarray, threshold: float = 0.7, *, min_area: int = 1, max_area: int | None = None
                 ) -> Detections:
    """Threshold a probability map (rows, cols) at ``threshold`` (Seong & Park: 0.7) and return its 8-connected
    components (scikit-image ``label(connectivity=2)``) with at least ``min_area`` (and at most ``max_area``) pixels.

    Raises ``ValueError`` for a map that is not 2-D.
    """
    from skimage.measure import label, regionprops

    prob = np.asarray(prob)
    if prob.ndim != 2:
        raise ValueError(f"probability map must be 2-D (rows, cols), got shape {prob.shape}")
    lab = label(prob >= threshold, connectivity=2)
    keep, cents, areas, dropped = np.zeros_like(lab), [], [], 0
    for rp in regionprops(lab):
        if rp.area < min_area or (max_area is not None and rp.area > max_area):
            dropped += 1
            continue
        cents.append(rp.centroid)
        areas.append(rp.area)
        keep[lab == rp.label] = len(cents)
    cents = np.asarray(cents, float).reshape(-1, 2)
    return Detections(cents, np.asarray(areas, int), keep, dropped)


def detect_peaks(prob: np.ndarray, threshold: float = 0.5, *, sigma: float = 1.0, min_distance: int = 4
                 ) -> np.ndarray:
    """Cell centres as the local maxima of a probability map (rows, cols) smoothed by a Gaussian of ``sigma`` pixels
    (0: no smoothing): pixels at least ``threshold`` high that are the maximum of the (2 ``min_distance`` + 1)
    square around them; a flat top (connected pixels of equal height, e.g. a saturated map) counts once, at its
    centre of mass.

    Unlike :func:`detect_cells` (one cell per connected component) this splits touching cells whose probability has
    a dip between them, the peak-finding step of many Neurofinder entries. Returns (n, 2) float (row, col), sorted
    by decreasing height. Raises ``ValueError`` for a map that is not 2-D.
    """
    return peaks_with_heights(prob, threshold, sigma=sigma, min_distance=min_distance)[0]


def peaks_with_heights(prob: np.ndarray, threshold: float = 0.5, *, sigma: float = 1.0, min_distance: int = 4
                       ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`detect_peaks` that also returns each peak's height in the smoothed map: ``(centres (n, 2), heights
    (n,))``. The peaks above a higher threshold ``t`` are exactly those with ``heights >= t``. NaN counts as 0."""
    prob = np.asarray(prob, np.float32)
    if prob.ndim != 2:
        raise ValueError(f"probability map must be 2-D (rows, cols), got shape {prob.shape}")
    sm = np.nan_to_num(prob, nan=0.0)
    sm = ndi.gaussian_filter(sm, sigma) if sigma else sm
    top = (sm == ndi.maximum_filter(sm, size=2 * int(min_distance) + 1, mode="nearest")) & (sm >= threshold)
    lab, n = ndi.label(top, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0)
    idx = np.arange(1, n + 1)
    cents = np.asarray(ndi.center_of_mass(top, lab, idx), float).reshape(-1, 2)
    height = np.asarray(ndi.maximum(sm, lab, idx), float)
    order = np.argsort(-height, kind="stable")
    return cents[order], height[order]


def extract_patches(image: np.ndarray, centers: np.ndarray, size: int = 101, out_size: int | None = None
                    ) -> np.ndarray:
    """Square patches of ``size`` pixels (odd) centred on each (row, col) of ``centers`` (rounded), zero-padded at the
    image border, optionally resized to ``out_size`` (bilinear, as the paper upsamples 101 to 224 or 299).

    ``image`` is (rows, cols) or (channels, rows, cols); returns (n, channels, out, out) float32 (channels = 1 for a
    2-D image). Raises ``ValueError`` for an even ``size`` or a centre that does not round to a pixel of the image
    (the message gives its index and value).
    """
    if size % 2 == 0:
        raise ValueError(f"patch size must be odd so the centre pixel is the centre, got {size}")
    img = np.asarray(image, np.float32)
    if img.ndim == 2:
        img = img[None]
    h = size // 2
    pad = np.pad(img, ((0, 0), (h, h), (h, h)))
    centers = np.rint(np.asarray(centers, float).reshape(-1, 2)).astype(int)
    outside = np.flatnonzero((centers < 0).any(1) | (centers >= np.array(img.shape[1:])).any(1))
    if len(outside):
        i = int(outside[0])
        raise ValueError(f"{len(outside)} patch centre(s) outside the {img.shape[1]}x{img.shape[2]} image, e.g. "
                         f"centre {i} at (row, col) = ({centers[i, 0]}, {centers[i, 1]})")
    out = np.stack([pad[:, r:r + size, c:c + size] for r, c in centers]) if len(centers) else \
        np.zeros((0, img.shape[0], size, size), np.float32)
    if out_size is not None and out_size != size and len(out):
        import torch
        import torch.nn.functional as F

        out = F.interpolate(torch.from_numpy(out), size=(out_size, out_size), mode="bilinear",
                            align_corners=False).numpy()
    return out.astype(np.float32)


def match_centers(truth: np.ndarray, estimate: np.ndarray, threshold: float = 5.0) -> np.ndarray:
    """One-to-one matching of ROI centres the way Neurofinder does it (``neurofinder.match``, v1.1.1): each true
    centre in turn takes the nearest still-unmatched estimated centre if it is closer than ``threshold`` pixels.

    ``truth`` (n, 2), ``estimate`` (m, 2), (row, col). Returns (n,) int: the estimate index matched to each true ROI,
    or -1.
    """
    truth = np.asarray(truth, float).reshape(-1, 2)
    est = np.asarray(estimate, float).reshape(-1, 2)
    free = np.ones(len(est), bool)
    out = np.full(len(truth), -1)
    for i, t in enumerate(truth):
        if not free.any():
            break
        d = np.hypot(*(est - t).T)
        d[~free] = np.inf
        j = int(np.argmin(d))
        if d[j] < threshold:
            out[i], free[j] = j, False
    return out


def centers_metric(truth: np.ndarray, estimate: np.ndarray, threshold: float = 5.0) -> dict[str, float]:
    """Neurofinder's score (``neurofinder.centers``): recall = matches / true ROIs, precision = matches / estimated
    ROIs, ``f1`` = 2 p r / (p + r), with :func:`match_centers` at ``threshold`` pixels (5 in the benchmark).

    Returns ``{"recall", "precision", "f1", "n_true", "n_found", "n_matched"}``; an empty side gives 0 for the
    rates that divide by it.
    """
    m = match_centers(truth, estimate, threshold)
    n_match = int((m >= 0).sum())
    nt, ne = len(np.asarray(truth).reshape(-1, 2)), len(np.asarray(estimate).reshape(-1, 2))
    rec = n_match / nt if nt else 0.0
    prec = n_match / ne if ne else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"recall": rec, "precision": prec, "f1": f1, "n_true": nt, "n_found": ne, "n_matched": n_match}


def pixel_accuracy(prob: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of pixels where ``prob >= threshold`` agrees with the boolean ``mask`` (same shape)."""
    prob, mask = np.asarray(prob), np.asarray(mask, bool)
    if prob.shape != mask.shape:
        raise ValueError(f"shapes differ: probability {prob.shape}, mask {mask.shape}")
    return float(((prob >= threshold) == mask).mean())


def quadrant_slices(shape: tuple[int, int]) -> list[tuple[slice, slice]]:
    """The four quadrants (top-left, top-right, bottom-left, bottom-right) of an image as (row, col) slices."""
    H, W = shape
    r, c = H // 2, W // 2
    return [(slice(0, r), slice(0, c)), (slice(0, r), slice(c, W)), (slice(r, H), slice(0, c)),
            (slice(r, H), slice(c, W))]


def correlation_baseline(corr: np.ndarray, mean: np.ndarray | None = None, *, sigma: float = 1.0,
                         min_distance: int = 4, threshold: float | None = None) -> np.ndarray:
    """A simple detector without learning: local maxima of the smoothed correlation image (times the normalised
    mean image when given), at least ``min_distance`` pixels apart and above ``threshold`` (default: mean + 1 sd of
    the smoothed image). Returns (n, 2) centres (row, col). ``threshold`` is the one knob; the notebook picks it on
    the training quadrants only."""
    from skimage.feature import peak_local_max

    img = np.asarray(corr, np.float32)
    if mean is not None:
        img = img * np.asarray(mean, np.float32)
    sm = ndi.gaussian_filter(img, sigma)
    thr = float(sm.mean() + sm.std()) if threshold is None else threshold
    return peak_local_max(sm, min_distance=min_distance, threshold_abs=thr, exclude_border=False).astype(float)


def in_region(centres: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
    """Boolean (n,): which (row, col) ``centres`` fall inside ``region`` (a (row slice, col slice) pair)."""
    c = np.asarray(centres, float).reshape(-1, 2)
    rs, cs = region
    return (c[:, 0] >= rs.start) & (c[:, 0] < rs.stop) & (c[:, 1] >= cs.start) & (c[:, 1] < cs.stop)


def region_mask(regions, shape: tuple[int, int], *, points: np.ndarray | None = None) -> np.ndarray:
    """The pixels, or the points, of the quadrants numbered ``regions`` (indices into :func:`quadrant_slices`; e.g. a
    region :class:`~neuro_lib.evaluation.Split`'s ``train`` or ``test``).

    Without ``points``: a boolean (rows, cols) mask of ``shape``. With ``points`` (n, 2) (row, col) in pixels: a
    boolean (n,), True for the points inside one of the quadrants (:func:`in_region`: a point belongs to the quadrant
    its unrounded coordinates fall in)."""
    quads = quadrant_slices(shape)
    if points is None:
        m = np.zeros(shape, bool)
        for r in np.asarray(regions, int).reshape(-1):
            m[quads[r]] = True
        return m
    out = np.zeros(len(np.asarray(points).reshape(-1, 2)), bool)
    for r in np.asarray(regions, int).reshape(-1):
        out |= in_region(points, quads[r])
    return out


def _pooled_f1(truth: np.ndarray, found: np.ndarray, regions, shape, threshold: float) -> float:
    """Neurofinder's F1 pooled over ``regions``: each region matched on its own, then 2 m / (n_true + n_found)."""
    m = n_t = n_e = 0
    for r in regions:
        t, f = truth[region_mask([r], shape, points=truth)], found[region_mask([r], shape, points=found)]
        m += centers_metric(t, f, threshold)["n_matched"]
        n_t, n_e = n_t + len(t), n_e + len(f)
    return 2 * m / (n_t + n_e) if n_t + n_e else 0.0


def cross_quadrant_select(candidates: dict, truth: np.ndarray, shape: tuple[int, int], threshold: float = 5.0,
                          splits=None) -> dict:
    """Pick a detector's knob without looking at the test region: for each region split (default: the four
    quadrants, :func:`neuro_lib.imaging.segmentation.quadrant_splits`), the setting (a key of ``candidates``, each
    value the (n, 2) centres that setting found on the whole field) with the best Neurofinder F1 pooled over the
    split's training quadrants is applied to its held-out quadrant (the first such key on ties).

    Returns ``{"centroids": the held-out detections of all splits, "per_split": the held-out detections of each,
    "chosen": the setting per split}``.
    """
    from .segmentation import quadrant_splits

    splits = quadrant_splits() if splits is None else splits
    truth = np.asarray(truth, float).reshape(-1, 2)
    cands = {k: np.asarray(v, float).reshape(-1, 2) for k, v in candidates.items()}
    per, chosen = [], []
    for s in splits:
        best = max(cands, key=lambda k: _pooled_f1(truth, cands[k], s.train, shape, threshold))
        per.append(cands[best][region_mask(s.test, shape, points=cands[best])])
        chosen.append(best)
    return {"centroids": np.vstack(per) if per else np.zeros((0, 2)), "per_split": per, "chosen": chosen}


def quadrant_scores(truth: np.ndarray, found: np.ndarray, shape: tuple[int, int], *, splits=None,
                    mask: np.ndarray | None = None, pred: np.ndarray | None = None, threshold: float = 5.0):
    """Per held-out region scores of one detector: a DataFrame with one row per split (columns ``split``, ``fold``,
    ``repeat``, ``group`` = ``"all"``, as :class:`neuro_lib.evaluation.CVResult.scores`) and Neurofinder's
    ``precision``, ``recall``, ``f1``, ``n_true``, ``n_found``, ``n_matched`` on the ROIs and ``found`` (n, 2) centres
    of the split's test region; with ``mask`` and ``pred`` (rows, cols) booleans also ``pixel_accuracy`` there.
    Pooled over regions, the book's headline is :func:`centers_metric` on all held-out centres."""
    import pandas as pd

    from .segmentation import quadrant_splits

    splits = quadrant_splits() if splits is None else splits
    truth = np.asarray(truth, float).reshape(-1, 2)
    found = np.asarray(found, float).reshape(-1, 2)
    rows = []
    for j, s in enumerate(splits):
        row = {"split": j, "fold": s.fold, "repeat": s.repeat, "group": "all",
               **centers_metric(truth[region_mask(s.test, shape, points=truth)],
                                found[region_mask(s.test, shape, points=found)], threshold)}
        if mask is not None and pred is not None:
            px = region_mask(s.test, shape)
            row["pixel_accuracy"] = float((np.asarray(pred, bool)[px] == np.asarray(mask, bool)[px]).mean())
        rows.append(row)
    return pd.DataFrame(rows)
