"""The book's networks as scikit-learn classifiers: :class:`TorchClassifier`, the base class they share.

Every model of the book is a scikit-learn estimator (``fit(X, y)``, ``predict``, ``predict_proba``,
``random_state``, ``get_params``/``set_params``), so the same object is cross-validated by
:func:`neuro_lib.evaluation.cross_validate`, compared with any scikit-learn model, and trained on all cells by
``python -m neuro_lib.predict`` to classify a user's own files. Torch lives inside.

A subclass (e.g. ``neuro_lib.ephys.LSPINClassifier``) provides

* ``__init__`` taking every hyperparameter as a keyword with a default and storing it unchanged (the scikit-learn
  rule that makes ``clone`` and ``get_params`` work), including ``random_state`` (int), ``device`` (``"cpu"``,
  ``"cuda"``, ``"auto"``) and ``progress`` (bool);
* ``_module_config(X, n_classes) -> dict``: the JSON-able arguments of its network, from the training inputs;
* ``_make_module(config) -> nn.Module``: the network (untrained);
* optionally ``_train_module(module, X, y, X_val, y_val) -> History`` (default: :func:`neuro_lib.training.fit` with
  cross-entropy, Adam and the estimator's ``epochs``, ``lr``, ``batch_size``, ``patience``, ``weight_decay``;
  early stopping on ``(X_val, y_val)`` when given), ``_inputs(X)`` (default: a float32 tensor) and
  ``_logits(module, X) -> (n, n_classes) array``.

``y`` may hold any labels; ``classes_`` is ``np.unique(y)`` and the network sees their positions. ``fit`` seeds
Python, NumPy and torch with ``random_state`` before building the network, so the same ``random_state`` gives the
same weights on the same machine. :meth:`TorchClassifier.get_state` / :meth:`TorchClassifier.from_state` turn a
fitted estimator into tensors and plain values (for :func:`neuro_lib.cache.cached` with ``kind="pt"``), never a
pickle.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["TorchClassifier", "encode_labels", "FittedDelegate"]


class FittedDelegate:
    """Mixin of a meta-estimator whose ``fit`` sets ``estimator_`` (a fitted classifier) and ``classes_``:
    ``predict_proba`` and ``predict`` are the fitted estimator's (raise ``NotFittedError`` before ``fit``)."""

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)


def encode_labels(classes: np.ndarray, y, *, what: str = "y") -> np.ndarray:
    """Positions of the labels ``y`` in ``classes`` (int64). Raises ``ValueError`` naming the first label that is
    not one of ``classes``."""
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    bad = classes[idx] != y
    if np.any(bad):
        raise ValueError(f"{what} holds label {y[bad][0]!r}, which is not one of the training classes "
                         f"{list(classes)}")
    return idx.astype(np.int64)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base class of the book's torch classifiers (see the module docstring for what a subclass provides).

    After ``fit``: ``classes_`` (k,), ``module_`` (the trained ``nn.Module``, on the CPU, in eval mode),
    ``module_config_`` (its arguments), ``history_`` (:class:`neuro_lib.training.History` or a list of them).
    """

    # ---- what subclasses implement -------------------------------------------------------------------------
    def _module_config(self, X, n_classes: int) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_module(self, config: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def _inputs(self, X):
        import torch

        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    def _train_module(self, module, X, y, X_val, y_val):
        from torch import nn

        from .training import fit

        val = (self._inputs(X_val), y_val) if X_val is not None else None
        return fit(module, (self._inputs(X), y), val, loss_fn=nn.CrossEntropyLoss(),
                   epochs=getattr(self, "epochs", 100), lr=getattr(self, "lr", 1e-3),
                   batch_size=getattr(self, "batch_size", 64), patience=getattr(self, "patience", None),
                   weight_decay=getattr(self, "weight_decay", 0.0), seed=self.random_state, device=self._device(),
                   progress=getattr(self, "progress", False), desc=type(self).__name__)

    def _logits(self, module, X) -> np.ndarray:
        from .training import predict

        return predict(module, self._inputs(X), device="cpu")

    # ---- the scikit-learn interface ------------------------------------------------------------------------
    def _device(self) -> str:
        from .training import resolve_device

        return str(resolve_device(getattr(self, "device", "cpu")))

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``X`` (n, ...) with labels ``y`` (n,); early stopping on ``(X_val, y_val)`` when the subclass
        uses them. Returns ``self``. Raises ``ValueError`` if ``X`` and ``y`` differ in length, ``y`` has fewer
        than two classes, or ``y_val`` holds a label ``y`` lacks."""
        from .training import seed_everything

        y_enc, yv = self._set_classes(X, y, y_val)
        seed_everything(int(self.random_state))
        self.module_config_ = self._module_config(X, len(self.classes_))
        module = self._make_module(self.module_config_)
        self.history_ = self._train_module(module, X, y_enc, X_val, yv)
        self.module_ = module.cpu().eval()
        return self

    def _set_classes(self, X, y, y_val=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Check ``X``/``y`` lengths and that ``y`` has two classes or more; set ``classes_``; return ``y`` and
        ``y_val`` encoded as class indices (``y_val`` None stays None). Raises ``ValueError`` as :meth:`fit` says."""
        y = np.asarray(y)
        if hasattr(X, "__len__") and len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__}.fit needs at least two classes in y, got {list(self.classes_)}")
        yv = None if y_val is None else encode_labels(self.classes_, y_val, what="y_val")
        return encode_labels(self.classes_, y), yv

    def decision_logits(self, X) -> np.ndarray:
        """(n, k) class logits of the trained network."""
        check_is_fitted(self, "module_")
        return np.asarray(self._logits(self.module_, X), dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """(n, k) class probabilities (softmax of the logits), columns in ``classes_`` order."""
        z = self.decision_logits(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """(n,) the most probable class of each sample (labels as in ``y``)."""
        return self.classes_[self.decision_logits(X).argmax(1)]

    # ---- saving without pickles ----------------------------------------------------------------------------
    def get_state(self) -> dict:
        """A fitted estimator as plain values and tensors: ``{"params", "classes", "module_config", "module"}``
        (loadable with ``torch.load(weights_only=True)``). Raises ``NotFittedError`` before ``fit``."""
        check_is_fitted(self, "module_")
        classes = self.classes_.tolist()
        return {"estimator": type(self).__name__, "params": self.get_params(deep=False), "classes": classes,
                "module_config": self.module_config_,
                "module": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()}}

    @classmethod
    def from_state(cls, state: dict) -> TorchClassifier:
        """Rebuild a fitted estimator from :meth:`get_state`. Raises ``ValueError`` if the state is of another
        class."""
        if state.get("estimator") != cls.__name__:
            raise ValueError(f"state is of {state.get('estimator')!r}, not {cls.__name__}")
        est = cls(**state["params"])
        est.classes_ = np.asarray(state["classes"])
        est.module_config_ = state["module_config"]
        module = est._make_module(est.module_config_)
        module.load_state_dict(state["module"])
        est.module_ = module.cpu().eval()
        est.history_ = None
        return est
