"""Model fitting for the ephys chapter: preprocessing, baselines, LSPIN and DANN, and their cross-validation.

Every imputer and scaler is fit on the training cells of a fold only (inside a scikit-learn ``Pipeline`` or
:class:`Preprocessor`); hyperparameters and early stopping use a validation split carved out of the training cells,
never the test fold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PowerTransformer, StandardScaler
from sklearn.svm import SVC
from torch import nn

from ..evaluation import cross_validate_fitters as cross_validate, stratified_split, summarise_scores  # noqa: F401
from ..models.dann import DANN
from ..models.lspin import LSPIN
from ..training import fit, predict, seed_everything

__all__ = ["Preprocessor", "baselines", "fit_lspin", "fit_mlp", "fit_dann", "LSPINParams", "DANNParams",
           "ensemble_proba", "sklearn_fitter", "lspin_fitter", "ei_fitters", "cross_validate", "paper_split_ei",
           "paper_split_cre5", "summarise_scores", "gate_matrix", "shap_explain"]


class Preprocessor:
    """Median imputation, Yeo-Johnson power transform and z-scoring, fit on training cells only.

    ``fit(X)`` learns from a (n_cells, n_features) array with NaN for missing values; ``transform(X)`` returns
    float32; ``n_imputed`` counts the values imputed in the last ``fit``/``transform`` call.
    """

    def __init__(self):
        self.pipe = Pipeline([("impute", SimpleImputer(strategy="median")),
                              ("power", PowerTransformer(method="yeo-johnson", standardize=True))])
        self.n_imputed = 0

    def fit(self, X):
        X = np.asarray(X, dtype=float)
        self.n_imputed = int(np.isnan(X).sum())
        self.pipe.fit(X)
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        self.n_imputed = int(np.isnan(X).sum())
        return np.clip(self.pipe.transform(X), -8, 8).astype(np.float32)


def baselines(seed: int = 0) -> dict[str, Pipeline]:
    """Scikit-learn/XGBoost baselines with default hyperparameters (as the reference numbers of the issue),
    each behind median imputation and z-scoring: logistic regression, SVC (RBF), random forest, XGBoost."""
    from xgboost import XGBClassifier

    def pipe(est):
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), est)

    return {
        "logistic_regression": pipe(LogisticRegression(max_iter=5000)),
        "svc": pipe(SVC(probability=False, random_state=seed)),
        "random_forest": pipe(RandomForestClassifier(random_state=seed, n_jobs=1)),
        "xgboost": pipe(XGBClassifier(random_state=seed, n_jobs=1, verbosity=0)),
    }


@dataclass
class LSPINParams:
    """LSPIN hyperparameters (defaults chosen on validation splits of the training cells; see 03 notebook)."""

    lambda1: float = 0.01
    lambda2: float = 0.0
    sigma: float = 0.5
    gate_hidden: tuple = (64,)
    hidden: tuple = (128, 64)
    dropout: float = 0.3
    lr: float = 3e-3
    weight_decay: float = 1e-4
    epochs: int = 300
    batch_size: int = 64
    patience: int = 40
    class_weight: str | None = None  # "balanced": cross-entropy weights n / (K * n_k), for macro-averaged scores


def _class_weights(y, mode):
    if mode is None:
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', got {mode!r}")
    counts = np.bincount(y)
    return torch.as_tensor(len(y) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)


def _prepare(X_train):
    """Fit the :class:`Preprocessor` on the training cells; return it and the transformed training features."""
    prep = Preprocessor().fit(X_train)
    return prep, prep.transform(X_train)


def _val_split(y, seed, frac=0.15):
    return stratified_split(y, [1 - frac, frac], seed=seed)


def fit_lspin(X_train, y_train, params: LSPINParams = LSPINParams(), *, seed: int = 0, device="cpu",
              progress: bool = False, n_ensemble: int = 1):
    """Fit LSPIN on training cells (a stratified 15% of them for early stopping); return ``(models, prep)`` where
    ``models`` is a list of ``n_ensemble`` LSPINs (different seeds and validation splits) and ``prep`` the
    :class:`Preprocessor` fit on the training cells. Labels are integer-coded 0..K-1."""
    prep, Xt = _prepare(X_train)
    y = np.asarray(y_train)
    models = []
    for k in range(n_ensemble):
        tr, va = _val_split(y, seed + 101 * k)
        seed_everything(seed + k)  # the initial weights too
        model = LSPIN(Xt.shape[1], int(y.max()) + 1, gate_hidden=params.gate_hidden, hidden=params.hidden,
                      sigma=params.sigma, lambda1=params.lambda1, lambda2=params.lambda2, dropout=params.dropout)
        w = _class_weights(y[tr], params.class_weight)
        fit(model, (Xt[tr], y[tr]), (Xt[va], y[va]), train_step=model.train_step(nn.CrossEntropyLoss(weight=w)),
            val_step=lambda m, b, w=w: nn.functional.cross_entropy(m(b[0]), b[1], weight=w),
            epochs=params.epochs, lr=params.lr, weight_decay=params.weight_decay, batch_size=params.batch_size,
            patience=params.patience, seed=seed + k, device=device, progress=progress, desc="LSPIN")
        models.append(model.cpu().eval())
    return models, prep


def ensemble_proba(models, X: np.ndarray) -> np.ndarray:
    """Mean softmax probability of a list of models on preprocessed ``X`` (n, d) -> (n, K)."""
    ps = [torch.softmax(torch.as_tensor(predict(m, X, device="cpu")), 1).numpy() for m in models]
    return np.mean(ps, axis=0)


def fit_mlp(X_train, y_train, *, hidden=(128, 64), dropout=0.3, seed=0, epochs=300, lr=3e-3, device="cpu",
            progress=False):
    """A plain MLP of the LSPIN prediction network's shape (no gates), for comparison."""
    from ..models.dann import mlp

    prep, Xt = _prepare(X_train)
    y = np.asarray(y_train)
    tr, va = _val_split(y, seed)
    seed_everything(seed)
    model = nn.Sequential(mlp([Xt.shape[1], *hidden], dropout=dropout), nn.Linear(hidden[-1], int(y.max()) + 1))
    fit(model, (Xt[tr], y[tr]), (Xt[va], y[va]), loss_fn=nn.CrossEntropyLoss(), epochs=epochs, lr=lr,
        weight_decay=1e-4, patience=40, seed=seed, device=device, progress=progress, desc="MLP")
    return [model.cpu().eval()], prep


@dataclass
class DANNParams:
    hidden: tuple = (64, 32)
    dropout: float = 0.2
    domain_weight: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 200
    batch_size: int = 64
    patience: int = 30


def fit_dann(X_train, y_train, domain_train, labelled, params: DANNParams = DANNParams(), *, adversarial=True,
             seed: int = 0, device="cpu", progress=False):
    """Fit a DANN (``adversarial=True``) or the same network without the domain loss.

    ``domain_train``: 0 = source (mouse), 1 = target (human); ``labelled``: 1 where the label may be used (e.g. 0
    for the target cells in unsupervised adaptation). The validation split (15%, stratified by domain x label) is
    scored on labelled cells only. Returns ``(model, prep)``."""
    prep, Xt = _prepare(X_train)
    y, d, lab = (np.asarray(a).astype(np.int64) for a in (y_train, domain_train, labelled))
    strata = d * 10 + y * lab + 5 * (1 - lab)
    tr, va = _val_split(strata, seed)
    seed_everything(seed)
    model = DANN(Xt.shape[1], int(y.max()) + 1, hidden=params.hidden, dropout=params.dropout)
    weight = params.domain_weight if adversarial else 0.0
    step = model.train_step(domain_weight=weight)

    def val_step(m, b):
        x, yy, dd, ll = b
        logits = m(x)
        mask = ll.float()
        return (nn.functional.cross_entropy(logits, yy, reduction="none") * mask).sum() / mask.sum().clamp_min(1)

    fit(model, (Xt[tr], y[tr], d[tr], lab[tr]), (Xt[va], y[va], d[va], lab[va]), train_step=step, val_step=val_step,
        epochs=params.epochs, lr=params.lr, weight_decay=params.weight_decay, batch_size=params.batch_size,
        patience=params.patience, seed=seed, device=device, progress=progress, desc="DANN" if adversarial else "MLP")
    return model.cpu().eval(), prep


# ---------------------------------------------------------------------------------------------------------------
# Cross-validation drivers used by the notebooks
# ---------------------------------------------------------------------------------------------------------------

def sklearn_fitter(estimator):
    """Wrap a scikit-learn estimator as a fitter: ``fitter(X_train, y_train, seed) -> predict(X) -> labels``."""

    def fitter(X, y, seed, **_):
        est = clone(estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        est.fit(X, y)
        return est.predict

    return fitter


def lspin_fitter(params: LSPINParams, n_ensemble: int = 3, device="cpu"):
    """Fitter for an ensemble of LSPINs (different seeds and early-stopping splits of the training cells)."""

    def fitter(X, y, seed, **_):
        models, prep = fit_lspin(X, y, params, seed=seed, device=device, n_ensemble=n_ensemble)
        return lambda Xte: ensemble_proba(models, prep.transform(Xte)).argmax(1)

    return fitter


def ei_fitters(params: DANNParams = DANNParams(), *, device="cpu", seed: int = 0) -> dict:
    """Fitters for the E/I task across species, each ``fitter(X, y, fold, domain=...)`` (domain 0 mouse, 1 human):

    * ``dann``: DANN with the labels of all training cells (mouse and human), the species as the domain (the
      paper's setting: its training split holds cells of both species);
    * ``pooled_network``: the same network and labels without the domain loss (does the adversary help?);
    * ``dann_unsupervised``: DANN that sees the human training cells without their labels (Ganin et al.'s setting);
    * ``source_only``: the same network trained on mouse cells only;
    * ``logistic_regression``, ``svc``, ``xgboost``: trained on mouse cells only (no adaptation).
    """
    def net(adversarial, use_target_labels, target_cells=True):
        def fitter(X, y, fold, domain):
            keep = np.ones(len(y), bool) if target_cells else domain == 0
            lab = np.ones(keep.sum()) if use_target_labels else (domain[keep] == 0).astype(int)
            model, prep = fit_dann(X[keep], y[keep], domain[keep], lab, params, adversarial=adversarial,
                                   seed=seed + fold, device=device)
            return lambda Xte: predict(model, prep.transform(Xte)).argmax(1)
        return fitter

    def source_sklearn(est):
        base = sklearn_fitter(est)

        def fitter(X, y, fold, domain):
            return base(X[domain == 0], y[domain == 0], seed + fold)
        return fitter

    b = baselines(seed)
    return {
        "dann": net(True, True),
        "pooled_network": net(False, True),
        "dann_unsupervised": net(True, False),
        "source_only": net(False, True, target_cells=False),
        "logistic_regression": source_sklearn(b["logistic_regression"]),
        "svc": source_sklearn(b["svc"]),
        "xgboost": source_sklearn(b["xgboost"]),
    }


def paper_split_ei(y, domain, *, seed: int = 0, n_test_mouse: int = 285, n_test_human: int = 60):
    """The paper's single E/I split (Ophir et al. 2023, Section 4.1): 285 mouse + 60 human test cells, stratified by
    label within species; the other 1,378 cells train (of which the fit loop holds out 15% = 207 for validation,
    the paper's 1,171 / 207). Returns ``[(train_idx, test_idx)]`` for :func:`cross_validate`."""
    y, domain = np.asarray(y), np.asarray(domain)
    test = []
    for dom, n in [(0, n_test_mouse), (1, n_test_human)]:
        idx = np.flatnonzero(domain == dom)
        _, te = stratified_split(y[idx], [len(idx) - n, n], seed=seed)
        test.append(idx[te])
    test = np.sort(np.concatenate(test))
    return [(np.setdiff1d(np.arange(len(y)), test), test)]


def paper_split_cre5(y, complete, *, seed: int = 0, n_test: int = 277):
    """The paper's single Cre-class split: cells with a missing feature dropped (1,424 - 42 = 1,382), then 1,105
    train / 277 test, stratified. ``complete``: boolean mask of cells without missing values.
    Returns ``[(train_idx, test_idx)]``."""
    idx = np.flatnonzero(np.asarray(complete))
    tr, te = stratified_split(np.asarray(y)[idx], [len(idx) - n_test, n_test], seed=seed)
    return [(idx[tr], idx[te])]


def gate_matrix(models, prep: Preprocessor, X) -> np.ndarray:
    """Deterministic LSPIN gates (n_cells, n_features) in [0, 1], averaged over an ensemble (the paper's Figure 9)."""
    Xt = torch.as_tensor(prep.transform(X))
    with torch.no_grad():
        return np.mean([m.eval().gates(Xt, noise=False).numpy() for m in models], axis=0)


def shap_explain(predict_proba, background: np.ndarray, X: np.ndarray, feature_names, *, seed: int = 0,
                 max_evals: int | None = None):
    """Shapley values (shap's permutation explainer) of ``predict_proba(X) -> (n,)`` (e.g. P(excitatory)) on ``X``,
    with ``background`` as the masker's reference cells. Returns a ``shap.Explanation`` (values: (n, n_features))."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.Explainer(predict_proba, masker, feature_names=list(feature_names), algorithm="permutation",
                               seed=seed)
    return explainer(X, max_evals=max_evals or 2 * X.shape[1] + 1, silent=True)
