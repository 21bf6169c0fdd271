"""The paper's hand-feature baseline: an RBF support-vector machine on the 19 (+1) morphometrics (Zhang et al.
2021, Table 3), and the leave-one-feature-out analysis of its Figure 5a, both over the book's one cross-validation
driver (:func:`neuro_lib.evaluation.cross_validate`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

__all__ = ["signed_log", "svm_pipeline", "LabelsOnly", "drop_one_feature"]


def signed_log(x):
    """sign(x) log(1 + |x|): compresses the heavy right tails of lengths, surfaces and volumes (same shape as x)."""
    return np.sign(x) * np.log1p(np.abs(x))


def _columns(X, columns):
    return np.asarray(X)[:, columns]


def svm_pipeline(C: float = 1.0, gamma="scale", log: bool = True, probability: bool = True,
                 columns: Sequence[int] | None = None):
    """The SVM of the paper's hand-feature baseline, a scikit-learn Pipeline on X (n, features): optionally the
    feature ``columns`` only, median imputation (a few angles are undefined), optional :func:`signed_log`,
    z-scoring, RBF ``SVC(C, gamma)``, with Platt-scaled probabilities when ``probability`` (a sigmoid fitted by
    5-fold ``CalibratedClassifierCV``, as ``SVC(probability=True)`` did before scikit-learn 1.9 deprecated it).
    Without ``probability`` the pipeline has no ``predict_proba``: wrap it in :class:`LabelsOnly` to cross-validate
    it."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.svm import SVC

    steps = [] if columns is None else [FunctionTransformer(_columns, kw_args={"columns": list(columns)})]
    steps.append(SimpleImputer(strategy="median"))
    if log:
        steps.append(FunctionTransformer(signed_log))
    svc = SVC(C=C, gamma=gamma, kernel="rbf")
    if probability:
        from sklearn.calibration import CalibratedClassifierCV

        svc = CalibratedClassifierCV(svc, method="sigmoid", ensemble=False, cv=5)
    steps += [StandardScaler(), svc]
    return make_pipeline(*steps)


class LabelsOnly(ClassifierMixin, BaseEstimator):
    """A classifier that predicts labels only (e.g. :func:`svm_pipeline` with ``probability=False``, five times
    faster to fit) as one the cross-validation driver can score: ``predict_proba`` (n, k) is the one-hot of
    ``predict``, so the driver's accuracy and confusion matrices are the labels' (its AUC means nothing)."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = np.asarray(self.estimator_.classes_)
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X) -> np.ndarray:
        pred = np.asarray(self.predict(X))
        return (pred[:, None] == self.classes_[None, :]).astype(float)


def drop_one_feature(X, y, splits, names: Sequence[str], *, C: float = 1.0, seed: int = 0,
                     progress: bool = False):
    """Out-of-fold accuracy of the SVM (labels only, :class:`LabelsOnly`) with all features and with each feature
    left out in turn, over the same ``splits`` (the paper's Figure 5a).

    ``X`` (n, len(names)) features, ``y`` (n,) labels. Returns a pandas Series indexed by the dropped feature
    (``"none"`` first): the accuracy pooled over every cell's out-of-fold prediction (fraction)."""
    import pandas as pd

    from ..evaluation import cross_validate

    base = svm_pipeline(C, probability=False)
    models = {"none": LabelsOnly(base)}
    for j, name in enumerate(names):
        models[name] = LabelsOnly(svm_pipeline(C, probability=False, columns=[i for i in range(len(names)) if i != j]))
    cvs = cross_validate(models, np.asarray(X, float), y, splits, seed=seed, progress=progress,
                         desc="leave one feature out")
    out = {}
    for name, cv in cvs.items():
        yt, yp = cv.pooled()
        out[name] = float((yt == yp).mean())
    return pd.Series(out, name="accuracy")
