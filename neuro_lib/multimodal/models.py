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
    for missing values. ``columns_`` after fit. Raises ``ValueError`` when ``X`` has none of the blocks' columns.

    ``modality_dropout`` (blocks, e.g. ``("ephys41", "morph")``): train also on copies of every training cell that
    has every block it reads, one copy per ``modality_dropout`` block with that block removed (set to NaN), so that
    a model reading several modalities learns to classify a cell measured with one of them only (a deterministic
    form of ModDrop, Neverova et al. 2016, IEEE TPAMI 38:1692). ``n_dropout_`` counts the copies added.
    Raises ``ValueError`` for a ``modality_dropout`` block that is not in ``blocks``."""

    def __init__(self, estimator, blocks=("morph",), exclude=(), modality_dropout=()):
        self.estimator, self.blocks, self.exclude = estimator, blocks, exclude
        self.modality_dropout = modality_dropout

    def _X(self, X) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} needs a DataFrame with prefixed columns, got {type(X).__name__}")
        return X[self.columns_].to_numpy(dtype=float)

    def fit(self, X, y):
        """Fit on the cells that have at least one value in the blocks (a cell without this modality teaches the
        model nothing about it; ``n_without_`` counts the cells left out)."""
        self.columns_ = _columns(X, self.blocks, self.exclude)
        V = self._X(X)
        has = ~np.isnan(V).all(1)
        self.n_without_ = int((~has).sum())
        V, y = V[has], np.asarray(y)[has]
        unknown = [b for b in self.modality_dropout if b not in self.blocks]
        if unknown:
            raise ValueError(f"modality_dropout blocks {unknown} are not among the blocks read {list(self.blocks)}")
        if self.modality_dropout:
            blocks = np.array([c.split(":", 1)[0] for c in self.columns_])
            complete = np.logical_and.reduce([~np.isnan(V[:, blocks == b]).all(1) for b in dict.fromkeys(blocks)])
            copies = []
            for b in self.modality_dropout:
                W = V[complete].copy()
                W[:, blocks == b] = np.nan
                copies.append(W)
            self.n_dropout_ = int(sum(len(W) for W in copies))
            V, y = np.vstack([V, *copies]), np.concatenate([y] + [y[complete]] * len(copies))
        else:
            self.n_dropout_ = 0
        self.estimator_ = clone(self.estimator).fit(V, y)
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


class LateFusion(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Late fusion by stacking (Wolpert 1992): one :class:`OnBlocks` branch per modality, and a ``final_estimator``
    (default: logistic regression) fitted on the branches' out-of-fold class probabilities.

    ``fit(X, y)``: the cells with every branch's modality are split into ``cv`` stratified inner folds (unshuffled,
    so no seed of its own); for each inner fold every branch is trained on all *other* training cells that have its
    modality (an ephys branch also learns from ephys-only cells) and predicts the inner fold's cells; the final
    estimator learns from those predictions; then every branch is refitted on all its training cells. Only training
    cells enter: under :func:`neuro_lib.evaluation.cross_validate` the test fold is never seen. ``random_state``
    (None: the branches' own) seeds branch ``k`` with ``random_state + k``. Like scikit-learn's
    :class:`~sklearn.ensemble.StackingClassifier` (which cannot leave cells without a modality out of the inner
    folds' test parts, hence this class).

    ``predict_proba(X)`` (n, K): the final estimator's output for a cell with every modality; for a cell whose columns
    of one branch are all NaN, the mean of the probabilities of the branches whose inputs are there (one branch: that
    branch's own model). ``n_fallback_`` counts such cells of the last call.
    """

    def __init__(self, estimators, final_estimator=None, cv=5, random_state=None):
        self.estimators, self.final_estimator, self.cv = estimators, final_estimator, cv
        self.random_state = random_state

    def _branch(self, k: int):
        """Branch ``k`` cloned, every ``random_state`` in it set to ``random_state + k`` (None: as given)."""
        from ..evaluation import seed_estimator

        est = self.estimators[k][1]
        return clone(est) if self.random_state is None else seed_estimator(est, int(self.random_state) + k)

    def _present(self, X) -> np.ndarray:
        return np.column_stack([X[self.columns_[name]].notna().any(axis=1).to_numpy() for name, _ in self.estimators])

    def _proba(self, est, X) -> np.ndarray:
        p = np.zeros((len(X), len(self.classes_)))
        p[:, np.searchsorted(self.classes_, est.classes_)] = est.predict_proba(X)
        return p

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.columns_ = {name: _columns(X, blocks_of(est), getattr(est, "exclude", ())) for name, est in
                         self.estimators}
        complete = np.flatnonzero(self._present(X).all(1))
        if len(complete) < self.cv:
            raise ValueError(f"LateFusion needs at least cv={self.cv} cells with every modality, got {len(complete)}")
        oof = np.zeros((len(complete), len(self.estimators) * len(self.classes_)))
        n_min = int(np.bincount(np.searchsorted(self.classes_, y[complete])).min())
        folds = StratifiedKFold(max(2, min(self.cv, n_min))).split(complete, y[complete]) if n_min >= 2 else \
            [(np.setdiff1d(np.arange(len(complete)), part), part) for part in np.array_split(np.arange(len(complete)),
                                                                                               self.cv)]
        for _, inner_test in folds:
            test_rows = complete[inner_test]
            train_rows = np.setdiff1d(np.arange(len(y)), test_rows)
            for b in range(len(self.estimators)):
                fitted = self._branch(b).fit(X.iloc[train_rows], y[train_rows])
                cols = slice(b * len(self.classes_), (b + 1) * len(self.classes_))
                oof[inner_test, cols] = self._proba(fitted, X.iloc[test_rows])
        final = self.final_estimator if self.final_estimator is not None else LogisticRegression(max_iter=5000)
        self.final_estimator_ = clone(final).fit(oof, y[complete])
        self.estimators_ = [self._branch(b).fit(X, y) for b in range(len(self.estimators))]
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        present = self._present(X)
        full = present.all(1)
        p = np.zeros((len(X), len(self.classes_)))
        if full.any():
            Z = np.hstack([self._proba(est, X[full]) for est in self.estimators_])
            p[full] = self._proba(self.final_estimator_, Z)
        self.n_fallback_ = int((~full).sum())
        for pattern in {tuple(r) for r in present[~full]}:  # one batch per set of present modalities
            rows = np.flatnonzero((present == pattern).all(1) & ~full)
            use = [est for est, ok in zip(self.estimators_, pattern) if ok] or list(self.estimators_)
            p[rows] = np.mean([self._proba(est, X.iloc[rows]) for est in use], axis=0)
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
