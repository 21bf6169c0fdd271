"""Train-time augmentation for the across-labs page (issue 17, section 2): a copy of every cell as another lab might
have traced and typed it, for the *typing-aware* models to learn from beside the cell as given.

The copy of a cell (:func:`lab_copy`) has its axon removed, every dendrite typed basal (the type codes dropped,
:func:`~neuro_lib.morphology.typing_free.strip_axon`) and its coordinates and radii rescaled by a factor drawn per
cell (log-uniform in ``[1/1.5, 1.5]``: mouse cells are smaller than rat cells, and labs shrink-correct
differently). The chapter's typing-aware features (:data:`~neuro_lib.morphology.typing_free.TYPING_AWARE`) of the
copies are computed once and cached (:func:`copy_features`). :class:`WithCopies` trains any estimator on the cells
and their copies and predicts from the cells as given, so that under cross-validation a copy is only ever trained
on when its cell is (a test cell's copy is never seen).

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

__all__ = ["SCALE_RANGE", "lab_copy", "copy_features", "WithCopies"]

#: the rescaling of a copy: a factor log-uniform in [1 / SCALE_RANGE, SCALE_RANGE]
SCALE_RANGE = 1.5


def _scale(i: int, seed: int) -> float:
    """The rescaling factor of cell ``i`` (reproducible per cell, whatever the order of the files)."""
    rng = np.random.default_rng([seed, i])
    return float(np.exp(rng.uniform(-np.log(SCALE_RANGE), np.log(SCALE_RANGE))))


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


def _chunk(items: list[tuple[int, str]], seed: int) -> list[list[float]]:
    from .features import morphometrics
    from .neurites import neurite_morphometrics

    rows = []
    for i, p in items:
        try:
            c = lab_copy(load_swc(p), _scale(i, seed))
            f = {**morphometrics(c), **neurite_morphometrics(c)}
            rows.append([f[k] for k in TYPING_AWARE] + [c.metadata["scale"]])
        except (SWCError, ValueError):
            rows.append([np.nan] * (len(TYPING_AWARE) + 1))
    return rows


def copy_features(paths: Sequence, *, seed: int = 0, n_jobs: int = 2, progress: bool = False) -> pd.DataFrame:
    """The :data:`~neuro_lib.morphology.typing_free.TYPING_AWARE` features of :func:`lab_copy` of every file of
    ``paths`` (one row each, in order; the copy of file ``i`` is rescaled by a factor drawn with ``[seed, i]``),
    plus the column ``scale``. A file that cannot be read gives a NaN row. Cached (:func:`neuro_lib.cache.cached`)
    by the files (path, size, modification time), ``seed`` and the source of this module and the feature modules.
    ``n_jobs`` joblib workers; ``progress`` a tqdm bar."""
    from .. import cache
    from .io import file_key

    paths = [str(p) for p in paths]
    columns = [*TYPING_AWARE, "scale"]

    def compute():
        from .batch import map_chunks

        parts = map_chunks(_chunk, list(enumerate(paths)), seed, n_jobs=n_jobs, desc="augmented copies",
                           progress=progress)
        return np.array([r for part in parts for r in part], float).reshape(-1, len(columns))

    values = cache.cached("morphology/across_labs", {"files": file_key(paths), "columns": columns, "seed": seed},
                          compute, name="copies",
                          code=("neuro_lib.morphology.io", "neuro_lib.morphology.topology",
                                "neuro_lib.morphology.features", "neuro_lib.morphology.neurites",
                                "neuro_lib.morphology.typing_free"))
    return pd.DataFrame(values, columns=columns)


class WithCopies(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train ``estimator`` on each cell and its augmented copy; predict from the cell as given.

    ``X`` (n_cells, 2 * n_features): the first ``n_features`` columns the cell's features, the next ``n_features``
    the same features of its copy (:func:`copy_features`, same column order). ``fit(X, y)`` fits a clone on the
    ``2 n`` rows (a copy whose features are all NaN, an unreadable file, is left out); ``predict_proba(X)`` (n, K)
    reads only the first ``n_features`` columns. Raises ``ValueError`` when ``X`` has not ``2 * n_features``
    columns."""

    def __init__(self, estimator, n_features: int):
        self.estimator, self.n_features = estimator, n_features

    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, float)
        if X.ndim != 2 or X.shape[1] != 2 * self.n_features:
            raise ValueError(f"WithCopies expects {2 * self.n_features} columns (cell, then copy), got "
                             f"{X.shape[1] if X.ndim == 2 else X.shape}")
        return X

    def fit(self, X, y):
        X, y = self._check(X), np.asarray(y)
        cells, copies = X[:, :self.n_features], X[:, self.n_features:]
        ok = ~np.isnan(copies).all(1)
        self.n_copies_ = int(ok.sum())
        self.estimator_ = clone(self.estimator).fit(np.vstack([cells, copies[ok]]), np.concatenate([y, y[ok]]))
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(self._check(X)[:, :self.n_features])

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]
