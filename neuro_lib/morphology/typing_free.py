"""The features of the across-labs page (:mod:`neuro_lib.morphology.across_labs`): the *typing-free* view, which
reads neither the axon nor the dendrite type codes and is unchanged by a rotation or a mirror flip of the cell, and
one cached pass over the files that computes it together with the chapter's typing-aware features.

Kept apart from :mod:`~neuro_lib.morphology.across_labs` so that the feature cache is keyed by the source of this
module only (editing the page's evaluation code does not recompute the features). Computed vectorised on the SWC
arrays, as :mod:`~neuro_lib.morphology.features` does and for the same reason (NeuroM's per-section iteration costs
~0.7 s a cell); the principal-axis extents are checked against NeuroM's ``principal_direction_extents`` in
``tests/test_morphology_across_labs.py``.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .features import FEATURES, morphometrics
from .io import SWC, SWCError, load_swc
from .neurites import NEURITE_FEATURES, neurite_morphometrics
from .topology import accumulate_to_root

__all__ = ["TF_SIZE", "TF_SHAPE", "TYPING_FREE", "TYPING_AWARE", "AUDIT", "strip_axon", "typing_free_features",
           "cell_features", "feature_matrix"]

#: typing-free features that change with the size of the cell (in um; ``tips_per_reach`` in tips per 100 um)
TF_SIZE = ["total_length", "max_path_distance", "max_radial_distance", "radial_p50", "pca_sd1", "pca_sd2",
           "pca_sd3", "mean_section_length", "tips_per_reach"]
#: typing-free features without a unit (counts, angles in degrees, ratios: unchanged by a rescaling of the cell,
#: except the counts, which a rescaling leaves alone too)
TF_SHAPE = ["n_stems", "n_bifurcations", "n_tips", "max_branch_order", "fractal_dimension", "contraction",
            "partition_asymmetry", "angle_local", "angle_remote", "pca_ratio21", "pca_ratio31", "pc1_skew_abs",
            "pc1_heavy_side", "pc1_soma_offset", "pc1_extent_asymmetry", "radial_p25_rel", "radial_p50_rel",
            "radial_p75_rel", "radial_p90_rel", "shell1", "shell2", "shell3", "shell4", "stem_share1", "stem_share2",
            "stem_reach_ratio", "n_major_stems", "path_radial_ratio", "tortuosity_median", "length_per_reach",
            "section_rel"]
TYPING_FREE = TF_SIZE + TF_SHAPE
#: the typing-aware view: the chapter's features as given
TYPING_AWARE = [*FEATURES, *NEURITE_FEATURES]
#: what :func:`cell_features` also records for the label audit and the reconstruction type
AUDIT = ["n_samples", "n_axon_samples", "n_apical_samples", "n_basal_samples"]


def strip_axon(swc: SWC) -> SWC:
    """The cell without its axon and with one neurite type: every sample typed axon (SWC type 2) is removed with
    everything that hangs from it, and every remaining non-soma sample gets type 3 (whatever its code: basal,
    apical, undefined 0 or custom). Soma samples (type 1) are kept. Returns a new :class:`SWC` (same sample order,
    parents re-indexed). Raises ``ValueError`` if the root itself is an axon sample."""
    if len(swc) and swc.types[0] == 2:
        raise ValueError(f"{swc.path or '<cell>'}: the root sample is typed axon; no dendritic tree to keep")
    n_axon_above = accumulate_to_root(swc.parent, (swc.types == 2).astype(float))
    keep = n_axon_above == 0
    new_index = np.cumsum(keep) - 1
    parent = np.where(swc.parent[keep] >= 0, new_index[np.maximum(swc.parent[keep], 0)], -1)
    types = np.where(swc.types[keep] == 1, 1, 3)
    return swc.copy(ids=swc.ids[keep], types=types, xyz=swc.xyz[keep], radius=swc.radius[keep], parent=parent,
                    lines=None if swc.lines is None else swc.lines[keep],
                    metadata=dict(swc.metadata, axon_removed=int((~keep).sum())))


def _weighted_percentile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return float(np.percentile(x, q))
    return float(x[order][np.searchsorted(cw, q / 100 * cw[-1])])


def typing_free_features(swc: SWC) -> dict[str, float]:
    """The :data:`TYPING_FREE` features of one cell: computed on :func:`strip_axon` of it, so they read neither the
    axon nor the dendrite type codes, and each is unchanged by a rotation or a mirror flip of the cell (distances,
    angles, principal-axis statistics whose sign is folded away). No radius and no sample count enters.

    Sizes (um): ``total_length``, ``max_path_distance``, ``max_radial_distance`` (from the soma centre, the mean of
    the soma samples), ``radial_p50`` (length-weighted median distance of the arbor from the soma), ``pca_sd1..3``
    (length-weighted standard deviations of the arbor along its principal axes, largest first),
    ``mean_section_length``. Shape: the counts and means of :mod:`~neuro_lib.morphology.features` (stems,
    bifurcations, tips, branch order, fractal dimension, contraction, partition asymmetry, local/remote bifurcation
    angles in degrees); ``pca_ratio21``/``pca_ratio31`` (sd2/sd1, sd3/sd1); along the first principal axis, the
    |skewness| of the arbor (``pc1_skew_abs``), the share of its length on the heavier side of the soma
    (``pc1_heavy_side``, 0.5-1), the soma's offset from the arbor's centre in sd1 units (``pc1_soma_offset``) and
    the longer side's share of the extent (``pc1_extent_asymmetry``, 0.5-1): an apical dendrite makes all four
    large; length-weighted radial percentiles over the farthest distance (``radial_p*_rel``) and the share of length
    in four shells of equal width out to it (``shell1..4``); the largest and second-largest stem subtree's share of
    the length (``stem_share1``/``2``), the second-farthest stem's reach over the farthest's
    (``stem_reach_ratio``), the stems holding at least 10% of the length (``n_major_stems``);
    ``path_radial_ratio`` (longest path over farthest distance), ``tortuosity_median`` (median over tips of path
    over straight distance), ``length_per_reach`` (total length / farthest distance), ``tips_per_reach``
    (tips per farthest distance, x 100 um) and ``section_rel`` (mean section length over farthest distance).
    A cell without dendrites gets NaN for all but the counts.
    """
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _typing_free(strip_axon(swc))


def _typing_free(s: SWC) -> dict[str, float]:
    from .topology import Topology

    f = dict.fromkeys(TYPING_FREE, np.nan)
    m = morphometrics(s)
    f.update(n_stems=m["NumberStems"], n_bifurcations=m["NumberBifurcations"], max_branch_order=m["MaxBranchOrder"],
             fractal_dimension=m["FractalDimension"], contraction=m["AverageContraction"],
             partition_asymmetry=m["PartitionAsymmetry"], angle_local=m["AverageBifurcationAngleLocal"],
             angle_remote=m["AverageBifurcationAngleRemote"], total_length=m["TotalLength"],
             max_path_distance=m["MaxPathDistance"])
    soma = s.types == 1
    neur = ~soma
    n_children = s.n_children
    f["n_tips"] = float((neur & (n_children == 0)).sum())
    if neur.sum() < 2 or m["TotalLength"] <= 0:
        return f
    centre = s.xyz[soma].mean(0) if soma.any() else s.xyz[0]
    seg = s.segment_lengths()
    # a compartment's point: the midpoint of its segment, weighted by its length
    mid = np.where(neur[:, None], 0.5 * (s.xyz + s.xyz[np.maximum(s.parent, 0)]), s.xyz)[neur] - centre
    w = seg[neur]
    total = w.sum()
    r = np.linalg.norm(s.xyz - centre, axis=1)
    rmax = float(r[neur].max())
    rmid = np.linalg.norm(mid, axis=1)
    f["max_radial_distance"] = rmax
    f["radial_p50"] = _weighted_percentile(rmid, w, 50)
    for q in (25, 50, 75, 90):
        f[f"radial_p{q}_rel"] = _weighted_percentile(rmid, w, q) / rmax
    shells = np.minimum((rmid / rmax * 4).astype(int), 3)
    for k in range(4):
        f[f"shell{k + 1}"] = float(w[shells == k].sum() / total)
    mean = (mid * w[:, None]).sum(0) / total
    cov = ((mid - mean) * w[:, None]).T @ (mid - mean) / total
    evals, evecs = np.linalg.eigh(cov)
    sd = np.sqrt(np.maximum(evals[::-1], 0))
    f["pca_sd1"], f["pca_sd2"], f["pca_sd3"] = map(float, sd)
    f["pca_ratio21"], f["pca_ratio31"] = float(sd[1] / sd[0]), float(sd[2] / sd[0])
    proj = mid @ evecs[:, -1]  # soma at 0
    pc = proj - (proj * w).sum() / total
    f["pc1_skew_abs"] = float(abs((w * pc**3).sum() / total) / sd[0] ** 3)
    pos = float(w[proj > 0].sum() / total)
    f["pc1_heavy_side"] = max(pos, 1 - pos)
    f["pc1_soma_offset"] = float(abs((proj * w).sum() / total) / sd[0])
    lo, hi = min(proj.min(), 0.0), max(proj.max(), 0.0)
    f["pc1_extent_asymmetry"] = float(max(-lo, hi) / (hi - lo)) if hi > lo else np.nan
    t = Topology(s)
    stem_of = _stem_of(s)
    stems = np.unique(stem_of[neur])
    lengths = np.array([seg[stem_of == k].sum() for k in stems])
    reach = np.array([r[stem_of == k].max() for k in stems])
    ls = np.sort(lengths)[::-1] / total
    f["stem_share1"] = float(ls[0])
    f["stem_share2"] = float(ls[1]) if len(ls) > 1 else 0.0
    rs = np.sort(reach)[::-1]
    f["stem_reach_ratio"] = float(rs[1] / rs[0]) if len(rs) > 1 and rs[0] > 0 else 0.0
    f["n_major_stems"] = float((ls >= 0.1).sum())
    pd_ = t.path_distances
    f["path_radial_ratio"] = float(pd_[neur].max() / rmax)
    tips = neur & (n_children == 0) & (r > 0)
    f["tortuosity_median"] = float(np.median(pd_[tips] / r[tips])) if tips.any() else np.nan
    f["length_per_reach"] = float(total / rmax)
    f["tips_per_reach"] = float(100 * f["n_tips"] / rmax)
    n_sections = max(2 * (neur & (n_children >= 2)).sum() + m["NumberStems"], 1)
    f["mean_section_length"] = float(total / n_sections)
    f["section_rel"] = f["mean_section_length"] / rmax
    return f


def _stem_of(s: SWC) -> np.ndarray:
    """(n,) index of the stem (first non-soma sample below the soma) each sample hangs from; -1 for soma samples."""
    from .topology import nearest_marked_ancestor

    soma = s.types == 1
    par_soma = np.zeros(len(s), bool)
    has = s.parent >= 0
    par_soma[has] = soma[s.parent[has]]
    stem = ~soma & (par_soma | ~has)
    out = nearest_marked_ancestor(s.parent, stem)
    out[soma] = -1
    return out


def cell_features(swc: SWC) -> dict[str, float]:
    """Every feature of one cell this module uses: :data:`TYPING_AWARE` (the chapter's, as given), the
    :data:`TYPING_FREE` ones and the :data:`AUDIT` counts (samples; axon-, apical- and basal-typed samples)."""
    out = {**morphometrics(swc)}
    out.update(neurite_morphometrics(swc))
    out.update(typing_free_features(swc))
    out.update(n_samples=float(len(swc)), n_axon_samples=float((swc.types == 2).sum()),
               n_apical_samples=float((swc.types == 4).sum()), n_basal_samples=float((swc.types == 3).sum()))
    return out


_COLUMNS = list(dict.fromkeys([*TYPING_AWARE, *TYPING_FREE, *AUDIT]))


def _chunk(paths: list[str]) -> list[list[float]]:
    rows = []
    for p in paths:
        try:
            f = cell_features(load_swc(p))
            rows.append([f[c] for c in _COLUMNS])
        except SWCError:
            rows.append([np.nan] * len(_COLUMNS))
    return rows


def feature_matrix(paths: Sequence, *, n_jobs: int = 2, progress: bool = False) -> pd.DataFrame:
    """:func:`cell_features` of every file of ``paths`` (one row each, in order; a malformed file gives a NaN row),
    cached (:func:`neuro_lib.cache.cached`, npz) keyed by the files (path, size, modification time) and the source
    of this module, the reader and the feature modules. ``n_jobs`` joblib workers; ``progress`` a tqdm bar."""
    from .. import cache
    from .io import file_key

    paths = [str(p) for p in paths]

    def compute():
        from .batch import map_chunks

        parts = map_chunks(_chunk, paths, n_jobs=n_jobs, desc="features", progress=progress)
        return np.array([r for part in parts for r in part], float).reshape(-1, len(_COLUMNS))

    values = cache.cached("morphology/across_labs", {"files": file_key(paths), "columns": _COLUMNS}, compute,
                          name="features", code=("neuro_lib.morphology.io", "neuro_lib.morphology.topology",
                                                 "neuro_lib.morphology.features", "neuro_lib.morphology.neurites"))
    return pd.DataFrame(values, columns=_COLUMNS)
