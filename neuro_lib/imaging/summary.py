"""Summary images of a movie (mean, max, standard deviation, local correlation) and segmentation targets.

The U-Net of Seong & Park segments cells on summary images of the movie rather than on single frames; the local
correlation image (each pixel's mean temporal correlation with its 8 neighbours; Smith & Häusser 2010, used by
Neurofinder entries and CaImAn) shows active cells that the mean image hides.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["normalise", "local_normalise", "local_correlation_image", "summary_images", "stack_summary",
           "probability_target", "SUMMARY_CHANNELS"]

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
