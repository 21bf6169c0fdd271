"""Train-time augmentation for the across-labs page (issue 17, section 2: "removes or truncates the axon, drops type
codes, and rescales size"): copies of every cell as another lab might have traced and typed it, for the
*typing-aware* models to learn from beside the cell as given.

Two kinds of copy, each rescaled (coordinates and radii) by a factor drawn per cell, log-uniform in ``[1/1.5, 1.5]``
(mouse cells are smaller than rat cells, and labs shrink-correct differently):

* ``"lab"`` (:func:`lab_copy`): the axon removed and every dendrite typed basal (the type codes dropped,
  :func:`~neuro_lib.morphology.typing_free.strip_axon`): a dendrite-only file from a lab that does not type the
  apical dendrite;
* ``"truncated"`` (:func:`truncated_copy`): the axon cut at a fraction, drawn per cell uniformly in
  ``[0.1, 0.9]``, of its longest path from the soma (:func:`truncate_axon`), the type codes as given: a lab that
  traced the axon only near the soma (slices cut it; tracers stop).

The chapter's typing-aware features (:data:`~neuro_lib.morphology.typing_free.TYPING_AWARE`) of the copies are
computed once and cached (:func:`copy_features`). :class:`WithCopies` trains any estimator on the cells and their
copies and predicts from the cells as given, so that under cross-validation a copy is only ever trained on when its
cell is (a test cell's copy is never seen).

Kept in its own module so that its cache is keyed by this source only (editing it does not recompute the page's
other features).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

from .io import SWC, SWCError, load_swc
from .typing_free import TYPING_AWARE, strip_axon

__all__ = ["SCALE_RANGE", "AXON_FRACTION_RANGE", "COPY_KINDS", "lab_copy", "truncate_axon", "truncated_copy",
           "copy_features", "WithCopies"]

#: the rescaling of a copy: a factor log-uniform in [1 / SCALE_RANGE, SCALE_RANGE]
SCALE_RANGE = 1.5
#: the share of the axon's longest path from the soma that a truncated copy keeps: uniform in this range
AXON_FRACTION_RANGE = (0.1, 0.9)
COPY_KINDS = ("lab", "truncated")


def _scale(i: int, seed: int) -> float:
    """The rescaling factor of cell ``i`` (reproducible per cell, whatever the order of the files)."""
    rng = np.random.default_rng([seed, i])
    return float(np.exp(rng.uniform(-np.log(SCALE_RANGE), np.log(SCALE_RANGE))))


def _axon_fraction(i: int, seed: int) -> float:
    """The share of the axon kept by the truncated copy of cell ``i`` (its own stream: not the scale's)."""
    return float(np.random.default_rng([seed, i, 1]).uniform(*AXON_FRACTION_RANGE))


def lab_copy(swc: SWC, scale: float) -> SWC:
    """``swc`` as another lab might have traced it: axon removed, one dendrite type (basal), and coordinates and
    radii multiplied by ``scale`` about the root sample. Returns a new :class:`SWC`. Raises ``ValueError`` for a
    non-positive ``scale`` or a root sample typed axon (:func:`strip_axon`)."""
    if not scale > 0:
        raise ValueError(f"lab_copy: scale must be positive, got {scale}")
    s = strip_axon(swc)
    root = s.xyz[0] if len(s) else np.zeros(3)
    return s.copy(xyz=root + (s.xyz - root) * scale, radius=s.radius * scale,
                  metadata=dict(s.metadata, scale=float(scale)))


def truncate_axon(swc: SWC, fraction: float) -> SWC:
    """``swc`` with its axon cut: every axon sample (SWC type 2) farther from the root along the tree than
    ``fraction`` times the longest axon path (:func:`~neuro_lib.morphology.topology.path_distances`, um) is removed,
    with everything that hangs from it; the rest, type codes included, is kept. A cell without axon is returned
    unchanged (a copy). Returns a new :class:`SWC` (``metadata["axon_removed"]``: samples cut). Raises
    ``ValueError`` for a ``fraction`` outside ``[0, 1]``."""
    from .topology import accumulate_to_root, path_distances

    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"truncate_axon: fraction must be in [0, 1], got {fraction}")
    axon = swc.types == 2
    if not axon.any():
        return swc.copy(metadata=dict(swc.metadata, axon_removed=0))
    dist = path_distances(swc)
    cut = axon & (dist > fraction * dist[axon].max())
    keep = accumulate_to_root(swc.parent, cut.astype(float)) == 0
    new_index = np.cumsum(keep) - 1
    parent = np.where(swc.parent[keep] >= 0, new_index[np.maximum(swc.parent[keep], 0)], -1)
    return swc.copy(ids=swc.ids[keep], types=swc.types[keep], xyz=swc.xyz[keep], radius=swc.radius[keep],
                    parent=parent, lines=None if swc.lines is None else swc.lines[keep],
                    metadata=dict(swc.metadata, axon_removed=int((~keep).sum())))


def truncated_copy(swc: SWC, scale: float, fraction: float) -> SWC:
    """``swc`` as a lab that traced only the start of the axon might have: :func:`truncate_axon` at ``fraction``,
    type codes as given, coordinates and radii multiplied by ``scale`` about the root sample. Raises ``ValueError``
    for a non-positive ``scale`` or a ``fraction`` outside ``[0, 1]``."""
    if not scale > 0:
        raise ValueError(f"truncated_copy: scale must be positive, got {scale}")
    s = truncate_axon(swc, fraction)
    root = s.xyz[0] if len(s) else np.zeros(3)
    return s.copy(xyz=root + (s.xyz - root) * scale, radius=s.radius * scale,
                  metadata=dict(s.metadata, scale=float(scale), axon_fraction=float(fraction)))


def _make_copy(swc: SWC, kind: str, i: int, seed: int) -> SWC:
    if kind == "lab":
        return lab_copy(swc, _scale(i, seed))
    return truncated_copy(swc, _scale(i, seed), _axon_fraction(i, seed))


def _chunk(items: list[tuple[int, str]], seed: int, kind: str = "lab") -> list[list[float]]:
    from .features import morphometrics
    from .neurites import neurite_morphometrics

    rows = []
    for i, p in items:
        try:
            c = _make_copy(load_swc(p), kind, i, seed)
            f = {**morphometrics(c), **neurite_morphometrics(c)}
            rows.append([f[k] for k in TYPING_AWARE] + [c.metadata["scale"]])
        except (SWCError, ValueError):
            rows.append([np.nan] * (len(TYPING_AWARE) + 1))
    return rows


def copy_features(paths: Sequence, *, seed: int = 0, kind: str = "lab", n_jobs: int = 2,
                  progress: bool = False) -> pd.DataFrame:
    """The :data:`~neuro_lib.morphology.typing_free.TYPING_AWARE` features of one copy of every file of ``paths``
    (one row each, in order): ``kind`` ``"lab"`` (:func:`lab_copy`) or ``"truncated"`` (:func:`truncated_copy`); the
    copy of file ``i`` is rescaled by a factor drawn with ``[seed, i]`` (the same for both kinds) and a truncated
    copy keeps a share of the axon drawn with ``[seed, i, 1]``; plus the column ``scale``. A file that cannot be
    read gives a NaN row. Cached (:func:`neuro_lib.cache.cached`) by the files (path, size, modification time),
    ``seed``, ``kind`` and the source of this module and the feature modules. ``n_jobs`` joblib workers;
    ``progress`` a tqdm bar. Raises ``ValueError`` for an unknown ``kind``."""
    from .. import cache
    from .io import file_key

    if kind not in COPY_KINDS:
        raise ValueError(f"copy_features: unknown kind {kind!r}; expected one of {COPY_KINDS}")
    paths = [str(p) for p in paths]
    columns = [*TYPING_AWARE, "scale"]

    def compute():
        from .batch import map_chunks

        parts = map_chunks(_chunk, list(enumerate(paths)), seed, kind, n_jobs=n_jobs, desc=f"{kind} copies",
                           progress=progress)
        return np.array([r for part in parts for r in part], float).reshape(-1, len(columns))

    values = cache.cached("morphology/across_labs", {"files": file_key(paths), "columns": columns, "seed": seed,
                                                     "kind": kind}, compute, name="copies",
                          code=("neuro_lib.morphology.io", "neuro_lib.morphology.topology",
                                "neuro_lib.morphology.features", "neuro_lib.morphology.neurites",
                                "neuro_lib.morphology.typing_free"))
    return pd.DataFrame(values, columns=columns)


class WithCopies(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train ``estimator`` on each cell and its augmented copies; predict from the cell as given.

    ``X`` (n_cells, (1 + n_copies) * n_features): the first ``n_features`` columns the cell's features, each next
    block of ``n_features`` the same features of one copy (:func:`copy_features`, same column order). ``fit(X, y)``
    fits a clone on the cells and their copies (a copy whose features are all NaN, an unreadable file, is left out);
    ``predict_proba(X)`` (n, K) reads only the first ``n_features`` columns. Raises ``ValueError`` when ``X`` has
    not ``(1 + n_copies) * n_features`` columns."""

    def __init__(self, estimator, n_features: int, n_copies: int = 1):
        self.estimator, self.n_features, self.n_copies = estimator, n_features, n_copies

    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, float)
        width = (1 + self.n_copies) * self.n_features
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"WithCopies expects {width} columns (cell, then {self.n_copies} copies), got "
                             f"{X.shape[1] if X.ndim == 2 else X.shape}")
        return X

    def fit(self, X, y):
        X, y = self._check(X), np.asarray(y)
        f = self.n_features
        blocks = [X[:, (k + 1) * f:(k + 2) * f] for k in range(self.n_copies)]
        oks = [~np.isnan(b).all(1) for b in blocks]
        self.n_copies_ = int(sum(ok.sum() for ok in oks))
        self.estimator_ = clone(self.estimator).fit(np.vstack([X[:, :f], *(b[ok] for b, ok in zip(blocks, oks))]),
                                                    np.concatenate([y, *(y[ok] for ok in oks)]))
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(self._check(X)[:, :self.n_features])

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]
