"""Summary images of a movie (mean, max, standard deviation, local correlation) and segmentation targets.

The U-Net of Seong & Park segments cells on summary images of the movie rather than on single frames; the local
correlation image (each pixel's mean temporal correlation with its 8 neighbours; Smith & Häusser 2010, used by
Neurofinder entries and CaImAn) shows active cells that the mean image hides.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["normalise", "local_normalise", "local_correlation_image", "summary_images", "stack_summary",
           "probability_target", "roi_contrast", "roi_transient_snr", "SUMMARY_CHANNELS"]

SUMMARY_CHANNELS = ("mean", "max", "std", "corr")

_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def normalise(img: np.ndarray, low: float = 1.0, high: float = 99.5) -> np.ndarray:
    """Scale ``img`` to [0, 1] between its ``low`` and ``high`` percentiles, clipped (float32, same shape).
    A constant image becomes all zeros."""
    img = np.asarray(img, np.float32)
    lo, hi = np.percentile(img, [low, high])
    if hi <= lo:
        return np.zeros_like(img)
    return np.clip((img - lo) / (hi - lo), 0, 1).astype(np.float32)


def local_normalise(img: np.ndarray, sigma: float = 16.0, clip: tuple[float, float] = (-4.0, 6.0)) -> np.ndarray:
    """Local contrast normalisation: ``(img - m) / s`` with ``m`` the Gaussian-weighted local mean and ``s`` the
    local standard deviation (both over ``sigma`` pixels, about two cell diameters), clipped to ``clip`` and divided
    by 3 (so most values lie in [-1, 2]). Removes the slow brightness changes across the field of view (vignetting,
    blood vessels, uneven labelling) that a global scaling keeps, so that a network trained on some regions sees
    the same range in others. Returns float32, same shape (rows, cols)."""
    img = np.asarray(img, np.float32)
    m = ndi.gaussian_filter(img, sigma)
    sd = np.sqrt(ndi.gaussian_filter((img - m) ** 2, sigma)) + 1e-6 * (float(img.std()) + 1e-12)
    return (np.clip((img - m) / sd, *clip) / 3).astype(np.float32)


def local_correlation_image(movie: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Mean Pearson correlation of each pixel's time course with its 8 neighbours, shape (rows, cols), float32.

    ``movie`` is (frames, rows, cols). Border pixels average over the neighbours that exist (5 at an edge, 3 in a
    corner). A pixel with a constant time course has correlation 0 with everything. Rows are processed in chunks of
    ``chunk`` to bound memory (about 4 x frames x chunk x cols float32). Raises ``ValueError`` for a movie that is
    not 3-D or has fewer than 2 frames.
    """
    movie = np.asarray(movie)
    if movie.ndim != 3 or movie.shape[0] < 2:
        raise ValueError(f"movie must be (frames, rows, cols) with at least 2 frames, got shape {movie.shape}")
    T, H, W = movie.shape
    out = np.zeros((H, W), np.float64)
    count = np.zeros((H, W), np.float64)
    for r0 in range(0, H, chunk):
        a, b = max(r0 - 1, 0), min(r0 + chunk + 1, H)  # with a one-row halo
        z = movie[:, a:b].astype(np.float32)
        z -= z.mean(axis=0)
        sd = np.sqrt((z ** 2).mean(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(sd > 0, z / np.where(sd > 0, sd, 1), 0).astype(np.float32)
        rows = np.arange(r0, min(r0 + chunk, H))
        loc = rows - a
        for dr, dc in _OFFSETS:
            nr = rows + dr
            ok_r = (nr >= 0) & (nr < H)
            rr, nl = rows[ok_r], (nr - a)[ok_r]
            cl = loc[ok_r]
            c0, c1 = max(0, -dc), min(W, W - dc)
            prod = (z[:, cl, c0:c1] * z[:, nl, c0 + dc:c1 + dc]).mean(axis=0)
            out[rr, c0:c1] += prod
            count[rr, c0:c1] += 1
    return (out / count).astype(np.float32)


def summary_images(movie: np.ndarray, *, normalised: bool = True) -> dict[str, np.ndarray]:
    """``{"mean", "max", "std", "corr"}`` summary images (rows, cols) of a (frames, rows, cols) movie.

    ``std`` is the temporal standard deviation, ``corr`` :func:`local_correlation_image`. With ``normalised``, each
    is scaled to [0, 1] by :func:`normalise` (1st to 99.5th percentile).
    """
    m = np.asarray(movie, np.float32)
    out = {"mean": m.mean(axis=0), "max": m.max(axis=0), "std": m.std(axis=0), "corr": local_correlation_image(m)}
    if normalised:
        out = {k: normalise(v) for k, v in out.items()}
    return out


def stack_summary(images: dict[str, np.ndarray], channels=SUMMARY_CHANNELS) -> np.ndarray:
    """Stack the named summary images into a (channels, rows, cols) float32 array (the U-Net's input)."""
    return np.stack([images[c] for c in channels]).astype(np.float32)


def probability_target(labels: np.ndarray, sigma: float | None = 1.0, *, separate: bool = True) -> np.ndarray:
    """Cell-probability map (rows, cols) in [0, 1] from a label image (0 background, k > 0 ROI k).

    With ``separate``, pixels of an ROI that touch another ROI are set to background first, so that touching cells
    stay separate components after thresholding. With ``sigma`` (pixels), the binary mask is smoothed by a Gaussian
    into a probability map that is highest in the cells' interiors, a stand-in for the template-fitting probability
    maps Seong & Park trained on; ``sigma=None`` keeps the binary mask.
    """
    labels = np.asarray(labels)
    mask = labels > 0
    if separate:
        mx = ndi.maximum_filter(labels, size=3)
        lab_min = np.where(labels > 0, labels, np.iinfo(np.int32).max)
        mn = ndi.minimum_filter(lab_min, size=3)
        border = mask & ((mx != labels) | ((mn != labels) & (mn != np.iinfo(np.int32).max)))
        mask = mask & ~border
    target = mask.astype(np.float32)
    if sigma:
        target = ndi.gaussian_filter(target, sigma)
        if target.max() > 0:
            target = np.clip(target / np.percentile(target[mask], 90), 0, 1) if mask.any() else target
    return target.astype(np.float32)


def _roi_rings(labels: np.ndarray, ring: tuple[int, int]):
    """For each ROI k of a label image that has ring pixels: ``(k, window, roi, ring_mask)``, where ``window`` is a
    (row slice, col slice) around the ROI with ``ring[1]`` pixels of margin, ``roi`` the ROI's pixels in it and
    ``ring_mask`` the background pixels (label 0) ``ring[0]`` to ``ring[1]`` pixels from the ROI (chessboard
    distance, by binary dilation)."""
    square = np.ones((3, 3), bool)
    r_in, r_out = ring
    for k, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        sl = tuple(slice(max(s.start - r_out, 0), s.stop + r_out) for s in sl)
        lab = labels[sl]
        roi = lab == k
        outer = ndi.binary_dilation(roi, square, iterations=r_out) if r_out else roi
        inner = ndi.binary_dilation(roi, square, iterations=r_in) if r_in else roi
        rg = outer & ~inner & (lab == 0)
        if rg.any():
            yield k, sl, roi, rg


def roi_contrast(image: np.ndarray, labels: np.ndarray, *, ring: tuple[int, int] = (2, 6)) -> np.ndarray:
    """How much each ROI stands out from its surroundings in each summary image: ``(mean inside the ROI - mean of
    its ring) / sd of its ring``, a z-score per ROI and channel.

    ``image`` (channels, rows, cols) or (rows, cols); ``labels`` (rows, cols) int label image (0 background, ROI k
    has label k = 1..n). The ring of ROI k is the background pixels (label 0) between ``ring[0]`` and ``ring[1]``
    pixels from the ROI (chessboard distance, by binary dilation), so neighbouring ROIs do not count as background.
    An ROI with a contrast near 0 in every channel is on average neither brighter nor darker than the background
    around it: only its shape or texture can give it away. Returns (n, channels) float; NaN for a label absent from
    ``labels`` or a ROI without ring pixels. Raises ``ValueError`` if the shapes differ.
    """
    img = np.asarray(image, np.float32)
    img = img[None] if img.ndim == 2 else img
    labels = np.asarray(labels)
    if img.shape[1:] != labels.shape:
        raise ValueError(f"image {img.shape[1:]} and labels {labels.shape} must have the same (rows, cols)")
    out = np.full((int(labels.max()), img.shape[0]), np.nan)
    for k, sl, roi, rg in _roi_rings(labels, ring):
        for c in range(img.shape[0]):
            v = img[c][sl]
            out[k - 1, c] = (v[roi].mean() - v[rg].mean()) / (v[rg].std() + 1e-12)
    return out


def roi_transient_snr(movie: np.ndarray, labels: np.ndarray, *, ring: tuple[int, int] = (2, 8),
                      neuropil: float = 0.7, smooth: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Did each ROI fire during the movie? The largest upward and downward excursion of its neuropil-corrected
    trace, in robust noise units.

    ``movie`` (frames, rows, cols); ``labels`` (rows, cols) int label image (ROI k has label k = 1..n). The trace
    of ROI k is the mean over its pixels minus ``neuropil`` (0.7, the usual coefficient: Chen et al. 2013, suite2p's
    default) times the mean over its ring (background pixels ``ring[0]`` to ``ring[1]`` pixels away, as in
    :func:`roi_contrast`), smoothed by a ``smooth``-frame running mean. With ``m`` its median and ``s`` 1.4826 times
    its median absolute deviation, returns ``(peak, trough)``, each (n,) float: ``(max - m) / s`` and
    ``(m - min) / s`` (NaN for a label absent from ``labels`` or without ring pixels).

    Calcium transients only go up, so ``trough`` measures how far noise alone reaches: an ROI whose ``peak`` lies
    above (say) the 99th percentile of all troughs had a transient in these frames; one below it did not fire
    detectably and can only be found by its appearance in the summary images. Raises ``ValueError`` if the
    movie is not 3-D, its frames and ``labels`` differ in shape, or ``smooth`` is below 1.
    """
    movie = np.asarray(movie)
    labels = np.asarray(labels)
    if movie.ndim != 3 or movie.shape[1:] != labels.shape:
        raise ValueError(f"movie {movie.shape} must be (frames, rows, cols) with frames of the labels' shape "
                         f"{labels.shape}")
    if smooth < 1:
        raise ValueError(f"smooth must be at least 1 frame, got {smooth}")
    n = int(labels.max())
    peak, trough = np.full(n, np.nan), np.full(n, np.nan)
    for k, sl, roi, rg in _roi_rings(labels, ring):
        sub = movie[(slice(None),) + sl].astype(np.float32)
        x = sub[:, roi].mean(1) - neuropil * sub[:, rg].mean(1)
        x = ndi.uniform_filter1d(x, smooth) if smooth > 1 else x
        m = np.median(x)
        s = 1.4826 * np.median(np.abs(x - m)) + 1e-12
        peak[k - 1], trough[k - 1] = (x.max() - m) / s, (m - x.min()) / s
    return peak, trough
