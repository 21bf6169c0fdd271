"""The ephys chapter's models as scikit-learn estimators: LSPIN (an ensemble), a plain MLP, DANN and its variants,
and the baselines.

Every estimator takes the raw 41 features (NaN = missing) and fits its own preprocessing on the cells it is fitted on
(:class:`Preprocessor` inside the networks, a scikit-learn ``Pipeline`` around the baselines), so a test cell never
shapes the imputation or the scaling. The networks hold out a stratified share (``val_fraction``, 15%) of their
training cells for early stopping, unless ``fit`` is given validation cells; the ensemble members of
:class:`LSPINClassifier` each draw their own. ``random_state`` seeds all of it, so
:func:`neuro_lib.evaluation.cross_validate` (which sets it to ``seed + split``) reaches every source of randomness.

Side information is a named ``fit`` parameter: :class:`DANNClassifier` takes ``domain`` (0 = source, mouse; 1 =
target, human) and ``labelled``; :class:`SourceOnly` fits its inner estimator on the source-domain cells only.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PowerTransformer, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..estimators import FittedDelegate, TorchClassifier
from ..evaluation import stratified_split
from ..models.dann import DANN, mlp
from ..models.lspin import LSPIN
from ..training import fit as fit_loop
from ..training import predict as net_outputs
from ..training import seed_everything

__all__ = ["Preprocessor", "LSPINClassifier", "MLPNetwork", "DANNClassifier", "SourceOnly", "SVCScores",
           "baselines", "parameter_count"]


class Preprocessor(TransformerMixin, BaseEstimator):
    """Median imputation, Yeo-Johnson power transform and z-scoring (scikit-learn), clipped to ``[-clip, clip]``;
    fitted on training cells only.

    ``fit(X)`` learns from (n_cells, n_features) with NaN for missing values and counts them (``n_imputed_``);
    ``transform(X)`` returns float32 (n, n_features). ``get_state``/``from_state`` store the fitted numbers as
    tensors (no pickle).
    """

    def __init__(self, clip: float = 8.0):
        self.clip = clip

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.n_imputed_ = int(np.isnan(X).sum())
        self.pipe_ = Pipeline([("impute", SimpleImputer(strategy="median")),
                               ("power", PowerTransformer(method="yeo-johnson", standardize=True))]).fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "pipe_")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected (n, {self.n_features_in_}) features, got shape {X.shape}")
        return np.clip(self.pipe_.transform(X), -self.clip, self.clip).astype(np.float32)

    def get_state(self) -> dict:
        check_is_fitted(self, "pipe_")
        imp, power = self.pipe_.named_steps["impute"], self.pipe_.named_steps["power"]

        def t(a):
            return torch.as_tensor(np.asarray(a, dtype=np.float64))

        return {"clip": float(self.clip), "medians": t(imp.statistics_), "lambdas": t(power.lambdas_),
                "mean": t(power._scaler.mean_), "var": t(power._scaler.var_), "scale": t(power._scaler.scale_)}

    @classmethod
    def from_state(cls, state: dict) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`get_state` (the scikit-learn steps are fitted on a dummy table of
        the right width, then given the stored numbers)."""
        d = len(state["medians"])
        prep = cls(clip=state["clip"]).fit(np.linspace(-1.0, 1.0, 5)[:, None] * np.arange(1, d + 1)[None, :])
        imp, power = prep.pipe_.named_steps["impute"], prep.pipe_.named_steps["power"]
        imp.statistics_ = state["medians"].numpy().copy()
        power.lambdas_ = state["lambdas"].numpy().copy()
        power._scaler.mean_ = state["mean"].numpy().copy()
        power._scaler.var_ = state["var"].numpy().copy()
        power._scaler.scale_ = state["scale"].numpy().copy()
        prep.n_imputed_ = 0
        return prep


def _class_weights(y: np.ndarray, mode, n_classes: int):
    if mode is None:
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', got {mode!r}")
    counts = np.bincount(y, minlength=n_classes)
    return torch.as_tensor(len(y) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)


def _holdout(strata: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) positions: a stratified ``fraction`` of the training cells for early stopping."""
    return tuple(stratified_split(strata, [1 - fraction, fraction], seed=seed))


class _PreprocessedNetwork(TorchClassifier):
    """A :class:`~neuro_lib.estimators.TorchClassifier` whose inputs go through a :class:`Preprocessor` fitted on the
    cells given to ``fit``. Subclasses implement ``_module_config``, ``_make_module`` and
    ``_train_module(module, Xt, y, Xt_val, y_val, **side)`` on preprocessed float32 features."""

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``X`` (n, 41) raw features and labels ``y`` (n,); early stopping on ``(X_val, y_val)`` when
        given, else on a held-out share of ``X``. Returns ``self``. Raises ``ValueError`` if ``X`` and ``y`` differ
        in length, ``y`` has fewer than two classes or ``y_val`` a label ``y`` lacks."""
        return self._fit(X, y, X_val, y_val, {})

    def _fit(self, X, y, X_val, y_val, side: dict):
        y_enc, yv = self._set_classes(X, y, y_val)
        self.prep_ = Preprocessor().fit(X)
        Xt = self.prep_.transform(X)
        Xvt = None if X_val is None else self.prep_.transform(X_val)
        seed_everything(int(self.random_state))
        self.module_config_ = self._module_config(Xt, len(self.classes_))
        module = self._make_module(self.module_config_)
        self.history_ = self._train_module(module, Xt, y_enc, Xvt, yv, **side)
        self.module_ = module.cpu().eval()
        return self

    def _inputs(self, X):
        check_is_fitted(self, "prep_")
        return torch.as_tensor(self.prep_.transform(X))

    def _fit_kwargs(self, seed: int, desc: str) -> dict:
        return dict(epochs=int(self.epochs), lr=self.lr, weight_decay=self.weight_decay,
                    batch_size=int(self.batch_size), patience=self.patience, seed=int(seed), device=self._device(),
                    progress=self.progress, desc=desc, max_steps=self.max_steps,
                    mixed_precision=self.mixed_precision)

    def get_state(self) -> dict:
        state = super().get_state()
        state["prep"] = self.prep_.get_state()
        return state

    @classmethod
    def from_state(cls, state: dict):
        est = super().from_state(state)
        est.prep_ = Preprocessor.from_state(state["prep"])
        return est


class LSPINClassifier(_PreprocessedNetwork):
    """An ensemble of ``n_ensemble`` LSPINs (Yang, Lindenbaum & Kluger 2022; :class:`neuro_lib.models.lspin.LSPIN`),
    the model of Ophir et al. (2023) for the 5 Cre classes (Table 2).

    Member ``k`` is initialised and trained with seed ``random_state + k`` and stops early on its own stratified
    ``val_fraction`` of the training cells (seed ``random_state + 101 k``) unless ``fit`` gets ``X_val``/``y_val``.
    Loss: cross-entropy (``class_weight="balanced"``: weights n / (K n_k)) plus ``lambda1`` times the L0 surrogate
    of the open gates (+ ``lambda2`` times the similarity term). ``predict_proba`` is the members' mean softmax
    (n, K); :meth:`gates` their mean deterministic gates (n, 41). Defaults: the chapter's (chosen on validation
    splits of training cells, never on test folds).
    """

    def __init__(self, lambda1=0.01, lambda2=0.0, sigma=0.5, gate_hidden=(64,), hidden=(128, 64), dropout=0.3,
                 lr=3e-3, weight_decay=1e-4, epochs=300, batch_size=64, patience=40, class_weight=None,
                 n_ensemble=3, val_fraction=0.15, max_steps=None, mixed_precision=False, random_state=0,
                 device="cpu", progress=False):
        self.lambda1, self.lambda2, self.sigma = lambda1, lambda2, sigma
        self.gate_hidden, self.hidden, self.dropout = gate_hidden, hidden, dropout
        self.lr, self.weight_decay, self.epochs, self.batch_size = lr, weight_decay, epochs, batch_size
        self.patience, self.class_weight, self.n_ensemble, self.val_fraction = patience, class_weight, n_ensemble, \
            val_fraction
        self.max_steps, self.mixed_precision = max_steps, mixed_precision
        self.random_state, self.device, self.progress = random_state, device, progress

    def _module_config(self, X, n_classes):
        return {"n_features": int(X.shape[1]), "n_classes": int(n_classes), "gate_hidden": list(self.gate_hidden),
                "hidden": list(self.hidden), "sigma": float(self.sigma), "lambda1": float(self.lambda1),
                "lambda2": float(self.lambda2), "dropout": float(self.dropout), "n_ensemble": int(self.n_ensemble)}

    @staticmethod
    def _member(c):
        return LSPIN(c["n_features"], c["n_classes"], gate_hidden=tuple(c["gate_hidden"]), hidden=tuple(c["hidden"]),
                     sigma=c["sigma"], lambda1=c["lambda1"], lambda2=c["lambda2"], dropout=c["dropout"])

    def _make_module(self, c):
        return nn.ModuleList([self._member(c) for _ in range(c["n_ensemble"])])

    def _train_module(self, module, X, y, X_val, y_val):
        histories = []
        for k in range(len(module)):
            seed = int(self.random_state) + k
            if X_val is None:
                tr, va = _holdout(y, int(self.random_state) + 101 * k, self.val_fraction)
                train, val = (X[tr], y[tr]), (X[va], y[va])
            else:
                train, val = (X, y), (X_val, y_val)
            seed_everything(seed)  # each member's initial weights
            module[k] = member = self._member(self.module_config_)
            w = _class_weights(train[1], self.class_weight, self.module_config_["n_classes"])
            histories.append(fit_loop(
                member, train, val, train_step=member.train_step(nn.CrossEntropyLoss(weight=w)),
                val_step=lambda m, b, w=w: nn.functional.cross_entropy(m(b[0]), b[1], weight=w),
                **self._fit_kwargs(seed, "LSPIN")))
            member.cpu().eval()
        return histories

    def predict_proba(self, X) -> np.ndarray:
        """(n, K) mean over the members of their softmax probabilities (float32 sums, as float64)."""
        check_is_fitted(self, "module_")
        Xt = self._inputs(X)
        ps = [torch.softmax(torch.as_tensor(net_outputs(m, Xt, device="cpu")), 1).numpy() for m in self.module_]
        return np.mean(ps, axis=0).astype(np.float64)

    def decision_logits(self, X) -> np.ndarray:
        """(n, K) log of :meth:`predict_proba` (an ensemble has no single logit)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    @torch.no_grad()
    def gates(self, X) -> np.ndarray:
        """(n, n_features) deterministic gates in [0, 1] averaged over the members (the paper's Figure 9)."""
        check_is_fitted(self, "module_")
        Xt = self._inputs(X)
        return np.mean([m.eval().gates(Xt, noise=False).numpy() for m in self.module_], axis=0)


class MLPNetwork(_PreprocessedNetwork):
    """The LSPIN prediction network without gates (41 -> 128 -> 64 -> K, BatchNorm, ReLU, dropout), one network:
    what the gates add or cost. Trained with cross-entropy and Adam, early stopping on a stratified ``val_fraction``
    of the training cells (seed ``random_state``)."""

    def __init__(self, hidden=(128, 64), dropout=0.3, lr=3e-3, weight_decay=1e-4, epochs=300, batch_size=64,
                 patience=40, val_fraction=0.15, max_steps=None, mixed_precision=False, random_state=0, device="cpu",
                 progress=False):
        self.hidden, self.dropout, self.lr, self.weight_decay = hidden, dropout, lr, weight_decay
        self.epochs, self.batch_size, self.patience, self.val_fraction = epochs, batch_size, patience, val_fraction
        self.max_steps, self.mixed_precision = max_steps, mixed_precision
        self.random_state, self.device, self.progress = random_state, device, progress

    def _module_config(self, X, n_classes):
        return {"n_features": int(X.shape[1]), "n_classes": int(n_classes), "hidden": list(self.hidden),
                "dropout": float(self.dropout)}

    def _make_module(self, c):
        return nn.Sequential(mlp([c["n_features"], *c["hidden"]], dropout=c["dropout"]),
                             nn.Linear(c["hidden"][-1], c["n_classes"]))

    def _train_module(self, module, X, y, X_val, y_val):
        if X_val is None:
            tr, va = _holdout(y, int(self.random_state), self.val_fraction)
            X, y, X_val, y_val = X[tr], y[tr], X[va], y[va]
        return fit_loop(module, (X, y), (X_val, y_val), loss_fn=nn.CrossEntropyLoss(),
                        **self._fit_kwargs(self.random_state, "MLP"))


class DANNClassifier(_PreprocessedNetwork):
    """Domain-adversarial network (Ganin et al. 2016; :class:`neuro_lib.models.dann.DANN`) for tabular features,
    41 -> 64 -> 32 -> K with a domain head 32 -> 32 -> 2 behind the gradient reversal.

    ``fit(X, y, domain=None, labelled=None)``: ``domain`` (n,) 0 = source (mouse), 1 = target (human), default all
    source; ``labelled`` (n,) 1 where the label may be used (default all). ``target_labels=False`` hides the labels
    of the target cells (Ganin et al.'s unsupervised adaptation: they enter the domain loss only). ``domain_weight``
    weighs the domain loss: 0 gives the same network trained without the adversary (the pooled or source-only
    control). Early stopping: a ``val_fraction`` of the training cells stratified by domain x label (unlabelled cells
    apart), its loss on labelled cells only.
    """

    def __init__(self, hidden=(64, 32), dropout=0.2, domain_weight=1.0, target_labels=True, lr=1e-3,
                 weight_decay=1e-4, epochs=200, batch_size=64, patience=30, val_fraction=0.15, max_steps=None,
                 mixed_precision=False, random_state=0, device="cpu", progress=False):
        self.hidden, self.dropout, self.domain_weight, self.target_labels = hidden, dropout, domain_weight, \
            target_labels
        self.lr, self.weight_decay, self.epochs, self.batch_size = lr, weight_decay, epochs, batch_size
        self.patience, self.val_fraction, self.max_steps, self.mixed_precision = patience, val_fraction, max_steps, \
            mixed_precision
        self.random_state, self.device, self.progress = random_state, device, progress

    def fit(self, X, y, X_val=None, y_val=None, domain=None, labelled=None, domain_val=None, labelled_val=None):
        """Train on ``X`` (n, 41) and labels ``y`` (n,), with the optional side information above (and the same for
        validation cells ``X_val``, if given). Returns ``self``. Raises ``ValueError`` for a ``domain`` or
        ``labelled`` of another length than ``y``, or a ``domain`` value other than 0 and 1."""
        return self._fit(X, y, X_val, y_val, dict(domain=domain, labelled=labelled, domain_val=domain_val,
                                                  labelled_val=labelled_val))

    def _side(self, n, domain, labelled, what=""):
        d = np.zeros(n, np.int64) if domain is None else np.asarray(domain).astype(np.int64)
        lab = np.ones(n, np.int64) if labelled is None else np.asarray(labelled).astype(np.int64)
        if len(d) != n or len(lab) != n:
            raise ValueError(f"domain{what} and labelled{what} must have one value per cell ({n}), got {len(d)} and "
                             f"{len(lab)}")
        if not np.isin(d, (0, 1)).all():
            raise ValueError(f"domain{what} must be 0 (source) or 1 (target), got {sorted(set(d.tolist()))}")
        if not self.target_labels:
            lab = lab * (d == 0)
        return d, lab

    def _module_config(self, X, n_classes):
        return {"n_features": int(X.shape[1]), "n_classes": int(n_classes), "hidden": list(self.hidden),
                "dropout": float(self.dropout)}

    def _make_module(self, c):
        return DANN(c["n_features"], c["n_classes"], hidden=tuple(c["hidden"]), dropout=c["dropout"])

    def _train_module(self, module, X, y, X_val, y_val, domain=None, labelled=None, domain_val=None,
                      labelled_val=None):
        d, lab = self._side(len(y), domain, labelled)
        if X_val is None:
            strata = d * 10 + y * lab + 5 * (1 - lab)
            tr, va = _holdout(strata, int(self.random_state), self.val_fraction)
            train, val = (X[tr], y[tr], d[tr], lab[tr]), (X[va], y[va], d[va], lab[va])
        else:
            dv, labv = self._side(len(y_val), domain_val, labelled_val, "_val")
            train, val = (X, y, d, lab), (X_val, y_val, dv, labv)

        def val_step(m, b):
            x, yy, _, ll = b
            mask = ll.float()
            return (nn.functional.cross_entropy(m(x), yy, reduction="none") * mask).sum() / mask.sum().clamp_min(1)

        desc = "DANN" if self.domain_weight else "MLP"
        return fit_loop(module, train, val, train_step=module.train_step(domain_weight=float(self.domain_weight)),
                        val_step=val_step, **self._fit_kwargs(self.random_state, desc))

    @torch.no_grad()
    def features(self, X) -> np.ndarray:
        """(n, hidden[-1]) the feature extractor's representation of ``X`` (what the adversary makes
        species-invariant)."""
        check_is_fitted(self, "module_")
        return self.module_.eval().features(self._inputs(X)).numpy()


class SourceOnly(FittedDelegate, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on the source-domain cells only (``domain == source``): the no-adaptation control of the E/I
    task (mouse cells train, mouse and human cells are tested).

    ``fit(X, y, domain)``; after it ``estimator_`` (the fitted clone), ``classes_``, ``n_source_`` (cells used).
    Raises ``ValueError`` without ``domain`` or when no cell is of the source domain.
    """

    def __init__(self, estimator, source=0):
        self.estimator, self.source = estimator, source

    def fit(self, X, y, domain=None):
        if domain is None:
            raise ValueError("SourceOnly.fit needs domain= (one domain code per cell)")
        keep = np.flatnonzero(np.asarray(domain) == self.source)
        if not len(keep):
            raise ValueError(f"no cell of the source domain {self.source!r} among {len(y)}")
        X = X.iloc[keep] if hasattr(X, "iloc") else np.asarray(X)[keep]
        self.estimator_ = clone(self.estimator).fit(X, np.asarray(y)[keep])
        self.classes_ = self.estimator_.classes_
        self.n_source_ = len(keep)
        return self


class SVCScores(SVC):
    """scikit-learn's ``SVC`` whose ``predict_proba`` is the softmax of its one-vs-rest decision function: class
    scores, not calibrated probabilities, that rank cells for the AUC and whose argmax is the SVC's decision with
    scikit-learn's ``break_ties=True``. That is libsvm's one-vs-one vote (``predict``) except where the vote ties:
    on none of the test cells of the chapter's cross-validation and paper splits (5-class: 0 of 1,701, checked).

    Why not ``probability=True`` (Platt scaling, deprecated in scikit-learn 1.9): its probabilities come from an
    internal cross-validation and their argmax disagrees with the SVC's vote on 1-3 test cells per fold here, so the
    baseline would no longer be the SVC it is said to be.
    """

    def predict_proba(self, X) -> np.ndarray:
        d = np.asarray(self.decision_function(X), dtype=float)
        if d.ndim == 1:
            d = np.c_[-d / 2, d / 2]
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)


def baselines(random_state: int = 0) -> dict:
    """The scikit-learn/XGBoost baselines with default hyperparameters, each behind median imputation and z-scoring
    fitted on its training cells: ``logistic_regression``, ``svc`` (RBF, :class:`SVCScores`), ``random_forest``,
    ``xgboost``. Only the random forest's result depends on ``random_state`` (the others are deterministic: lbfgs,
    libsvm, and XGBoost without subsampling)."""
    from xgboost import XGBClassifier

    def pipe(est):
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), est)

    return {"logistic_regression": pipe(LogisticRegression(max_iter=5000)),
            "svc": pipe(SVCScores(random_state=random_state)),
            "random_forest": pipe(RandomForestClassifier(random_state=random_state, n_jobs=1)),
            "xgboost": pipe(XGBClassifier(random_state=random_state, n_jobs=1, verbosity=0))}


def parameter_count(estimator) -> int:
    """Trainable parameters of a fitted network estimator (all members of an ensemble)."""
    check_is_fitted(estimator, "module_")
    return int(sum(p.numel() for p in estimator.module_.parameters() if p.requires_grad))
