"""The chapter's three networks as scikit-learn classifiers (Zhang et al. 2021, Table 2), subclasses of
:class:`neuro_lib.estimators.TorchClassifier`:

==========================  ==================================================  ===================================
estimator                   ``X``                                               network (``neuro_lib.models``)
==========================  ==================================================  ===================================
:class:`ProjectionCNN`      (n, 3, S, S) float32 projections (XY, XZ, YZ)       :class:`~neuro_lib.models.resnet.
                                                                                ProjectionResNet` (ResNet18)
:class:`LSTMClassifier`     a list of n reduced trees                           :class:`~neuro_lib.models.lstm.
                            (:class:`~neuro_lib.morphology.tree.ReducedTree`);  SequenceLSTM` (2 layers, 128)
                            the LSTM reads each tree's pre-order node
                            sequence (:func:`~neuro_lib.morphology.tree.
                            node_sequence`, at most ``max_len`` steps)
:class:`TreeLSTMClassifier` a list of n reduced trees                           :class:`~neuro_lib.models.tree_lstm.
                                                                                TreeLSTMNet` (Child-Sum, 128)
==========================  ==================================================  ===================================

(X is the trees themselves, not an index into a bank: a list is what the cross-validation driver slices and what a
user has for new cells; the estimators build the index banks the fit loop needs internally.)

``fit(X, y, X_val=None, y_val=None)`` trains with Adam and cross-entropy (:func:`neuro_lib.training.fit`), early
stopping on the validation cells when given (the best epoch's weights are kept), at most ``max_steps`` optimisation
steps in all when it is not ``None`` (the CNN's autoencoder pretraining too; the ``gpu_profile`` tests run the paper's
configuration on the CPU with 2); ``predict_proba`` is the softmax of
the logits in float32, as the network computes it; ``transform(X)`` gives each cell's learnt feature (512-d CNN,
128-d LSTM / Tree-LSTM: the inputs of the fusion models and the t-SNE page). After fitting, ``history_`` is the
:class:`~neuro_lib.training.History` of the fit.

``cache=True`` keeps every fit in :func:`neuro_lib.cache.cached` (kind ``"pt"``: weights and plain values, never a
pickle), keyed by the estimator's parameters, the training and validation data (their sha256), the device, the torch
thread count and the source of the code that trains it; a second fit with the same key is read back, so the pages
that train the same branch on the same split (CNN, sequence, fusion, t-SNE pages) and ``neuro_lib.predict`` share
one training.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from .. import cache as _cache
from ..estimators import TorchClassifier
from ..models.resnet import PAPER_LR_CONV, PAPER_LR_HEAD

__all__ = ["ProjectionCNN", "LSTMClassifier", "TreeLSTMClassifier", "data_digest"]

#: modules whose source a cached fit depends on (besides this one)
_FIT_CODE = ("neuro_lib.estimators", "neuro_lib.training", "neuro_lib.models.resnet", "neuro_lib.models.lstm",
             "neuro_lib.models.tree_lstm", "neuro_lib.morphology.projections",
             "neuro_lib.morphology.tree")
_NOT_KEYED = ("device", "progress", "cache")


def data_digest(*parts) -> str:
    """sha256 (hex) of arrays, lists of arrays or of reduced trees (their ``features``, ``parent``, ``height``),
    label arrays and ``None``s, in order: what identifies the data of a fit in its cache key."""
    h = hashlib.sha256()

    def add(x):
        if x is None:
            h.update(b"none")
        elif isinstance(x, (list, tuple)):
            h.update(f"list{len(x)}".encode())
            for v in x:
                add(v)
        elif hasattr(x, "parent") and hasattr(x, "features"):
            add(x.features), add(x.parent), add(getattr(x, "height", None))
        else:
            a = np.asarray(x)
            if a.dtype.kind in "OUS":
                a = np.array([str(v) for v in a.ravel()])
                h.update("\x1f".join(a).encode())
            else:
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())

    for p in parts:
        add(p)
    return h.hexdigest()


class _Network(TorchClassifier):
    """What the chapter's networks share: the fit cache, float32 softmax, the history kept in the state."""

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``X`` (n, ...) with labels ``y`` (n,), early stopping on ``(X_val, y_val)`` when given (see
        the module docstring for ``X``); read back from the cache instead when ``cache`` and the same fit is
        there. Returns ``self``. Raises ``ValueError`` (see :meth:`TorchClassifier.fit`)."""
        if not getattr(self, "cache", False):
            return super().fit(X, y, X_val, y_val)
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in _NOT_KEYED}
        key = {"estimator": type(self).__name__, "params": params, "device": self._device().split(":")[0],
               "threads": torch.get_num_threads(), "data": data_digest(X, np.asarray(y), X_val,
                                                                         None if y_val is None else np.asarray(y_val))}
        state = _cache.cached("morphology/fits", key, lambda: super(_Network, self).fit(X, y, X_val, y_val).get_state(),
                              kind="pt", name=type(self).__name__, code=_FIT_CODE, packages=("torch", "torchvision"))
        self._set_state(state)
        return self

    # ---- state with history (for the cache) ------------------------------------------------------------------
    def get_state(self) -> dict:
        state = super().get_state()
        hist = getattr(self, "history_", None)
        state["history"] = hist.as_dict() | {"stopped_early": hist.stopped_early} if hist is not None else None
        pre = getattr(self, "pretrain_history_", None)
        state["pretrain_history"] = pre.as_dict() if pre is not None else None
        return state

    def _set_state(self, state: dict) -> None:
        from ..training import History

        self.classes_ = np.asarray(state["classes"])
        self.module_config_ = state["module_config"]
        module = self._make_module(self.module_config_)
        module.load_state_dict(state["module"])
        self.module_ = module.cpu().eval()
        self.history_ = History(**state["history"]) if state.get("history") else None
        self.pretrain_history_ = History(**state["pretrain_history"]) if state.get("pretrain_history") else None

    @classmethod
    def from_state(cls, state: dict):
        if state.get("estimator") != cls.__name__:
            raise ValueError(f"state is of {state.get('estimator')!r}, not {cls.__name__}")
        est = cls(**state["params"])
        est._set_state(state)
        return est

    # ---- outputs ---------------------------------------------------------------------------------------------
    def _logits32(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "module_")
        return np.asarray(self._logits(self.module_, X), dtype=np.float32)

    def decision_logits(self, X) -> np.ndarray:
        """(n, k) class logits (float32 values as float64)."""
        return self._logits32(X).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """(n, k) class probabilities: the softmax of the logits in float32 (as the network computes it), columns in
        ``classes_`` order."""
        return torch.softmax(torch.as_tensor(self._logits32(X)), 1).numpy().astype(np.float64)


class _Indexed(nn.Module):
    """``net`` called with a (B,) index tensor into ``bank`` (``bank.batch(idx)`` builds its input), so that the fit
    loop, which batches tensors, can train a network whose inputs are trees or sequences."""

    def __init__(self, net: nn.Module, bank):
        super().__init__()
        self.net, self.bank = net, bank

    def forward(self, idx):
        return self.net(self.bank.batch(idx))


def _fit_indexed(est, net, bank, y, n_train: int, y_val):
    """Train ``net`` on the first ``n_train`` items of ``bank`` (then validate on the rest) with the estimator's
    ``epochs``, ``lr``, ``batch_size``, ``patience``, ``weight_decay`` and ``random_state``; returns the History."""
    from ..training import fit

    model = _Indexed(net, bank)
    train = (torch.as_tensor(np.arange(n_train)), torch.as_tensor(y))
    val = None if y_val is None else (torch.as_tensor(n_train + np.arange(len(y_val))), torch.as_tensor(y_val))
    return fit(model, train, val, loss_fn=nn.CrossEntropyLoss(), epochs=est.epochs, lr=est.lr,
               batch_size=est.batch_size, patience=est.patience, seed=est.random_state, device=est._device(),
               weight_decay=est.weight_decay, progress=est.progress, desc=type(est).__name__,
               max_steps=est.max_steps)


def _batched(fn, items, batch_size: int) -> np.ndarray:
    """``fn(items[i:i + batch_size])`` (a tensor) over ``items`` in order, concatenated as a float32 array."""
    with torch.no_grad():
        out = [fn(items[i:i + batch_size]).detach().cpu() for i in range(0, len(items), batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


class ProjectionCNN(_Network):
    """ResNet18 on the three projections of each cell (Zhang et al. 2021, "CNN branch"; X (n, 3, S, S)).

    Training (per fit): optional autoencoder pretraining of the backbone for ``pretrain_epochs`` on the training and
    validation cells' images, labels unused (:func:`~neuro_lib.models.resnet.pretrain_autoencoder`; the paper
    pretrained on unlabelled CASIA images); then Adam with ``lr_conv`` for the convolutional backbone and ``lr_head``
    for the last layer (Table 2: 1e-5 and 1e-4), at most ``epochs``, batches of ``batch_size``, a fresh random
    rotation (uniform in +-``degrees``), zoom and shift of every training batch when ``augment``
    (:func:`~neuro_lib.morphology.projections.augment_images`), early stopping after ``patience`` epochs without a
    better validation accuracy (the best epoch's weights are kept). ``pretrain_history_`` is the autoencoder's
    History (or ``None``).
    """

    def __init__(self, epochs: int = 10, lr_conv: float = PAPER_LR_CONV, lr_head: float = PAPER_LR_HEAD,
                 batch_size: int = 32, augment: bool = True, degrees: float = 180.0, patience: int | None = None,
                 pretrain_epochs: int = 0, dropout: float = 0.0, max_steps: int | None = None, random_state: int = 0,
                 device: str = "cpu", progress: bool = False, cache: bool = False):
        self.epochs, self.lr_conv, self.lr_head, self.batch_size = epochs, lr_conv, lr_head, batch_size
        self.max_steps = max_steps
        self.augment, self.degrees, self.patience, self.pretrain_epochs = augment, degrees, patience, pretrain_epochs
        self.dropout, self.random_state, self.device, self.progress, self.cache = (dropout, random_state, device,
                                                                                  progress, cache)

    def _module_config(self, X, n_classes: int) -> dict:
        return {"n_classes": int(n_classes), "dropout": float(self.dropout)}

    def _make_module(self, config: dict):
        from ..models.resnet import ProjectionResNet

        return ProjectionResNet(config["n_classes"], dropout=config["dropout"])

    def _train_module(self, module, X, y, X_val, y_val):
        from ..models.resnet import param_groups, pretrain_autoencoder
        from ..training import fit, predict
        from .projections import augment_images

        seed, device = int(self.random_state), self._device()
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        Xv = torch.as_tensor(np.asarray(X_val if X_val is not None else X[:0]), dtype=torch.float32)
        y = torch.as_tensor(np.asarray(y), dtype=torch.long)
        yv = torch.as_tensor(np.asarray(y_val if y_val is not None else []), dtype=torch.long)
        self.pretrain_history_ = None
        if self.pretrain_epochs:  # the backbone learns to reconstruct the images; its last layer stays as built
            self.pretrain_history_ = pretrain_autoencoder(module, torch.cat([X, Xv]), epochs=self.pretrain_epochs,
                                                          seed=seed, device=device, progress=False,
                                                          max_steps=self.max_steps)
        opt = torch.optim.Adam(param_groups(module, self.lr_conv, self.lr_head))
        gen = torch.Generator().manual_seed(seed + 1)
        ce = nn.CrossEntropyLoss()

        def step(m, batch, progress_):
            xb, yb = batch
            if self.augment:
                xb = augment_images(xb, degrees=self.degrees, generator=gen)
            return ce(m(xb), yb)

        batch_size = self.batch_size
        if len(X) % batch_size == 1:  # a last batch of one image cannot be batch-normalised in training mode
            batch_size += 1

        def val_acc(m):
            out = predict(m, Xv, batch_size=256, device=next(m.parameters()).device)
            return float((out.argmax(1) == yv.numpy()).mean())

        has_val = len(yv) > 0
        return fit(module, (X, y), (Xv, yv) if has_val else None, train_step=step,
                   val_step=lambda m, b: ce(m(b[0]), b[1]), val_score=val_acc if has_val else None,
                   epochs=self.epochs, batch_size=batch_size, seed=seed, device=device, optimizer=opt,
                   patience=self.patience, progress=self.progress, desc="ResNet18", max_steps=self.max_steps)

    def _logits(self, module, X) -> np.ndarray:
        from ..training import predict

        return predict(module, torch.as_tensor(np.asarray(X), dtype=torch.float32), batch_size=256, device="cpu")

    def transform(self, X) -> np.ndarray:
        """(n, 512) float32 globally pooled features of the last residual stage."""
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        self.module_.eval()
        return _batched(self.module_.features, X, 128)


class _TreeNetwork(_Network):
    """What the LSTM and the Tree-LSTM share: X is a list of reduced trees; training through an index bank."""

    def _bank(self, trees):  # pragma: no cover - abstract
        raise NotImplementedError

    def _train_module(self, module, X, y, X_val, y_val):
        trees = list(X) + (list(X_val) if X_val is not None else [])
        return _fit_indexed(self, module, self._bank(trees), np.asarray(y), len(X),
                            None if y_val is None else np.asarray(y_val))

    def _apply(self, fn, X, batch_size: int = 256) -> np.ndarray:
        bank = self._bank(list(X))
        self.module_.eval()
        return _batched(lambda idx: fn(bank.batch(idx)), torch.arange(len(bank)), batch_size)

    def _logits(self, module, X) -> np.ndarray:
        return self._apply(module, X)

    def transform(self, X) -> np.ndarray:
        """(n, hidden) float32 learnt feature of each tree (the root state, or the LSTM's final hidden state)."""
        return self._apply(self.module_.features, X)


class LSTMClassifier(_TreeNetwork):
    """A 2-layer LSTM (``hidden`` units, Table 2: 128) over each cell's pre-order node sequence (at most ``max_len``
    steps, evenly subsampled; the paper: 1,500), the final hidden state -> dropout -> linear. Adam (``lr``), at
    most ``epochs``, batches of ``batch_size``, early stopping after ``patience`` epochs without a lower
    validation loss."""

    def __init__(self, max_len: int = 1500, hidden: int = 128, layers: int = 2, dropout: float = 0.2,
                 epochs: int = 20, lr: float = 1e-3, batch_size: int = 32, patience: int | None = 8,
                 weight_decay: float = 0.0, max_steps: int | None = None, random_state: int = 0, device: str = "cpu",
                 progress: bool = False, cache: bool = False):
        self.max_len, self.hidden, self.layers, self.dropout = max_len, hidden, layers, dropout
        self.max_steps = max_steps
        self.epochs, self.lr, self.batch_size, self.patience, self.weight_decay = (epochs, lr, batch_size, patience,
                                                                                   weight_decay)
        self.random_state, self.device, self.progress, self.cache = random_state, device, progress, cache

    def _module_config(self, X, n_classes: int) -> dict:
        return {"in_features": int(X[0].features.shape[1]), "n_classes": int(n_classes), "hidden": int(self.hidden),
                "layers": int(self.layers), "dropout": float(self.dropout)}

    def _make_module(self, c: dict):
        from ..models.lstm import SequenceLSTM

        return SequenceLSTM(c["in_features"], c["n_classes"], hidden=c["hidden"], layers=c["layers"],
                            dropout=c["dropout"])

    def _bank(self, trees):
        from ..models.lstm import IndexedSequences
        from .tree import node_sequence

        return IndexedSequences([node_sequence(t, self.max_len) for t in trees])


class TreeLSTMClassifier(_TreeNetwork):
    """The Child-Sum Tree-LSTM (Tai et al. 2015; ``hidden`` units, Table 2: 128) from the terminals to the soma of
    each cell's reduced tree, the root state -> dropout -> linear. Training as :class:`LSTMClassifier`."""

    def __init__(self, hidden: int = 128, dropout: float = 0.2, epochs: int = 20, lr: float = 1e-3,
                 batch_size: int = 32, patience: int | None = 8, weight_decay: float = 0.0,
                 max_steps: int | None = None, random_state: int = 0, device: str = "cpu", progress: bool = False,
                 cache: bool = False):
        self.hidden, self.dropout, self.max_steps = hidden, dropout, max_steps
        self.epochs, self.lr, self.batch_size, self.patience, self.weight_decay = (epochs, lr, batch_size, patience,
                                                                                   weight_decay)
        self.random_state, self.device, self.progress, self.cache = random_state, device, progress, cache

    def _module_config(self, X, n_classes: int) -> dict:
        return {"in_features": int(X[0].features.shape[1]), "n_classes": int(n_classes), "hidden": int(self.hidden),
                "dropout": float(self.dropout)}

    def _make_module(self, c: dict):
        from ..models.tree_lstm import TreeLSTMNet

        return TreeLSTMNet(c["in_features"], c["n_classes"], hidden=c["hidden"], dropout=c["dropout"])

    def _bank(self, trees):
        from ..models.tree_lstm import IndexedTrees

        return IndexedTrees([t.features for t in trees], [t.parent for t in trees], [t.height for t in trees])
