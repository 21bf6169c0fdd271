"""What fusion needs on top of the ephys and morphology chapters' estimators: a model restricted to one modality's
columns, late fusion (stacking), a joint network's per-modality gates, and a model asked with a modality absent.

Every class is a scikit-learn estimator (``fit``, ``predict_proba``, ``classes_``, nested ``random_state``), so the
book's :func:`neuro_lib.evaluation.cross_validate` seeds and cross-validates them like any other. ``X`` is the
:class:`pandas.DataFrame` of :func:`neuro_lib.multimodal.data.task_data` (columns prefixed by block: ``ephys41:``,
``actb:``, ``morph:``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.ensemble import StackingClassifier
from sklearn.utils.validation import check_is_fitted

from .data import block_columns

__all__ = ["OnBlocks", "LateFusion", "WithoutBlocks", "block_gates", "blocks_of"]


def _columns(X, blocks, exclude=()) -> list[str]:
    cols = [c for b in blocks for c in block_columns(X.columns, b) if not str(c).startswith(tuple(exclude))]
    if not cols:
        raise ValueError(f"X has no columns of blocks {list(blocks)} (expected prefixes like 'morph:'); "
                         f"it has e.g. {list(X.columns[:3])}")
    return cols


class OnBlocks(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """``estimator`` fitted and asked on the columns of ``blocks`` only (e.g. ``("morph",)``), in ``X``'s order,
    leaving out the columns whose names start with one of ``exclude`` (e.g. ``("morph:apical_",)``).

    ``X``: DataFrame with prefixed columns; the inner estimator gets a float ndarray (n, n_block_columns) with NaN
    for missing values. ``columns_`` after fit. Raises ``ValueError`` when ``X`` has none of the blocks' columns."""

    def __init__(self, estimator, blocks=("morph",), exclude=()):
        self.estimator, self.blocks, self.exclude = estimator, blocks, exclude

    def _X(self, X) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} needs a DataFrame with prefixed columns, got {type(X).__name__}")
        return X[self.columns_].to_numpy(dtype=float)

    def fit(self, X, y):
        self.columns_ = _columns(X, self.blocks, self.exclude)
        self.estimator_ = clone(self.estimator).fit(self._X(X), y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(self._X(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def blocks_of(est) -> tuple:
    """The blocks an estimator reads (an :class:`OnBlocks`, or one wrapped by :class:`WithoutBlocks`)."""
    while isinstance(est, WithoutBlocks):
        est = est.estimator
    return tuple(est.blocks) if isinstance(est, OnBlocks) else ()


class LateFusion(StackingClassifier):
    """Late fusion: scikit-learn's :class:`~sklearn.ensemble.StackingClassifier` over one :class:`OnBlocks` branch
    per modality. The final estimator (default: logistic regression) is fitted on the branches' out-of-fold
    probabilities from ``cv`` inner folds of the *training cells only* (stratified, unshuffled, so no extra seed);
    the branches are then refitted on all training cells.

    Missing modality: for a cell whose columns of one branch are all NaN, :meth:`predict_proba` returns the mean of
    the probabilities of the branches whose inputs are present (with one branch left, that branch's own model,
    trained on all training cells), instead of feeding the stacker an absent modality's guess. ``n_fallback_`` counts
    such cells of the last call.
    """

    def fit(self, X, y):
        self.columns_ = {name: _columns(X, blocks_of(est), getattr(est, "exclude", ())) for name, est in self.estimators}
        return super().fit(X, y)

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        present = np.column_stack([X[self.columns_[name]].notna().any(axis=1).to_numpy()
                                   for name, _ in self.estimators])
        full = present.all(1)
        p = np.zeros((len(X), len(self.classes_)))
        if full.any():
            p[full] = super().predict_proba(X[full])
        self.n_fallback_ = int((~full).sum())
        for pattern in {tuple(r) for r in present[~full]}:  # one batch per set of present modalities
            rows = np.flatnonzero((present == pattern).all(1) & ~full)
            use = [est for est, ok in zip(self.estimators_, pattern) if ok] or list(self.estimators_)
            p[rows] = np.mean([est.predict_proba(X.iloc[rows]) for est in use], axis=0)
        return p

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


class WithoutBlocks(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """``estimator`` trained on every column but asked with the columns of ``blocks`` set to NaN: the missing-modality
    check (a cell measured with one modality only, classified by a model trained on both)."""

    def __init__(self, estimator, blocks=("morph",)):
        self.estimator, self.blocks = estimator, blocks

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        X = X.copy()
        X[_columns(X, self.blocks)] = np.nan
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def block_gates(fitted: OnBlocks, X) -> pd.DataFrame:
    """Per cell, the mean deterministic LSPIN gate over each block's features, for a fitted :class:`OnBlocks`
    around :class:`neuro_lib.ephys.LSPINClassifier` (its ``gates``, (n, n_features) in [0, 1]): a DataFrame (n,
    n_blocks), index ``X.index``. A cell with a high ``morph`` and a low ``ephys41`` value was classified mostly from
    its morphometrics."""
    check_is_fitted(fitted, "estimator_")
    g = fitted.estimator_.gates(fitted._X(X))
    blocks = [c.split(":", 1)[0] for c in fitted.columns_]
    return pd.DataFrame(g, index=X.index).T.groupby(np.asarray(blocks)).mean().T
