"""The MEA CNN of Buccino et al. (2018), Section II-D, as a scikit-learn classifier, and a fit cache for it.

:class:`MEACNNClassifier` is a :class:`neuro_lib.estimators.TorchClassifier` around
:class:`neuro_lib.models.mea_cnn.MEACNN`: ``fit(X, y, X_val, y_val)`` standardises each input channel with the
training spikes' mean and sd (inside the network, so a fitted model takes raw uV and ms), then trains with Adam on
the cross-entropy through :func:`neuro_lib.training.fit`, keeping the epoch with the best *validation accuracy* and
stopping after ``patience`` epochs without improvement. ``X`` is ``(n, 4, 10, 10)`` feature images
(:data:`~neuro_lib.mea.features.FEATURE_NAMES`: amplitude uV, width ms, negative peak uV, trough delay ms) and
``channels`` picks the network's inputs: ``(0, 1)`` the paper's amplitude and width, ``(0, 1, 2, 3)`` our
four-channel network. Every model of the chapter therefore takes the same ``X``.

:class:`CachedFit` wraps such a classifier so that a fit with the same hyperparameters on the same data (compared by
content: the bytes of ``X``, ``y``, ``X_val``, ``y_val``) is read from :func:`neuro_lib.cache.cached` (kind ``"pt"``,
:meth:`~neuro_lib.estimators.TorchClassifier.get_state`) instead of trained again: the pages share trained networks
(``04_generalisation`` reuses ``03_classify``'s) and a rebuild of the book does not retrain. The key also holds the
resolved device, the torch thread count and the source of the modules that train (this one, the network, the fit
loop, the estimator base class), so changing any of them retrains.
"""
from __future__ import annotations

import hashlib

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ..estimators import FittedDelegate, TorchClassifier

__all__ = ["MEACNNClassifier", "CachedFit", "CHANNELS"]

#: The input channels of the chapter's two networks (indices into the four feature images).
CHANNELS = {"cnn": (0, 1), "cnn_4ch": (0, 1, 2, 3)}


class MEACNNClassifier(TorchClassifier):
    """The paper's CNN on per-site feature images (see the module docstring).

    Parameters: ``channels`` (indices of the feature images fed to the network), ``epochs`` (at most), ``lr``
    (Adam), ``batch_size``, ``patience`` (epochs without a better validation accuracy before stopping; ``None``
    never stops), ``dropout`` (probability of dropping a unit of the dense layer; the paper's "0.7" read as a keep
    probability), ``random_state``, ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``), ``progress`` (a bar per fit),
    ``max_steps`` (``None``, or a cap on the optimisation steps in all, :func:`neuro_lib.training.fit`'s: the
    ``gpu_profile`` tests run the gpu configuration on a CPU with 2).

    ``fit`` / ``predict_proba`` take ``X`` (n, n_features >= max(channels) + 1, side, side), any real dtype; raise
    ``ValueError`` naming the expected shape otherwise.
    """

    def __init__(self, channels=(0, 1), epochs: int = 30, lr: float = 1e-3, batch_size: int = 128,
                 patience: int | None = 8, dropout: float = 0.3, random_state: int = 0, device: str = "auto",
                 progress: bool = False, max_steps: int | None = None):
        self.channels = channels
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patience = patience
        self.dropout = dropout
        self.random_state = random_state
        self.device = device
        self.progress = progress
        self.max_steps = max_steps

    def _array(self, X) -> np.ndarray:
        """The chosen channels of ``X`` as a C-contiguous float32 array (n, len(channels), side, side)."""
        X = np.asarray(X)
        ch = [int(c) for c in self.channels]
        if X.ndim != 4 or X.shape[2] != X.shape[3] or X.shape[1] <= max(ch):
            raise ValueError(f"MEACNNClassifier expects feature images (n, features > {max(ch)}, side, side), got "
                             f"an array of shape {X.shape}")
        return np.ascontiguousarray(X[:, ch], dtype=np.float32)

    def _module_config(self, X, n_classes: int) -> dict:
        return {"n_classes": int(n_classes), "in_channels": len(self.channels), "side": int(np.shape(X)[-1]),
                "dropout": float(self.dropout)}

    def _make_module(self, config: dict):
        from ..models.mea_cnn import MEACNN

        return MEACNN(**config)

    def _inputs(self, X):
        import torch

        return torch.from_numpy(self._array(X))

    def _train_module(self, module, X, y, X_val, y_val):
        import torch
        from torch import nn

        from ..training import fit, predict

        Xtr = self._array(X)
        module.fit_scaler(Xtr)
        val, val_score = None, None
        if X_val is not None and len(X_val):
            Xv = self._array(X_val)
            Xv_t, yv = torch.from_numpy(Xv), np.asarray(y_val)
            val = (Xv, yv)

            def val_score(m):
                return float((predict(m, Xv_t).argmax(1) == yv).mean())

        return fit(module, (Xtr, np.asarray(y, dtype=np.int64)), val, loss_fn=nn.CrossEntropyLoss(),
                   epochs=int(self.epochs), lr=self.lr, batch_size=int(self.batch_size), seed=int(self.random_state),
                   device=self._device(), patience=self.patience, val_score=val_score, progress=self.progress,
                   desc="MEA CNN", max_steps=self.max_steps)


def _digest(a) -> dict | None:
    if a is None:
        return None
    a = np.ascontiguousarray(np.asarray(a))
    return {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "shape": list(a.shape), "dtype": str(a.dtype)}


class CachedFit(FittedDelegate, ClassifierMixin, BaseEstimator):
    """``estimator`` (a :class:`~neuro_lib.estimators.TorchClassifier`) fitted once per exact training data and
    hyperparameters, then read from the cache (see the module docstring).

    ``namespace`` and ``name`` place the file (``<cache>/<namespace>/<name>-<digest>.pt``). ``random_state`` and the
    other hyperparameters are the wrapped estimator's (``estimator__random_state``: what
    :func:`neuro_lib.evaluation.cross_validate` sets per split). After ``fit``: ``estimator_`` (the fitted
    classifier), ``classes_``, ``from_cache_`` (whether it was read rather than trained).
    """

    def __init__(self, estimator, namespace: str = "mea/models", name: str = "cnn"):
        self.estimator = estimator
        self.namespace = namespace
        self.name = name

    def cache_key(self, X, y, X_val=None, y_val=None) -> dict:
        """What the fit depends on: the estimator's class and hyperparameters (not ``progress``), the resolved
        device, torch's thread count and the data's digests."""
        import torch

        est = self.estimator
        params = {k: v for k, v in est.get_params(deep=False).items() if k not in ("progress", "device")}
        return {"estimator": type(est).__name__, "params": params, "device": est._device(),
                "threads": torch.get_num_threads(),
                "data": {"X": _digest(X), "y": _digest(y), "X_val": _digest(X_val), "y_val": _digest(y_val)}}

    def fit(self, X, y, X_val=None, y_val=None):
        """Fit (or read the cached fit of) a clone of ``estimator`` on ``X``, ``y`` with validation data
        ``X_val``, ``y_val``; returns ``self``."""
        from .. import cache

        est = clone(self.estimator)
        fitted = []

        def compute():
            fitted.append(est.fit(X, y, X_val=X_val, y_val=y_val))
            return est.get_state()

        state = cache.cached(self.namespace, self.cache_key(X, y, X_val, y_val), compute, kind="pt", name=self.name,
                             code=(type(est), "neuro_lib.models.mea_cnn", "neuro_lib.training",
                                   "neuro_lib.estimators"),
                             packages=("torch",))
        self.estimator_ = fitted[0] if fitted else type(est).from_state(state)
        self.from_cache_ = not fitted
        self.classes_ = self.estimator_.classes_
        return self
