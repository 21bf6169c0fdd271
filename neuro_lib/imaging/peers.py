"""Peers of the U-Net, run at their best on the same movie: suite2p's cell detection and its shipped classifier.

suite2p (Pachitariu et al. 2017; version 1.1.0 here) finds ROIs from the movie's activity (``sparsery``, its default,
or ``sourcery``), then its pipeline extracts each ROI's trace and scores it with a classifier shipped in the wheel
(``suite2p/classifiers/classifier.npy``: a naive-Bayes-like model on the ROI statistics ``skew``, ``npix_norm`` and
``compact``; it runs offline). :func:`suite2p_detect` runs those steps on an already-registered movie, on the CPU,
without writing suite2p's files.

Other peers considered (installable from PyPI, running without downloading weights at run time): CaImAn is not on
PyPI in a usable form (conda only); cellpose (and suite2p's own ``algorithm="cellpose"``) downloads its model
weights at run time; the Neurofinder entries (HNCcorr, Sourcery's ancestors, ...) are not maintained packages.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["suite2p_detect", "suite2p_classifier_file", "suite2p_grid"]


def suite2p_classifier_file():
    """The classifier file shipped in the suite2p wheel (``classification.builtin_classfile``). Raises
    ``FileNotFoundError`` if this suite2p install lacks it."""
    from suite2p.classification.classify import builtin_classfile

    if not builtin_classfile.exists():
        raise FileNotFoundError(f"suite2p's shipped classifier {builtin_classfile} is missing from this install")
    return builtin_classfile


def suite2p_detect(movie: np.ndarray, *, diameter: float = 10.0, fs: float = 7.0, tau: float = 1.0,
                   algorithm: str = "sparsery", threshold_scaling: float = 1.0, classify: bool = False) -> dict:
    """suite2p's (v1.x) detection (``suite2p.detection.detection_wrapper``) on an already-registered movie (frames,
    rows, cols), on the CPU.

    ``diameter`` (pixels) is suite2p's expected cell diameter (``sourcery`` detects with it; with ``sparsery`` it
    enters the ROI statistics, and so the classifier); ``fs`` the frame rate (Hz) and ``tau`` the indicator's decay
    time (s), which set suite2p's temporal binning; ``threshold_scaling`` its detection threshold (lower finds
    more ROIs). With ``classify``, the pipeline's next steps run as in ``suite2p.run_s2p``: traces extracted
    (``extraction_wrapper``), neuropil subtracted (coefficient 0.7), ``skew`` of each trace, and the shipped
    classifier (:func:`suite2p_classifier_file`) gives each ROI its probability of being a cell.

    Returns ``{"centroids": (n, 2) row/col (suite2p's ``med``), "iscell_prob": (n,) or None, "stat": suite2p's
    list, "seconds": float}``. A run that finds no ROI (suite2p raises) returns empty arrays.
    """
    import suite2p
    import torch
    from suite2p.detection import detection_wrapper

    settings = dict(suite2p.default_settings()["detection"])
    settings["algorithm"] = algorithm
    settings["threshold_scaling"] = threshold_scaling
    mov = np.asarray(movie, np.float32)
    t0 = time.time()
    try:
        _, stat, _ = detection_wrapper(mov, diameter=np.array([diameter, diameter], float), tau=tau, fs=fs,
                                       settings=settings, device=torch.device("cpu"))
    except ValueError as err:  # "no ROIs were found"
        if "no ROIs" not in str(err):
            raise
        stat = []
    cents = np.array([s["med"] for s in stat], float).reshape(-1, 2)
    prob = None
    if classify and len(stat):
        from scipy.stats import skew
        from suite2p.classification import classify as s2p_classify
        from suite2p.extraction import extraction_wrapper

        ext = dict(suite2p.default_settings()["extraction"])
        F, Fneu, _, _ = extraction_wrapper(stat, mov, settings=ext, device=torch.device("cpu"))
        dF = F - ext["neuropil_coefficient"] * Fneu
        for s, sk in zip(stat, skew(dF, axis=1)):
            s["skew"] = sk
        prob = np.asarray(s2p_classify(stat=stat, classfile=suite2p_classifier_file())[:, 1], float)
    elif classify:
        prob = np.zeros(0)
    return {"centroids": cents, "iscell_prob": prob, "stat": stat, "seconds": time.time() - t0}


def _suite2p_version() -> str:
    from importlib.metadata import version

    return version("suite2p")


def suite2p_grid(movie: np.ndarray, *, diameters, threshold_scalings, fs: float, tau: float,
                 algorithm: str = "sparsery", p_thresholds=(0.5,), cache_key: dict | None = None) -> dict:
    """suite2p (:func:`suite2p_detect` with its classifier) on every (``diameter``, ``threshold_scaling``) of a small
    grid, for choosing them on training quadrants (:func:`~.detection.cross_quadrant_select`).

    Returns ``{"runs": {(diameter, threshold_scaling): {"centroids", "iscell_prob", "seconds"}}, "without":
    {(d, s): centroids}, "with": {(d, s, p): the centroids suite2p's classifier gives a probability above p}}``.
    With ``cache_key`` (e.g. the movie's archive checksum), each run is cached (:func:`neuro_lib.cache.cached`)
    under it, the settings and suite2p's version."""
    from .. import cache

    runs = {}
    for d in diameters:
        for s in threshold_scalings:
            def compute(d=d, s=s):
                r = suite2p_detect(movie, diameter=float(d), fs=fs, tau=tau, algorithm=algorithm,
                                   threshold_scaling=float(s), classify=True)
                return {"centroids": r["centroids"], "iscell_prob": r["iscell_prob"], "seconds": np.array(r["seconds"])}

            key = dict(data=cache_key, diameter=float(d), threshold_scaling=float(s), fs=float(fs), tau=float(tau),
                       algorithm=algorithm, suite2p=_suite2p_version())  # suite2p has no __version__ for cache
            r = cache.cached("imaging/suite2p", key, compute, name="suite2p", packages=("torch",)) \
                if cache_key is not None else compute()
            runs[(float(d), float(s))] = {"centroids": np.asarray(r["centroids"]).reshape(-1, 2),
                                          "iscell_prob": np.asarray(r["iscell_prob"]).reshape(-1),
                                          "seconds": float(r["seconds"])}
    without = {k: r["centroids"] for k, r in runs.items()}
    with_ = {(*k, float(p)): r["centroids"][r["iscell_prob"] > p] for k, r in runs.items() for p in p_thresholds}
    return {"runs": runs, "without": without, "with": with_}
