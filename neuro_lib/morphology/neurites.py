"""Morphometrics per neurite type, and a gradient-boosting classifier on them: a strong hand-feature model that
asks how far the labels of a task can be predicted from the reconstructions at all.

The 19 features of Zhang et al. 2021 (:mod:`neuro_lib.morphology.features`) pool all neurites. Whether a cell is a
principal cell or an interneuron shows more in *where* each kind of neurite goes: a pyramidal cell's apical
dendrite rises towards the pia from a thick stem; an interneuron's axon ramifies densely near its soma; a spiny
stellate cell has no apical dendrite but an axon that climbs to layer 2/3. :func:`neurite_morphometrics` measures
each SWC neurite type separately (axon = type 2, basal dendrite = 3, apical dendrite = 4, dendrite = 3 or 4):

=============================  ===============================================================================
feature (per type ``T``)        definition
=============================  ===============================================================================
``T_length`` (um)               sum of the compartments (sample to parent) of the samples of type ``T``
``T_n_tips``                    samples of type ``T`` without children
``T_n_bifurcations``            samples of type ``T`` with two or more children
``T_y_max``, ``T_y_min`` (um)   highest and lowest sample relative to the soma centre along y (the rat S1
                                reconstructions are aligned with the pia up: y > 0 is towards the pia)
``T_y_mean`` (um)               length-weighted mean y relative to the soma
``T_width``, ``T_depth`` (um)   extent along x and along z
``T_radius_median``/``_max``    median and largest radius of the samples (um)
``T_max_distance`` (um)         farthest sample from the soma centre (straight line)
``T_compartment_median`` (um)   median compartment length: how densely the tracer sampled (a lab-style cue)
``T_y_pNN``, ``T_r_pNN`` (um)   for axon and dendrite: 5th, 25th, 50th, 75th and 95th percentile of y and of the
                                distance from the soma centre over the samples
=============================  ===============================================================================

and for the whole cell ``n_samples``, ``soma_radius`` (largest soma-sample radius, um), ``n_soma_samples``,
``n_stems`` and ``n_dendrite_stems`` (neurites leaving the soma, all and dendritic), ``axon_dendrite_ratio``
(axon length / (dendrite length + 1 um)), ``stem_radius_max`` (thickest dendritic stem, um),
``stem_radius_ratio`` (thickest over second thickest) and ``stem_direction_y`` (y component of the unit vector of
the thickest dendritic stem's first compartment: +1 straight up). Statistics of a type the cell lacks are NaN
(lengths and counts 0); the gradient-boosting model handles missing values.

Everything is vectorised over the samples of one cell (NumPy on the :class:`~neuro_lib.morphology.io.SWC` arrays).
"""
from __future__ import annotations

import warnings

import numpy as np

from .io import SWC

__all__ = ["NEURITE_TYPES", "NEURITE_FEATURES", "neurite_morphometrics", "neurite_table", "neurite_gb"]

#: name -> SWC type codes
NEURITE_TYPES = {"axon": (2,), "basal": (3,), "apical": (4,), "dendrite": (3, 4)}
_PER_TYPE = ("length", "n_tips", "n_bifurcations", "y_max", "y_min", "y_mean", "width", "depth", "radius_median",
             "radius_max", "max_distance", "compartment_median")
_PERCENTILES = (5, 25, 50, 75, 95)
NEURITE_FEATURES = (
    [f"{t}_{k}" for t in NEURITE_TYPES for k in _PER_TYPE]
    + [f"{t}_{a}_p{q}" for t in ("axon", "dendrite") for a in ("y", "r") for q in _PERCENTILES]
    + ["n_samples", "soma_radius", "n_soma_samples", "n_stems", "n_dendrite_stems", "axon_dendrite_ratio",
       "stem_radius_max", "stem_radius_ratio", "stem_direction_y"]
)


def neurite_morphometrics(swc: SWC) -> dict[str, float]:
    """The :data:`NEURITE_FEATURES` of one cell (see the module docstring), lengths in um, as ``{name: value}``.

    The soma centre is the mean of the soma samples (SWC type 1), or the root when there are none."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _neurite_morphometrics(swc)


def _neurite_morphometrics(swc: SWC) -> dict[str, float]:
    t, r, par = swc.types, swc.radius, swc.parent
    soma = t == 1
    centre = swc.xyz[soma].mean(0) if soma.any() else swc.xyz[0]
    xyz = swc.xyz - centre
    dist = np.linalg.norm(xyz, axis=1)
    comp = swc.segment_lengths()
    has_parent = par >= 0
    n_children = np.bincount(par[has_parent], minlength=len(t))
    f: dict[str, float] = {}
    for name, codes in NEURITE_TYPES.items():
        m = np.isin(t, codes)
        f[f"{name}_length"] = float(comp[m].sum())
        f[f"{name}_n_tips"] = float((m & (n_children == 0)).sum())
        f[f"{name}_n_bifurcations"] = float((m & (n_children >= 2)).sum())
        if m.any():
            p, w = xyz[m], comp[m]
            f[f"{name}_y_max"], f[f"{name}_y_min"] = float(p[:, 1].max()), float(p[:, 1].min())
            f[f"{name}_y_mean"] = float((p[:, 1] * w).sum() / w.sum()) if w.sum() > 0 else float(p[:, 1].mean())
            f[f"{name}_width"], f[f"{name}_depth"] = float(np.ptp(p[:, 0])), float(np.ptp(p[:, 2]))
            f[f"{name}_radius_median"], f[f"{name}_radius_max"] = float(np.median(r[m])), float(r[m].max())
            f[f"{name}_max_distance"] = float(dist[m].max())
            f[f"{name}_compartment_median"] = float(np.median(w))
        else:
            for k in _PER_TYPE[3:]:
                f[f"{name}_{k}"] = np.nan
        if name in ("axon", "dendrite"):
            for q in _PERCENTILES:
                f[f"{name}_y_p{q}"] = float(np.percentile(xyz[m, 1], q)) if m.any() else np.nan
                f[f"{name}_r_p{q}"] = float(np.percentile(dist[m], q)) if m.any() else np.nan
    dendrite = np.isin(t, NEURITE_TYPES["dendrite"])
    stem = has_parent & ~soma & soma[np.maximum(par, 0)]
    dstem = np.flatnonzero(stem & dendrite)
    f["n_samples"] = float(len(t))
    f["soma_radius"] = float(r[soma].max()) if soma.any() else float(r[0])
    f["n_soma_samples"] = float(soma.sum())
    f["n_stems"] = float(stem.sum())
    f["n_dendrite_stems"] = float(len(dstem))
    f["axon_dendrite_ratio"] = f["axon_length"] / (f["dendrite_length"] + 1.0)
    if len(dstem):
        order = dstem[np.argsort(r[dstem])[::-1]]
        f["stem_radius_max"] = float(r[order[0]])
        f["stem_radius_ratio"] = float(r[order[0]] / r[order[1]]) if len(order) > 1 and r[order[1]] > 0 else np.nan
        v = swc.xyz[order[0]] - swc.xyz[par[order[0]]]
        n = np.linalg.norm(v)
        f["stem_direction_y"] = float(v[1] / n) if n > 0 else np.nan
    else:
        f["stem_radius_max"] = f["stem_radius_ratio"] = f["stem_direction_y"] = np.nan
    return {k: f[k] for k in NEURITE_FEATURES}


def _table_chunk(paths: list) -> list[dict]:
    from .io import load_swc

    return [neurite_morphometrics(load_swc(p)) for p in paths]


def neurite_table(paths, *, n_jobs: int = 2, cache: bool = True):
    """A pandas DataFrame (one row per file of ``paths``, columns :data:`NEURITE_FEATURES`, units as in the
    module docstring), each file read with :func:`~neuro_lib.morphology.io.load_swc` (which raises
    :class:`~neuro_lib.morphology.io.SWCError` for a malformed file).

    About 15 ms per cell on one core, most of it reading the file; ``n_jobs`` processes share the files. With
    ``cache`` the table is kept in :func:`neuro_lib.cache.cached` (npz), keyed by the files
    (:func:`~neuro_lib.morphology.io.file_key`) and the source of this module and the reader."""
    import pandas as pd

    from .. import cache as _cache
    from .io import file_key

    paths = [str(p) for p in paths]

    def compute():
        from .batch import map_chunks

        rows = [row for part in map_chunks(_table_chunk, paths, n_jobs=n_jobs, size=100) for row in part]
        return np.array([[r[k] for k in NEURITE_FEATURES] for r in rows], dtype=float).reshape(-1,
                                                                                              len(NEURITE_FEATURES))

    values = (_cache.cached("morphology/neurites", {"files": file_key(paths)}, compute, name="neurites",
                            code=("neuro_lib.morphology.io",)) if cache else compute())
    return pd.DataFrame(values, columns=list(NEURITE_FEATURES)).astype(float)


def neurite_gb(max_iter: int = 600, max_depth: int = 4, learning_rate: float = 0.03, max_features: float = 0.6,
               random_state: int = 0):
    """Gradient-boosted trees on :data:`NEURITE_FEATURES` (n, 77): scikit-learn's ``HistGradientBoostingClassifier``
    (no early stopping; NaN for a missing neurite type routed natively; ``max_features`` of the features drawn per
    split, seeded by ``random_state``). scikit-learn rather than xgboost here: xgboost's ``fit`` aborts the process
    when NEURON has been loaded into it, which the test suite does."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=max_iter, max_depth=max_depth, learning_rate=learning_rate,
                                          max_features=max_features, early_stopping=False,
                                          random_state=random_state)
