"""Per-site features of an EAP, Buccino et al. (2018), Section II-C.

For each site, the *amplitude* is the difference between the negative peak and the positive peak that follows it,
and the *width* the time between the two; a site whose amplitude is under 5 uV is set to amplitude 0 and width
7 ms (the whole cut-out), so that silent sites look alike. On the 10x10 MEA the two become two 10x10 images.
We also keep the negative-peak value and the time of each site's negative peak relative to the EAP's (the
propagation map), used by the extended model of ``03_classify``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_NAMES", "eap_features", "feature_images", "MIN_AMPLITUDE", "SILENT_WIDTH"]

MIN_AMPLITUDE = 5.0   # uV, under which a site counts as silent (the paper's rule)
SILENT_WIDTH = 7.0    # ms, the width given to a silent site (the cut-out's length)
FEATURE_NAMES = ("amplitude", "width", "neg_peak", "trough_delay")


def eap_features(eaps: np.ndarray, dt: float, *, min_amplitude: float = MIN_AMPLITUDE,
                 silent_width: float = SILENT_WIDTH) -> np.ndarray:
    """Features of EAPs (..., n_sites, n_samples) in uV sampled every ``dt`` ms.

    Returns (..., 4, n_sites) float32: ``amplitude`` (uV, ``|neg peak - following pos peak|``), ``width`` (ms,
    from the negative peak to that positive peak), ``neg_peak`` (uV, the most negative value) and ``trough_delay``
    (ms, time of the site's negative peak minus that of the EAP's most negative site). Silent sites (amplitude
    under ``min_amplitude``) get amplitude 0 and width ``silent_width``. Raises ``ValueError`` for fewer than two
    samples.
    """
    x = np.asarray(eaps, dtype=np.float32)
    if x.ndim < 2 or x.shape[-1] < 2:
        raise ValueError(f"EAPs must be (..., n_sites, n_samples) with at least 2 samples, got shape {x.shape}")
    T = x.shape[-1]
    tn = np.argmin(x, axis=-1)                                           # (..., E)
    neg = np.take_along_axis(x, tn[..., None], -1)[..., 0]
    after = np.where(np.arange(T) >= tn[..., None], x, -np.inf)          # only samples from the trough on
    tp = np.argmax(after, axis=-1)
    pos = np.take_along_axis(x, tp[..., None], -1)[..., 0]
    amp = np.abs(pos - neg)
    width = (tp - tn) * dt
    silent = amp < min_amplitude
    amp = np.where(silent, 0.0, amp)
    width = np.where(silent, silent_width, width)
    ref = np.take_along_axis(tn, np.argmin(neg, axis=-1)[..., None], -1)  # trough time of the biggest site
    delay = (tn - ref) * dt
    return np.stack([amp, width, neg, delay], axis=-2).astype(np.float32)


def feature_images(features: np.ndarray, shape=(10, 10), channels=(0, 1)) -> np.ndarray:
    """(..., 4, n_sites) features -> (..., len(channels), *shape) images (sites in MEAutility's order, row-major
    over the probe's first in-plane axis), e.g. the paper's amplitude and width images."""
    f = np.asarray(features)[..., list(channels), :]
    return f.reshape(*f.shape[:-1], *shape)
