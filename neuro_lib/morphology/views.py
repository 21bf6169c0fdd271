"""Several inputs of the same cells in one object, so that every model of the chapter is cross-validated over one
``X`` and the same :class:`~neuro_lib.evaluation.Split` list.

A cell of the morphology chapter is seen four ways: its 20 morphometrics (``features``, (n, 20) float, um and
degrees), its 77 per-neurite morphometrics (``neurites``, (n, 77)), the three axis projections (``images``,
(n, 3, S, S) float32 in [0, 1]) and its reduced tree (``trees``, a list of n
:class:`~neuro_lib.morphology.tree.ReducedTree`). :class:`Views` holds any of them, rows aligned, and is indexed by an
index array like one array (``views[idx]`` is a :class:`Views` of those cells; ``views["images"]`` one view).
:class:`OnView` wraps an estimator so that it reads its view of a :class:`Views` (and takes a plain input as it is).
"""
from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

__all__ = ["Views", "OnView", "take", "concat"]


def take(X, idx):
    """Rows ``idx`` (an index array) of ``X``: an array, a pandas object (by position), a list, or a :class:`Views`."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)):
        return [X[int(i)] for i in idx]
    return X[np.asarray(idx)]


def concat(a, b):
    """``a`` then ``b``, rows of the same kind of input (arrays, lists, pandas objects or :class:`Views`)."""
    if isinstance(a, Views):
        return Views(**{k: concat(a[k], b[k]) for k in a.names})
    if isinstance(a, list):
        return a + list(b)
    if hasattr(a, "iloc"):
        import pandas as pd

        return pd.concat([a, b])
    return np.concatenate([np.asarray(a), np.asarray(b)])


class Views:
    """Named inputs of the same n cells (see the module docstring), e.g. ``Views(features=X, images=I, trees=T)``.

    ``len(views)`` is n; ``views[name]`` one input; ``views[idx]`` (an index array) the :class:`Views` of those
    cells; ``name in views``. Raises ``ValueError`` when the inputs differ in length and ``KeyError`` naming the
    views there are for an unknown name."""

    def __init__(self, **views):
        lengths = {k: len(v) for k, v in views.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"views of different lengths: {lengths}")
        self._views = dict(views)
        self._n = next(iter(lengths.values())) if lengths else 0

    @property
    def names(self) -> list[str]:
        return list(self._views)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, name) -> bool:
        return name in self._views

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._views:
                raise KeyError(f"no view {key!r}; these cells have {self.names}")
            return self._views[key]
        return Views(**{k: take(v, key) for k, v in self._views.items()})

    def __repr__(self) -> str:
        return f"Views({self._n} cells: {', '.join(self.names)})"


def _fit_takes_val(est) -> bool:
    """``est.fit(X, y, X_val, y_val)``: the book's convention for validation samples (early stopping or a head's
    data). scikit-learn's ``HistGradientBoostingClassifier.fit(X, y, sample_weight, *, X_val, y_val)`` also names
    ``X_val`` but refuses it without its own early stopping, so the position counts, not the name."""
    try:
        names = list(inspect.signature(est.fit).parameters)
    except (TypeError, ValueError):
        return False
    return names[2:4] == ["X_val", "y_val"]


class OnView(ClassifierMixin, BaseEstimator):
    """``estimator`` applied to one view of a :class:`Views` (a plain input is passed on as it is).

    ``fit(X, y, X_val=None, y_val=None)``: when ``estimator.fit`` takes validation samples (early stopping; the
    book's ``fit(X, y, X_val, y_val)``) it gets their view; otherwise the validation cells join the training cells (as
    :func:`neuro_lib.evaluation.cross_validate` does for such estimators). After fitting, ``estimator_`` is the
    fitted clone and ``classes_`` its classes; ``predict_proba``, ``predict``, ``decision_logits`` and ``transform``
    are the estimator's on the view.
    """

    def __init__(self, view: str = "features", estimator=None):
        self.view = view
        self.estimator = estimator

    def _select(self, X):
        return X[self.view] if isinstance(X, Views) else X

    def fit(self, X, y, X_val=None, y_val=None):
        est = clone(self.estimator)
        Xs, y = self._select(X), np.asarray(y)
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        if has_val and _fit_takes_val(est):
            est.fit(Xs, y, X_val=self._select(X_val), y_val=np.asarray(y_val))
        elif has_val:
            est.fit(concat(Xs, self._select(X_val)), np.concatenate([y, np.asarray(y_val)]))
        else:
            est.fit(Xs, y)
        self.estimator_ = est
        self.classes_ = np.asarray(est.classes_)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(self._select(X))

    def predict(self, X) -> np.ndarray:
        return self.estimator_.predict(self._select(X))

    def decision_logits(self, X) -> np.ndarray:
        return self.estimator_.decision_logits(self._select(X))

    def transform(self, X) -> np.ndarray:
        return self.estimator_.transform(self._select(X))
