"""The 19 hand-designed morphometrics of Zhang et al. 2021 (Table 1), in micrometres and degrees.

The paper computed them with L-Measure (Scorcioni, Polavaram & Ascoli 2008); NeuroMorpho.Org publishes the same
L-Measure values. We follow L-Measure's definitions (which NeuroM shares for the lengths, counts and extents) and
compute them *vectorised on the SWC arrays* (:class:`~neuro_lib.morphology.io.SWC`), because NeuroM's per-section
Python iteration takes about 0.7 s per cell, 40 minutes for the 3,500 cells here. ``tests/test_morphology_features``
checks the shared definitions against NeuroM (``neurom.get``) on real cells, and the book compares every feature
with the real L-Measure output (``lmeasure_paper19.csv``).

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

import numpy as np

from .io import SWC

__all__ = ["compare_lmeasure", "drop_one_feature", "plot_distributions", "svm_pipeline", "cv_svm", "signed_log",
           "FEATURES", "LMEASURE_COLUMNS", "morphometrics", "path_distances", "nearest_marked_ancestor",
           "feature_table"]

FEATURES = [
    "TotalLength", "TotalSurface", "TotalVolume", "TotalFragmentation", "OverallDepth", "OverallHeight",
    "OverallWidth", "NumberBifurcations", "NumberStems", "NumberBranches", "FractalDimension", "AverageDiameter",
    "AverageContraction", "MaxBranchOrder", "MaxPathDistance", "MaxEuclideanDistance", "SomaSurface",
    "PartitionAsymmetry", "AverageBifurcationAngleRemote", "AverageBifurcationAngleLocal",
]
#: our feature name -> column of ``lmeasure_paper19.csv`` (the real L-Measure values); TotalFragmentation and
#: AverageContraction are not in that file (it has Average_Rall_s_Ratio instead)
LMEASURE_COLUMNS = {
    "TotalLength": "Total_Length", "TotalSurface": "Total_Surface", "TotalVolume": "Total_Volume",
    "OverallDepth": "Overall_Depth", "OverallHeight": "Overall_Height", "OverallWidth": "Overall_Width",
    "NumberBifurcations": "Number_of_Bifurcations", "NumberStems": "Number_of_Stems",
    "NumberBranches": "Number_of_Branches", "FractalDimension": "Fractal_Dimension",
    "AverageDiameter": "Average_Diameter", "MaxBranchOrder": "Max_Branch_Order",
    "MaxPathDistance": "Max_Path_Distance", "MaxEuclideanDistance": "Max_Euclidean_Distance",
    "SomaSurface": "Soma_Surface", "PartitionAsymmetry": "Partition_Asymmetry",
    "AverageBifurcationAngleRemote": "Average_Bifurcation_Angle_Remote",
    "AverageBifurcationAngleLocal": "Average_Bifurcation_Angle_Local",
}


def _accumulate_to_root(parent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each node and all its ancestors, by pointer jumping (O(n log depth), no Python loop
    over nodes). ``parent`` must have -1 at the root(s)."""
    acc = values.astype(float).copy()
    anc = parent.copy()
    while True:
        has = anc >= 0
        if not has.any():
            return acc
        idx = np.flatnonzero(has)
        acc[idx] += acc[anc[idx]]
        anc[idx] = anc[anc[idx]]


def path_distances(swc: SWC) -> np.ndarray:
    """(n,) path length in um from the root to every sample along the tree."""
    return _accumulate_to_root(swc.parent, swc.segment_lengths())


def nearest_marked_ancestor(parent: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """(n,) index of the nearest node at or above each node with ``marked`` true (-1 if none), by pointer jumping."""
    n = len(parent)
    jump = np.where(marked, np.arange(n), parent)
    while True:
        nxt = jump.copy()
        ok = jump >= 0
        nxt[ok] = np.where(marked[jump[ok]], jump[ok], jump[jump[ok]])
        if np.array_equal(nxt, jump):
            return jump
        jump = nxt


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.einsum("ij,ij->i", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def morphometrics(swc: SWC) -> dict[str, float]:
    """The 19 (+ TotalFragmentation) features of :data:`FEATURES` for one cell, as ``{name: value}``.

    Lengths in um, surfaces in um^2, volumes in um^3, angles in degrees; the definitions are in the module
    docstring. A cell without neurites gets 0 for counts and sums and NaN for means (and angles between
    zero-length vectors are NaN and left out of the means).
    """
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _morphometrics(swc)


def _morphometrics(swc: SWC) -> dict[str, float]:
    """The 19 (+ TotalFragmentation) features of :data:`FEATURES` for one cell, as ``{name: value}``.

    Lengths in um, surfaces in um^2, volumes in um^3, angles in degrees; the definitions are in the module
    docstring. A cell without neurites gets 0 for counts and sums and NaN for means.
    """
    n = len(swc)
    parent, xyz, r = swc.parent, swc.xyz, swc.radius
    soma = swc.types == 1
    neur = ~soma
    nchild = np.bincount(parent[parent >= 0], minlength=n)
    seg = swc.segment_lengths()
    # compartments: non-soma samples whose parent is a non-soma sample (the NeuroM / MorphIO convention; the
    # connection of a neurite to the soma is not a compartment of the neurite)
    has_p = parent >= 0
    comp = neur & has_p
    comp[has_p] &= ~soma[np.maximum(parent[has_p], 0)]
    L = np.where(neur, seg, 0.0)  # every non-soma sample's segment, the connection to the soma included
    s_idx = np.flatnonzero(soma)
    point_soma = len(s_idx) == 1 or _is_three_point(swc, s_idx)
    rs = r[s_idx[0]] if len(s_idx) else 0.0
    sc = soma & has_p
    sc[has_p] &= soma[np.maximum(parent[has_p], 0)]
    if point_soma:  # L-Measure: a sphere's surface, and the volume of a cylinder of length 2r
        soma_surface, soma_volume = 4 * np.pi * rs**2, 2 * np.pi * rs**3
    else:
        soma_surface = float((2 * np.pi * r[sc] * seg[sc]).sum())
        soma_volume = float((np.pi * r[sc] ** 2 * seg[sc]).sum())
    out: dict[str, float] = {}
    out["TotalLength"] = float(L.sum())
    out["TotalSurface"] = float((2 * np.pi * r * L).sum() + soma_surface)
    out["TotalVolume"] = float((np.pi * r**2 * L).sum() + soma_volume)
    out["SomaSurface"] = float(soma_surface)
    out["TotalFragmentation"] = float(neur.sum())
    ext = xyz.max(axis=0) - xyz.min(axis=0)
    out["OverallWidth"], out["OverallHeight"], out["OverallDepth"] = map(float, ext)
    bif = neur & (nchild >= 2)
    stem = neur & has_p
    stem[has_p] &= soma[np.maximum(parent[has_p], 0)]
    stem |= neur & ~has_p
    n_stems = int(stem.sum())
    # L-Measure counts a soma with two or more stems as one more bifurcation, and 2 branches per bifurcation
    out["NumberBifurcations"] = float(bif.sum() + (n_stems >= 2))
    out["NumberStems"] = float(n_stems)
    out["NumberBranches"] = float(2 * out["NumberBifurcations"] + n_stems)
    # section starts: stems and children of bifurcations
    start = stem.copy()
    start[has_p] |= bif[np.maximum(parent[has_p], 0)] & neur[has_p]
    start &= neur
    out["AverageDiameter"] = float((2 * r).mean())  # over all samples, soma included (L-Measure)

    pd_ = _accumulate_to_root(parent, seg)  # path from the root, soma connection included
    # branch order: bifurcations strictly above each sample
    below_bif = np.zeros(n)
    below_bif[1:] = bif[parent[1:]]
    order = _accumulate_to_root(parent, below_bif)
    out["MaxBranchOrder"] = float(order[neur].max()) if neur.any() else 0.0
    out["MaxPathDistance"] = float(pd_[neur].max()) if neur.any() else 0.0
    out["MaxEuclideanDistance"] = float(np.linalg.norm(xyz - xyz[0], axis=1).max())

    # sections: each sample's section start; the section's origin is the start's parent (a bifurcation or the soma)
    sec = nearest_marked_ancestor(parent, start)
    ends = neur & (nchild != 1)
    end_sec = sec[ends]
    starts = np.flatnonzero(start)
    origin = parent[starts]
    origin = np.where(origin >= 0, origin, starts)
    end_of = np.full(n, -1)
    end_of[end_sec] = np.flatnonzero(ends)
    sec_end = end_of[starts]
    valid = sec_end >= 0
    chord = np.linalg.norm(xyz[sec_end[valid]] - xyz[origin[valid]], axis=1)
    plen = pd_[sec_end[valid]] - pd_[origin[valid]]
    with np.errstate(invalid="ignore", divide="ignore"):
        contraction = np.where(plen > 0, chord / plen, np.nan)
    out["AverageContraction"] = float(np.nanmean(contraction)) if np.isfinite(contraction).any() else np.nan

    # fractal dimension per branch: slope of log(path) on log(euclid) over the branch's samples (through origin)
    in_sec = neur & (sec >= 0)
    nodes = np.flatnonzero(in_sec)
    org_of_node = np.full(n, -1)
    org_of_node[starts] = origin
    o = org_of_node[sec[nodes]]
    p = pd_[nodes] - pd_[o]
    e = np.linalg.norm(xyz[nodes] - xyz[o], axis=1)
    okm = (p > 0) & (e > 0)
    lx, ly, s_id = np.log(e[okm]), np.log(p[okm]), sec[nodes][okm]
    if len(s_id):
        uniq, inv = np.unique(s_id, return_inverse=True)
        sxx = np.bincount(inv, lx * lx)
        sxy = np.bincount(inv, lx * ly)
        cnt = np.bincount(inv)
        sx, sy = np.bincount(inv, lx), np.bincount(inv, ly)
        with np.errstate(invalid="ignore", divide="ignore"):
            den = cnt * sxx - sx**2
            slope = np.where((cnt >= 2) & (den > 1e-12), (cnt * sxy - sx * sy) / den, np.nan)
        # single-sample branches are straight: dimension 1
        slope = np.where(cnt >= 2, slope, 1.0)
        out["FractalDimension"] = float(np.nanmean(slope)) if np.isfinite(slope).any() else np.nan
    else:
        out["FractalDimension"] = np.nan

    # bifurcations: the two (first two) daughters of each bifurcation
    b_idx = np.flatnonzero(bif)
    if len(b_idx):
        kids = np.flatnonzero(has_p & neur)
        kp = parent[kids]
        sel = bif[kp]
        kids, kp = kids[sel], kp[sel]
        ordk = np.argsort(kp, kind="stable")
        kids, kp = kids[ordk], kp[ordk]
        first = np.searchsorted(kp, b_idx)
        d1, d2 = kids[first], kids[first + 1]
        out["AverageBifurcationAngleLocal"] = float(np.nanmean(_angle(xyz[d1] - xyz[b_idx], xyz[d2] - xyz[b_idx])))
        e1, e2 = end_of[d1], end_of[d2]
        out["AverageBifurcationAngleRemote"] = float(np.nanmean(_angle(xyz[e1] - xyz[b_idx], xyz[e2] - xyz[b_idx])))
        # partition asymmetry: tips under each daughter, accumulated up the reduced tree (branches, ~hundreds)
        tips_sec = np.zeros(n)
        tip = neur & (nchild == 0)
        np.add.at(tips_sec, sec[tip], 1.0)
        # accumulate subtree tips over sections: a section's subtree = itself + sections whose origin lies in it
        par_sec = np.full(n, -1)
        par_sec[starts] = np.where(parent[starts] >= 0, sec[np.maximum(parent[starts], 0)], -1)
        sub = tips_sec.copy()
        for s_ in starts[np.argsort(-pd_[starts])]:  # deepest first
            ps = par_sec[s_]
            if ps >= 0:
                sub[ps] += sub[s_]
        n1, n2 = sub[d1], sub[d2]
        with np.errstate(invalid="ignore", divide="ignore"):
            pa = np.where(n1 + n2 > 2, np.abs(n1 - n2) / (n1 + n2 - 2), 0.0)
        out["PartitionAsymmetry"] = float(pa.mean())
    else:
        out["AverageBifurcationAngleLocal"] = out["AverageBifurcationAngleRemote"] = np.nan
        out["PartitionAsymmetry"] = np.nan
    return {k: out[k] for k in FEATURES}


def _is_three_point(swc: SWC, s_idx: np.ndarray) -> bool:
    """NeuroMorpho's 3-point soma: three type-1 samples, two children of the first at +-r along one axis."""
    if len(s_idx) != 3:
        return False
    c = swc.xyz[s_idx[0]]
    d = swc.xyz[s_idx[1:]] - c
    r = swc.radius[s_idx[0]]
    return bool(np.allclose(d[0], -d[1], atol=1e-2 * max(r, 1e-6)) and
                abs(np.linalg.norm(d[0]) - r) < 0.05 * max(r, 1e-6) + 1e-3)


def feature_table(swcs, *, names=None):
    """A pandas DataFrame (rows = cells, columns = :data:`FEATURES`) from an iterable of :class:`SWC`."""
    import pandas as pd

    rows = [morphometrics(s) for s in swcs]
    return pd.DataFrame(rows, index=names, columns=FEATURES)


def signed_log(x):
    """sign(x) log(1 + |x|): compresses the heavy right tails of lengths, surfaces and volumes."""
    return np.sign(x) * np.log1p(np.abs(x))


def svm_pipeline(C: float = 1.0, gamma="scale", log: bool = True, probability: bool = True):
    """The SVM of the paper's hand-feature baseline: median imputation (a few angles are undefined), optional
    signed log, z-scoring, RBF SVC (scikit-learn), with Platt-scaled probabilities when ``probability``.
    ``C``/``gamma`` as in ``sklearn.svm.SVC``."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.svm import SVC

    steps = [SimpleImputer(strategy="median")]
    if log:
        steps.append(FunctionTransformer(signed_log))
    svc = SVC(C=C, gamma=gamma, kernel="rbf")
    if probability:  # Platt scaling, as SVC(probability=True) did before scikit-learn 1.9 deprecated it
        from sklearn.calibration import CalibratedClassifierCV

        svc = CalibratedClassifierCV(svc, method="sigmoid", ensemble=False, cv=5)
    steps += [StandardScaler(), svc]
    return make_pipeline(*steps)


def cv_svm(X, y, folds, *, C: float = 1.0, columns=None, probability: bool = True):
    """Fit :func:`svm_pipeline` on each fold's train+val cells and predict its test cells.

    ``X`` (n, f) array, ``y`` (n,) labels, ``folds`` a list of objects with ``train``, ``val``, ``test``;
    ``columns`` optionally selects feature columns. Returns ``(pred, proba, classes)``: out-of-fold predicted labels
    (n,), probabilities (n, k; zeros when ``probability=False``, which is faster) and the class order.
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    if columns is not None:
        X = X[:, columns]
    classes = np.unique(y)
    pred = np.empty(len(y), dtype=y.dtype)
    proba = np.zeros((len(y), len(classes)))
    for f in folds:
        tr = np.concatenate([f.train, f.val])
        m = svm_pipeline(C, probability=probability).fit(X[tr], y[tr])
        pred[f.test] = m.predict(X[f.test])
        if probability:
            proba[np.ix_(f.test, np.searchsorted(classes, m.classes_))] = m.predict_proba(X[f.test])
    return pred, proba, classes


def compare_lmeasure(ours, lmeasure):
    """Per-feature agreement of our features with real L-Measure output.

    ``ours``: DataFrame with a ``neuron_name`` column and :data:`FEATURES` columns; ``lmeasure``: the
    ``lmeasure_paper19.csv`` table. Returns a DataFrame indexed by feature: ``n`` cells compared, ``median_rel_diff``
    and ``p90_rel_diff`` of |ours - L-Measure| / |L-Measure|, and both medians. Cells where L-Measure is 0 are left
    out of the relative difference.
    """
    import pandas as pd

    m = ours.merge(lmeasure, on="neuron_name", suffixes=("", "_lm"))
    rows = {}
    for k, col in LMEASURE_COLUMNS.items():
        a, b = m[k].to_numpy(float), m[col].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b) & (b != 0)
        rd = np.abs(a[ok] - b[ok]) / np.abs(b[ok])
        rows[k] = {"n": int(ok.sum()), "median_rel_diff": float(np.median(rd)) if ok.any() else np.nan,
                   "p90_rel_diff": float(np.percentile(rd, 90)) if ok.any() else np.nan,
                   "ours_median": float(np.nanmedian(a)), "lmeasure_median": float(np.nanmedian(b))}
    return pd.DataFrame(rows).T


def drop_one_feature(X, y, folds, names, *, C: float = 1.0):
    """Accuracy of :func:`cv_svm` with all features and with each feature left out in turn (the paper's Figure 5a).

    Returns a pandas Series indexed by the dropped feature (``"none"`` first): out-of-fold accuracy.
    """
    import pandas as pd

    y = np.asarray(y)
    out = {"none": float((cv_svm(X, y, folds, C=C, probability=False)[0] == y).mean())}
    for j, name in enumerate(names):
        cols = [i for i in range(len(names)) if i != j]
        out[name] = float((cv_svm(X, y, folds, C=C, columns=cols, probability=False)[0] == y).mean())
    return pd.Series(out, name="accuracy")


def plot_distributions(table, labels, features, *, ncols: int = 5):
    """Box plots (log scale) of ``features`` by class, one panel each (the paper's Figure 5d-h). Returns the Figure."""
    import matplotlib.pyplot as plt
    import pandas as pd

    labels = np.asarray(labels)
    classes = sorted(set(labels))
    nrows = int(np.ceil(len(features) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.8 * nrows), squeeze=False)
    units = {"Length": "um", "Distance": "um", "Depth": "um", "Height": "um", "Width": "um", "Diameter": "um",
             "Surface": "um$^2$", "Volume": "um$^3$", "Angle": "deg"}
    for ax, f in zip(axes.ravel(), features):
        vals = [pd.to_numeric(table[f], errors="coerce").to_numpy()[labels == c] for c in classes]
        vals = [v[np.isfinite(v)] for v in vals]
        ax.boxplot(vals, showfliers=False)
        ax.set_xticks(range(1, len(classes) + 1), classes, rotation=30, ha="right", fontsize=8)
        unit = next((u for k, u in units.items() if k in f), "count" if f.startswith("Number") or f.startswith("Max"
                                                                                                   "Branch") else "")
        ax.set_ylabel(f"{f}" + (f" ({unit})" if unit else ""), fontsize=8)
        if np.nanmin([v.min() if len(v) else np.nan for v in vals]) > 0:
            ax.set_yscale("log")
    for ax in axes.ravel()[len(features):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
