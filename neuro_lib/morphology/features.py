"""The 19 hand-designed morphometrics of Zhang et al. 2021 (Table 1), in micrometres and degrees.

The paper computed them with L-Measure (Scorcioni, Polavaram & Ascoli 2008); NeuroMorpho.Org publishes the same
L-Measure values. We follow L-Measure's definitions (which NeuroM shares for the lengths, counts and extents) and
compute them *vectorised on the SWC arrays* (:class:`~neuro_lib.morphology.io.SWC`), because NeuroM's per-section
Python iteration takes about 0.7 s per cell, 40 minutes for the 3,500 cells here. ``tests/test_morphology_features``
checks the shared definitions against NeuroM (``neurom.get``) on real cells, and the book compares every feature
with the real L-Measure output (``lmeasure_paper19.csv``, :mod:`~neuro_lib.morphology.lmeasure`).

As NeuroM's ``neurom/features/neurite.py`` does, every feature is one small function, registered under its name
in :data:`FEATURE_FUNCTIONS` and looked up by name (:func:`get`); all of a cell's features read one
:class:`~neuro_lib.morphology.topology.Topology`, which computes each shared array (sections, path distances,
bifurcation daughters...) once. :func:`morphometrics` returns all of them.

Conventions (L-Measure): a *compartment* is a non-soma sample and the segment to its parent; a *branch* (section)
runs from a bifurcation (or the soma) to the next bifurcation or terminal; *soma* samples have SWC type 1.

======================================  =======================================================================
feature                                 definition (L-Measure's, checked against its output on 428 cells)
======================================  =======================================================================
TotalLength (um)                        sum of the segments of all non-soma samples (soma connection included)
TotalSurface (um^2)                     sum of 2 pi r L over those segments, plus the soma surface
TotalVolume (um^3)                      sum of pi r^2 L over those segments, plus the soma volume (a cylinder of
                                        length 2r for a point soma)
TotalFragmentation                      number of compartments (non-soma samples)
OverallWidth/Height/Depth (um)          extent of all samples along x / y / z (the NeuroM ``total_width`` etc.
                                        definition; L-Measure trims outlying points in a way its manual does not
                                        pin down, so these differ from L-Measure's by ~10-25%)
NumberBifurcations                      non-soma samples with two or more children, plus 1 for a soma with two or
                                        more stems (L-Measure counts the soma)
NumberStems                             neurites leaving the soma
NumberBranches                          2 x NumberBifurcations + NumberStems (L-Measure's N_branch)
FractalDimension                        mean over branches of the slope of log(path length) on log(Euclidean
                                        distance) from the branch start, over the branch's samples
AverageDiameter (um)                    mean diameter 2r over all samples, soma included
AverageContraction                      mean over branches of Euclidean / path length from start to end
MaxBranchOrder                          most bifurcations on a path from the soma
MaxPathDistance (um)                    longest path from the soma along the tree
MaxEuclideanDistance (um)               farthest sample from the soma (root)
SomaSurface (um^2)                      4 pi r^2 for a one-point or NeuroMorpho 3-point soma, else the sum of the
                                        soma compartments' cylinder surfaces
PartitionAsymmetry                      mean over bifurcations of |n1 - n2| / (n1 + n2 - 2) (0 when n1 = n2 = 1),
                                        n = terminal tips in each daughter subtree (van Pelt et al. 1992)
AverageBifurcationAngleLocal (deg)      mean angle between the first compartments of the two daughters
AverageBifurcationAngleRemote (deg)     mean angle between the chords to the two daughter branches' ends
======================================  =======================================================================
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .io import SWC
from .topology import Topology

__all__ = ["FEATURES", "FEATURE_FUNCTIONS", "morphometrics", "get", "feature_table"]

#: name -> function(Topology) -> float, in the order of :data:`FEATURES`
FEATURE_FUNCTIONS: dict[str, Callable[[Topology], float]] = {}


def _feature(name: str):
    def register(fn):
        FEATURE_FUNCTIONS[name] = fn
        return fn

    return register


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(k,) angles in degrees between the rows of ``u`` and ``v`` (k, 3); NaN where either is a zero vector."""
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.einsum("ij,ij->i", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


@_feature("TotalLength")
def total_length(t: Topology) -> float:
    """Sum of the compartments (every non-soma sample's segment, the connection to the soma included). um."""
    return float(t.compartment_lengths.sum())


@_feature("TotalSurface")
def total_surface(t: Topology) -> float:
    """Sum of 2 pi r L over the compartments, plus the soma surface. um^2."""
    return float((2 * np.pi * t.radius * t.compartment_lengths).sum() + t.soma_surface)


@_feature("TotalVolume")
def total_volume(t: Topology) -> float:
    """Sum of pi r^2 L over the compartments, plus the soma volume (a cylinder of length 2r for a point soma). um^3."""
    return float((np.pi * t.radius**2 * t.compartment_lengths).sum() + t.soma_volume)


@_feature("TotalFragmentation")
def total_fragmentation(t: Topology) -> float:
    """Number of compartments (non-soma samples). Count."""
    return float(t.neurite.sum())


def _extent(t: Topology, axis: int) -> float:
    col = t.xyz[:, axis]
    return float(col.max() - col.min())


@_feature("OverallDepth")
def overall_depth(t: Topology) -> float:
    """Extent of all samples along z (NeuroM's ``total_depth``). um."""
    return _extent(t, 2)


@_feature("OverallHeight")
def overall_height(t: Topology) -> float:
    """Extent of all samples along y (NeuroM's ``total_height``). um."""
    return _extent(t, 1)


@_feature("OverallWidth")
def overall_width(t: Topology) -> float:
    """Extent of all samples along x (NeuroM's ``total_width``). um."""
    return _extent(t, 0)


@_feature("NumberBifurcations")
def number_bifurcations(t: Topology) -> float:
    """Neurite samples with two or more children, plus 1 for a soma with two or more stems (L-Measure counts the
    soma). Count."""
    return float(t.bifurcations.sum() + (int(t.stems.sum()) >= 2))


@_feature("NumberStems")
def number_stems(t: Topology) -> float:
    """Neurites leaving the soma. Count."""
    return float(int(t.stems.sum()))


@_feature("NumberBranches")
def number_branches(t: Topology) -> float:
    """2 x NumberBifurcations + NumberStems (L-Measure's N_branch). Count."""
    return float(2 * number_bifurcations(t) + int(t.stems.sum()))


@_feature("FractalDimension")
def fractal_dimension(t: Topology) -> float:
    """Mean over sections of the least-squares slope of log(path length) on log(Euclidean distance) from the
    section's origin, over the section's samples; a one-sample section counts as 1 (straight). Dimensionless; NaN
    without sections."""
    sec, pd_, xyz = t.section_of, t.path_distances, t.xyz
    nodes = np.flatnonzero(t.neurite & (sec >= 0))
    org_of_node = np.full(t.n, -1)
    org_of_node[t.section_starts] = t.section_origins
    o = org_of_node[sec[nodes]]
    p = pd_[nodes] - pd_[o]
    e = np.linalg.norm(xyz[nodes] - xyz[o], axis=1)
    okm = (p > 0) & (e > 0)
    lx, ly, s_id = np.log(e[okm]), np.log(p[okm]), sec[nodes][okm]
    if not len(s_id):
        return np.nan
    _, inv = np.unique(s_id, return_inverse=True)
    sxx = np.bincount(inv, lx * lx)
    sxy = np.bincount(inv, lx * ly)
    cnt = np.bincount(inv)
    sx, sy = np.bincount(inv, lx), np.bincount(inv, ly)
    with np.errstate(invalid="ignore", divide="ignore"):
        den = cnt * sxx - sx**2
        slope = np.where((cnt >= 2) & (den > 1e-12), (cnt * sxy - sx * sy) / den, np.nan)
    slope = np.where(cnt >= 2, slope, 1.0)
    return float(np.nanmean(slope)) if np.isfinite(slope).any() else np.nan


@_feature("AverageDiameter")
def average_diameter(t: Topology) -> float:
    """Mean diameter 2r over all samples, soma included (L-Measure). um."""
    return float((2 * t.radius).mean())


@_feature("AverageContraction")
def average_contraction(t: Topology) -> float:
    """Mean over sections of the Euclidean distance over the path length from the section's origin to its end.
    Dimensionless, at most 1; NaN without sections."""
    sec_end, origin = t.section_ends, t.section_origins
    valid = sec_end >= 0
    chord = np.linalg.norm(t.xyz[sec_end[valid]] - t.xyz[origin[valid]], axis=1)
    plen = t.path_distances[sec_end[valid]] - t.path_distances[origin[valid]]
    with np.errstate(invalid="ignore", divide="ignore"):
        contraction = np.where(plen > 0, chord / plen, np.nan)
    return float(np.nanmean(contraction)) if np.isfinite(contraction).any() else np.nan


@_feature("MaxBranchOrder")
def max_branch_order(t: Topology) -> float:
    """Most bifurcations on a path from the soma. Count (0 without neurites)."""
    return float(t.branch_orders[t.neurite].max()) if t.neurite.any() else 0.0


@_feature("MaxPathDistance")
def max_path_distance(t: Topology) -> float:
    """Longest path from the root along the tree to a neurite sample. um (0 without neurites)."""
    return float(t.path_distances[t.neurite].max()) if t.neurite.any() else 0.0


@_feature("MaxEuclideanDistance")
def max_euclidean_distance(t: Topology) -> float:
    """Farthest sample from the root (the soma) in a straight line (NeuroM's ``max_radial_distance``). um."""
    return float(np.linalg.norm(t.xyz - t.xyz[0], axis=1).max())


@_feature("SomaSurface")
def soma_surface(t: Topology) -> float:
    """4 pi r^2 for a one-point or NeuroMorpho 3-point soma, else the summed cylinder surfaces of the soma
    compartments. um^2."""
    return float(t.soma_surface)


@_feature("PartitionAsymmetry")
def partition_asymmetry(t: Topology) -> float:
    """Mean over bifurcations of |n1 - n2| / (n1 + n2 - 2) (0 when n1 = n2 = 1), n = terminal tips under each of
    the first two daughters (van Pelt et al. 1992). Dimensionless in [0, 1]; NaN without bifurcations."""
    b_idx, d1, d2 = t.daughters
    if not len(b_idx):
        return np.nan
    n1, n2 = t.subtree_tips[d1], t.subtree_tips[d2]
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where(n1 + n2 > 2, np.abs(n1 - n2) / (n1 + n2 - 2), 0.0)
    return float(pa.mean())


@_feature("AverageBifurcationAngleRemote")
def average_bifurcation_angle_remote(t: Topology) -> float:
    """Mean over bifurcations of the angle between the chords to the ends of the two daughter sections. Degrees;
    NaN without bifurcations."""
    b_idx, d1, d2 = t.daughters
    if not len(b_idx):
        return np.nan
    e1, e2 = t.end_of_section[d1], t.end_of_section[d2]
    return float(np.nanmean(_angle(t.xyz[e1] - t.xyz[b_idx], t.xyz[e2] - t.xyz[b_idx])))


@_feature("AverageBifurcationAngleLocal")
def average_bifurcation_angle_local(t: Topology) -> float:
    """Mean over bifurcations of the angle between the first compartments of the two daughters. Degrees; NaN
    without bifurcations."""
    b_idx, d1, d2 = t.daughters
    if not len(b_idx):
        return np.nan
    return float(np.nanmean(_angle(t.xyz[d1] - t.xyz[b_idx], t.xyz[d2] - t.xyz[b_idx])))


#: the 19 features of Table 1 (+ TotalFragmentation; the bifurcation angle both local and remote), in table order
FEATURES = list(FEATURE_FUNCTIONS)


def get(name: str, cell: SWC | Topology) -> float:
    """One feature of one cell by name (as ``neurom.get``). Raises ``KeyError`` naming the known features."""
    if name not in FEATURE_FUNCTIONS:
        raise KeyError(f"unknown morphometric {name!r}; known: {', '.join(FEATURES)}")
    t = cell if isinstance(cell, Topology) else Topology(cell)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return FEATURE_FUNCTIONS[name](t)


def morphometrics(swc: SWC) -> dict[str, float]:
    """The features of :data:`FEATURES` for one cell, as ``{name: value}`` (units in the module docstring and each
    function's). A cell without neurites gets 0 for counts and sums and NaN for means; angles between zero-length
    vectors are NaN and left out of the means."""
    t = Topology(swc)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: fn(t) for name, fn in FEATURE_FUNCTIONS.items()}


def feature_table(swcs, *, names=None):
    """A pandas DataFrame (rows = cells, columns = :data:`FEATURES`) from an iterable of :class:`SWC`."""
    import pandas as pd

    return pd.DataFrame([morphometrics(s) for s in swcs], index=names, columns=FEATURES)
