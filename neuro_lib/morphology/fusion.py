"""The "Multi" model of Zhang et al. 2021 as scikit-learn estimators: branches fitted on the training cells, a fusion
head fitted on cells the branches did not fit.

Zhang et al. (2021, Sci Rep 11:7291, Figure 1 and Methods) concatenate the 512-d feature of the ResNet18 branch and
the 128-d feature of the Tree-LSTM branch and classify the 640-d vector with a 3-layer fully connected network,
trained end to end. Training a ResNet18 and a Tree-LSTM jointly on every split is beyond a CPU budget, so both
estimators here fuse in two stages: ``fit(X, y, X_val, y_val)`` fits every branch on ``(X, y)`` (early stopping on
the validation cells), then freezes them and fits the head.

* :class:`LateFusion` (the chapter's fusion): an L2-regularised logistic regression on the branches' class logits
  (each branch's centred per cell, so only their differences count), fitted on the **validation** cells.
* :class:`MLPFusion` (the paper's head): :class:`~neuro_lib.models.fusion.MLPHead` on the branches' concatenated,
  z-scored features, trained on the validation cells (``head_on="val"``) or on the training cells with early
  stopping on the validation cells (``head_on="train"``).

Why the validation cells: a branch fits its own training cells better than new cells, so its features of training
cells are more separable than those of any test cell, and a head trained on them learns to trust whichever branch
overfits most; the validation cells only chose the branches' early-stopping epoch. Per split there are about 120 of
them: too few for a 640-d input, enough to learn how far to trust each branch from ``2 x n_classes`` logits.

``branches`` is a list of ``(name, estimator)`` (as scikit-learn's ``StackingClassifier``), each usually an
:class:`~neuro_lib.morphology.views.OnView` of a :class:`~neuro_lib.morphology.views.Views`; ``get_params`` exposes
``<name>__<param>``, so the cross-validation driver seeds every branch. With the branches' ``cache=True`` a fusion
reuses the branch fits that the single models of the same split made.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ..estimators import TorchClassifier
from .networks import _Network

__all__ = ["LateFusion", "MLPFusion"]


class _Branches:
    """``get_params`` / ``set_params`` through a list of ``(name, estimator)`` branches."""

    def get_params(self, deep: bool = True) -> dict:
        out = super().get_params(deep=deep)
        if deep:
            for name, est in self.branches:
                out[name] = est
                out.update({f"{name}__{k}": v for k, v in est.get_params(deep=True).items()})
        return out

    def set_params(self, **params):
        if "branches" in params:
            self.branches = params.pop("branches")
        branches = list(self.branches)
        for i, (name, est) in enumerate(branches):
            if name in params:
                est = params.pop(name)
            sub = {k[len(name) + 2:]: params.pop(k) for k in list(params) if k.startswith(f"{name}__")}
            if sub:
                est.set_params(**sub)
            branches[i] = (name, est)
        self.branches = branches
        return super().set_params(**params)

    def _fit_branches(self, X, y, X_val, y_val) -> None:
        if X_val is None or y_val is None or len(y_val) == 0:
            raise ValueError(f"{type(self).__name__}.fit needs validation cells (X_val, y_val): its head learns from "
                             "cells the branches were not fitted to")
        self.branches_ = [(name, clone(est).fit(X, y, X_val=X_val, y_val=y_val)) for name, est in self.branches]

    def _branch_features(self, X) -> np.ndarray:
        """(n, sum of branch feature sizes) float32: the branches' learnt features side by side."""
        return np.concatenate([np.asarray(est.transform(X), dtype=np.float32) for _, est in self.branches_], axis=1)


class LateFusion(_Branches, ClassifierMixin, BaseEstimator):
    """Late fusion of fitted branches: logistic regression (scikit-learn, inverse strength ``C``) on the branches'
    centred class logits, fitted on the validation cells (see the module docstring).

    ``fit(X, y, X_val, y_val)`` raises ``ValueError`` without validation cells. ``random_state`` seeds nothing here
    (the head is deterministic); the driver seeds the branches through their own ``random_state``."""

    def __init__(self, branches=(), C: float = 1.0, random_state: int = 0):
        self.branches = branches
        self.C = C
        self.random_state = random_state

    def _logit_blocks(self, X) -> np.ndarray:
        blocks = []
        for _, est in self.branches_:
            z = np.asarray(est.decision_logits(X), dtype=float)
            blocks.append(z - z.mean(1, keepdims=True))
        return np.concatenate(blocks, axis=1)

    def fit(self, X, y, X_val=None, y_val=None):
        from sklearn.linear_model import LogisticRegression

        self.classes_ = np.unique(np.asarray(y))
        self._fit_branches(X, y, X_val, y_val)
        self.head_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._logit_blocks(X_val), np.asarray(y_val))
        return self

    def transform(self, X) -> np.ndarray:
        """(n, n_branches x n_classes) the centred branch logits the head reads."""
        return self._logit_blocks(X).astype(np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """(n, k) probabilities in ``classes_`` order (0 for a class the validation cells lacked)."""
        Z = self._logit_blocks(X)
        p = np.zeros((len(Z), len(self.classes_)))
        p[:, np.searchsorted(self.classes_, self.head_.classes_)] = self.head_.predict_proba(Z)
        return p

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


class MLPFusion(_Branches, TorchClassifier):
    """The paper's 3-layer head (:class:`~neuro_lib.models.fusion.MLPHead`, dropout ``dropout``) on the branches'
    concatenated features, z-scored with the statistics of the cells it may learn from (training and validation
    cells for ``head_on="val"``, training cells for ``"train"``), trained with Adam (``lr``, batches of
    ``batch_size``) on

    ``head_on="val"``: the validation cells only, for ``epochs`` (default 100) with ``weight_decay`` (default 1e-3)
    and no early stopping; ``head_on="train"``: the training cells (default 200 epochs, weight decay 1e-4), early
    stopping after ``patience`` epochs on the validation cells; at most ``max_steps`` optimisation steps of the head
    when not ``None`` (the branches carry their own). Raises ``ValueError`` for another ``head_on`` or
    without validation cells. ``transform(X)`` gives the concatenated unscaled features."""

    def __init__(self, branches=(), head_on: str = "val", epochs: int | None = None, lr: float = 1e-3,
                 batch_size: int = 64, patience: int | None = 30, weight_decay: float | None = None,
                 dropout: float = 0.3, max_steps: int | None = None, random_state: int = 0, device: str = "cpu",
                 progress: bool = False):
        self.branches, self.head_on, self.epochs, self.lr, self.batch_size = branches, head_on, epochs, lr, batch_size
        self.patience, self.weight_decay, self.dropout, self.max_steps = patience, weight_decay, dropout, max_steps
        self.random_state, self.device, self.progress = random_state, device, progress

    def fit(self, X, y, X_val=None, y_val=None):
        if self.head_on not in ("val", "train"):
            raise ValueError(f"head_on must be 'val' or 'train', got {self.head_on!r}")
        self._fit_branches(X, y, X_val, y_val)
        Z, Zv = self._branch_features(X), self._branch_features(X_val)
        stats = np.concatenate([Z, Zv]) if self.head_on == "val" else Z
        self.mean_, self.scale_ = stats.mean(0), stats.std(0) + 1e-6
        return super().fit(self._z(Z), y, self._z(Zv), y_val)

    def _z(self, Z) -> np.ndarray:
        return ((Z - self.mean_) / self.scale_).astype(np.float32)

    def _module_config(self, X, n_classes: int) -> dict:
        return {"in_features": int(X.shape[1]), "n_classes": int(n_classes), "dropout": float(self.dropout)}

    def _make_module(self, c: dict):
        from ..models.fusion import MLPHead

        return MLPHead(c["in_features"], c["n_classes"], dropout=c["dropout"])

    def _train_module(self, module, X, y, X_val, y_val):
        import torch
        from torch import nn

        from ..training import fit

        on_val = self.head_on == "val"
        Xt, yt = torch.from_numpy(X), torch.as_tensor(y)
        Xv, yv = torch.from_numpy(X_val), torch.as_tensor(y_val)
        epochs = self.epochs if self.epochs is not None else (100 if on_val else 200)
        wd = self.weight_decay if self.weight_decay is not None else (1e-3 if on_val else 1e-4)
        train, es = ((Xv, yv), None) if on_val else ((Xt, yt), (Xv, yv))
        return fit(module, train, es, loss_fn=nn.CrossEntropyLoss(), epochs=epochs, lr=self.lr,
                   batch_size=self.batch_size, patience=None if on_val else self.patience, seed=self.random_state,
                   device=self._device(), weight_decay=wd, progress=self.progress, desc="fusion head",
                   max_steps=self.max_steps)

    def _logits(self, module, X) -> np.ndarray:
        import torch

        from ..training import predict

        return predict(module, torch.from_numpy(self._z(self._branch_features(X))), device="cpu")

    transform = _Branches._branch_features
    _logits32 = _Network._logits32
    decision_logits = _Network.decision_logits
    predict_proba = _Network.predict_proba

    def get_state(self):
        raise NotImplementedError("MLPFusion is not cached as a whole: its branches are (cache=True), and its head "
                                  "trains in seconds")
