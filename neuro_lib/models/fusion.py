"""The "Multi" model of Zhang et al. 2021 and the cross-validation of every model of the chapter.

Zhang et al. (2021, Sci Rep 11:7291, "Methods", Figure 1) concatenate the 512-d feature of the ResNet18 branch
(three projections of the neuron) with the 128-d feature of the Tree-LSTM branch and classify the 640-d vector with
a 3-layer fully connected classifier. :class:`FusionClassifier` is that network end to end; :class:`MLPHead` is
its classifier alone, which :func:`cross_validate_fusion` trains on the concatenated features of two already
trained branches (two-stage fusion: each branch is trained on the same training cells, then frozen, and the head
learns from the features of cells the branches were not fitted to, by default the validation cells; this is what
the CPU profile does, because training a ResNet18 and a Tree-LSTM jointly five times is too slow on two cores).
:func:`cross_validate_late_fusion` fuses the same two branches at the level of their logits instead, with a
logistic regression fitted on the validation cells (the chapter's default, see that function for why).

:func:`cross_validate_branches` (LSTM, Tree-LSTM) and :func:`cross_validate_cnn` (ResNet18) train on every fold and
return out-of-fold probabilities and, for every fold, the branch feature of every cell computed by that fold's
model (the input of the fusion head), cached in the user cache keyed by the data and the parameters.
:func:`cross_validate_all` runs the five models of the paper's Table 3 on the same folds.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from neuro_lib.training import fit, seed_everything

__all__ = ["MLPHead", "FusionClassifier", "BranchCV", "make_folds", "cross_validate_branches",
           "cross_validate_fusion", "cross_validate_late_fusion", "cross_validate_cnn", "cross_validate_all",
           "branch_cache_key", "out_of_fold",
           "cv_metrics", "batched_apply"]


class MLPHead(nn.Module):
    """3-layer classifier: ``in_features -> 256 -> 64 -> n_classes`` with ReLU and dropout (Zhang et al. 2021)."""

    def __init__(self, in_features: int, n_classes: int, hidden: Sequence[int] = (256, 64), dropout: float = 0.3):
        super().__init__()
        a, b = hidden
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, a), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(a, b), nn.ReLU(), nn.Linear(b, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FusionClassifier(nn.Module):
    """The end-to-end "Multi" network: ``cnn.features(images)`` (B, 512) and ``tree.features(trees)`` (B, 128)
    concatenated (B, 640), then :class:`MLPHead`.

    ``cnn`` is any module with ``features(x) -> (B, d_cnn)`` (the chapter's ResNet18) and ``out_features``
    or ``d_cnn`` given; ``tree`` any module with ``features(idx_or_batch) -> (B, d_tree)`` (the Tree-LSTM branch).
    ``forward(images, trees)`` returns (B, n_classes) logits.
    """

    def __init__(self, cnn: nn.Module, tree: nn.Module, n_classes: int, d_cnn: int = 512, d_tree: int = 128,
                 dropout: float = 0.3):
        super().__init__()
        self.cnn, self.tree = cnn, tree
        self.head = MLPHead(d_cnn + d_tree, n_classes, dropout=dropout)

    def features(self, images, trees) -> torch.Tensor:
        return torch.cat([self.cnn.features(images), self.tree.features(trees)], dim=1)

    def forward(self, images, trees) -> torch.Tensor:
        return self.head(self.features(images, trees))


@torch.no_grad()
def batched_apply(fn: Callable, idx: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``fn(index tensor)`` over ``idx`` in batches, concatenated as a NumPy array."""
    out = [fn(torch.as_tensor(idx[i:i + batch_size])).cpu() for i in range(0, len(idx), batch_size)]
    return torch.cat(out).numpy()


def make_folds(y: Sequence, n_splits: int = 5, seed: int = 0, val_fraction: float = 0.125
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stratified ``n_splits``-fold CV on cells, each fold's training part split again into training and
    validation (``val_fraction`` of it, stratified; 1/8 gives the paper's 8:1:1 with 5 folds... approximately).
    Returns ``[(train, val, test), ...]`` index arrays."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    y = np.asarray(y)
    out = []
    for k, (rest, test) in enumerate(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(y, y)):
        tr, va = train_test_split(rest, test_size=val_fraction, stratify=y[rest], random_state=seed + k)
        out.append((np.sort(tr), np.sort(va), np.sort(test)))
    return out


@dataclass
class BranchCV:
    """Cross-validation output of one model.

    ``proba`` (n, k) out-of-fold class probabilities (each cell predicted by the fold that tested it);
    ``fold_metrics`` one dict per fold (accuracy, auc); ``features`` one (n, d) array per fold: the branch feature of
    every cell from that fold's model (empty for models without one); ``history`` per fold training curves;
    ``logits`` one (n, k) array per fold: the class logits of every cell from that fold's model (the input of
    :func:`cross_validate_late_fusion`; empty for models without one).
    """

    proba: np.ndarray
    fold_metrics: list
    features: list = field(default_factory=list)
    history: list = field(default_factory=list)
    logits: list = field(default_factory=list)


def cv_metrics(y_true, proba) -> dict[str, float]:
    """Accuracy and AUC (binary: of the positive class; more classes: macro one-vs-rest) from probabilities."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    out = {"accuracy": float(accuracy_score(y_true, proba.argmax(1)))}
    try:
        if proba.shape[1] == 2:
            out["auc"] = float(roc_auc_score(y_true, proba[:, 1]))
        else:
            out["auc"] = float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro",
                                             labels=np.arange(proba.shape[1])))
    except ValueError:  # a class missing from the test fold
        out["auc"] = float("nan")
    return out


def _cache_path(kind: str, key: Mapping) -> "Path":  # noqa: F821
    from neuro_lib.datasets import cache_dir

    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    p = cache_dir() / "morphology" / f"{kind}-{digest}.pkl"
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _train_eval(model, y, fold, *, epochs, lr, batch_size, seed, device, patience, desc, weight_decay=0.0):
    tr, va, te = fold
    yt = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    hist = fit(model, (torch.as_tensor(tr), yt[tr]), (torch.as_tensor(va), yt[va]), loss_fn=nn.CrossEntropyLoss(),
               epochs=epochs, lr=lr, batch_size=batch_size, patience=patience, seed=seed, device=device,
               weight_decay=weight_decay, progress=False, desc=desc)
    model.eval()
    return hist


def _as_tuples(folds) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Folds as ``(train, val, test)`` tuples (accepts :class:`neuro_lib.morphology.data.Fold` objects)."""
    return [(np.asarray(f.train), np.asarray(f.val), np.asarray(f.test)) if hasattr(f, "train")
            else tuple(np.asarray(a) for a in f) for f in folds]


def cross_validate_branches(banks: Mapping[str, object], y: Sequence[int], folds, n_classes: int, *,
                            in_features: int, epochs: int | Mapping[str, int] = 20, lr: float = 1e-3,
                            batch_size: int = 32,
                            patience: int | None = 8, seed: int = 0, device: str = "cpu", hidden: int = 128,
                            cache_key: Mapping | None = None, progress: bool = True) -> dict[str, BranchCV]:
    """Train and test the sequence models on every fold.

    ``banks`` maps a model name to its input bank: ``"lstm"`` -> :class:`~neuro_lib.models.lstm.IndexedSequences`,
    ``"tree_lstm"`` -> :class:`~neuro_lib.models.tree_lstm.IndexedTrees`. ``folds`` is ``[(train, val, test), ...]``.
    Each model is trained with Adam and cross-entropy through :func:`neuro_lib.training.fit` for at most ``epochs``
    (one number, or one per model name), stopping early after ``patience`` epochs without a lower validation loss and
    keeping the best weights. With ``cache_key`` (something identifying the cells and their features) the result is
    cached in ``cache_dir()/morphology`` and reused by a later call with the same key and parameters.
    Returns ``{name: BranchCV}``.
    """
    from tqdm.auto import tqdm

    from neuro_lib.models.lstm import SequenceLSTM
    from neuro_lib.models.tree_lstm import TreeLSTMClassifier

    y = np.asarray(y)
    folds = _as_tuples(folds)
    epochs = {m: int(epochs[m] if isinstance(epochs, Mapping) else epochs) for m in banks}
    params = dict(models=sorted(banks), epochs=epochs, lr=lr, batch_size=batch_size, patience=patience, seed=seed,
                  hidden=hidden, n_classes=n_classes, folds=[[f.tolist() for f in fold] for fold in folds],
                  y=y.tolist(), version=5)
    path = _cache_path("branches", {"key": cache_key, **params}) if cache_key is not None else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    builders = {"lstm": SequenceLSTM, "tree_lstm": TreeLSTMClassifier}
    out = {}
    all_idx = np.arange(len(y))
    for name, bank in banks.items():
        proba = np.zeros((len(y), n_classes))
        fm, feats, hists, logits = [], [], [], []
        for k, fold in enumerate(tqdm(folds, desc=name, disable=not progress)):
            seed_everything(seed + k)
            model = builders[name](in_features, n_classes, hidden=hidden, bank=bank)
            hist = _train_eval(model, y, fold, epochs=epochs[name], lr=lr, batch_size=batch_size, seed=seed + k,
                               device=device, patience=patience, desc=f"{name} fold {k}")
            te = fold[2]
            p = torch.softmax(torch.as_tensor(batched_apply(model, te)), 1).numpy()
            proba[te] = p
            fm.append(cv_metrics(y[te], p))
            feats.append(batched_apply(model.features, all_idx).astype(np.float32))
            logits.append(batched_apply(model, all_idx).astype(np.float32))
            hists.append(hist.as_dict())
        out[name] = BranchCV(proba, fm, feats, hists, logits)
    if path is not None:
        path.write_bytes(pickle.dumps(out))
    return out


def cross_validate_fusion(branch_features: Sequence[Sequence[np.ndarray]], y: Sequence[int], folds, n_classes: int,
                          *, head_on: str = "val", epochs: int | None = None, lr: float = 1e-3, batch_size: int = 64,
                          patience: int | None = 30, seed: int = 0, device: str = "cpu",
                          weight_decay: float | None = None, dropout: float = 0.3) -> BranchCV:
    """Two-stage "Multi" fusion: on every fold ``k`` the branches' features from that fold's models (e.g.
    ``[cnn.features, tree_lstm.features]``, each a list over folds of (n, d) arrays) are concatenated, z-scored and
    classified by an :class:`MLPHead` (Zhang et al. 2021, Figure 1), which is trained on

    ``head_on="val"`` (default): the fold's validation cells only, whose features the branches did not fit (they
    only chose the branches' early-stopping epoch), for a fixed ``epochs`` (default 100) with weight decay
    (default 1e-3) and no early stopping; z-scoring with the statistics of the training and validation cells.
    ``head_on="train"``: the training cells, early stopping on the validation cells (default 200 epochs, weight
    decay 1e-4). The branches have (nearly) memorised their training cells, so their training features are far
    more separable than any new cell's: a head trained on them learns to trust the branch that overfits most.

    The test cells are used only for the returned out-of-fold ``proba``. Returns a :class:`BranchCV` (its
    ``features`` are the concatenated, unscaled inputs). Raises ``ValueError`` for an unknown ``head_on``.
    """
    if head_on not in ("val", "train"):
        raise ValueError(f"head_on must be 'val' or 'train', got {head_on!r}")
    on_val = head_on == "val"
    epochs = epochs if epochs is not None else (100 if on_val else 200)
    weight_decay = weight_decay if weight_decay is not None else (1e-3 if on_val else 1e-4)
    y = np.asarray(y)
    folds = _as_tuples(folds)
    proba = np.zeros((len(y), n_classes))
    fm, feats, hists = [], [], []
    yt = torch.as_tensor(y, dtype=torch.int64)
    for k, (tr, va, te) in enumerate(folds):
        X = np.concatenate([np.asarray(f[k], dtype=np.float32) for f in branch_features], axis=1)
        stats = np.concatenate([tr, va]) if on_val else tr
        mu, sd = X[stats].mean(0), X[stats].std(0) + 1e-6
        Xz = torch.from_numpy(((X - mu) / sd).astype(np.float32))
        seed_everything(seed + k)
        head = MLPHead(Xz.shape[1], n_classes, dropout=dropout)
        fit_idx, es = (va, None) if on_val else (tr, (Xz[va], yt[va]))
        hist = fit(head, (Xz[fit_idx], yt[fit_idx]), es, loss_fn=nn.CrossEntropyLoss(), epochs=epochs, lr=lr,
                   batch_size=batch_size, patience=None if on_val else patience, seed=seed + k, device=device,
                   weight_decay=weight_decay, progress=False, desc=f"fusion {k}")
        with torch.no_grad():
            p = torch.softmax(head(Xz[te].to(next(head.parameters()).device)), 1).cpu().numpy()
        proba[te] = p
        fm.append(cv_metrics(y[te], p))
        feats.append(X)
        hists.append(hist.as_dict())
    return BranchCV(proba, fm, feats, hists)


def cross_validate_late_fusion(branch_logits: Sequence[Sequence[np.ndarray]], y: Sequence[int], folds,
                               n_classes: int, *, C: float = 1.0) -> BranchCV:
    """Late fusion of trained branches: on every fold ``k`` the branches' class logits from that fold's models
    (e.g. ``[cnn.logits, tree_lstm.logits]``, each a list over folds of (n, n_classes) arrays) are concatenated
    (each branch's logits centred per cell, so only their differences count) and classified by an L2-regularised
    logistic regression (scikit-learn, inverse strength ``C``) fitted on the fold's **validation** cells.

    Why not the paper's 3-layer head on the 640-d features (:func:`cross_validate_fusion`)? Per fold only ~120
    validation cells are unseen by the branches, too few to fit a 640-d input well, and the training cells'
    features are memorised (see :func:`cross_validate_fusion`). On the logits the head has ``2 x n_classes``
    inputs, learns how far to trust each branch, and needs few cells to do it. Test cells are used only for the
    returned out-of-fold ``proba``. Returns a :class:`BranchCV` whose ``features`` are the concatenated logits.
    Raises ``ValueError`` when a fold's logits do not have one row per cell and ``n_classes`` columns.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    folds = _as_tuples(folds)
    proba = np.zeros((len(y), n_classes))
    fm, feats = [], []
    for k, (tr, va, te) in enumerate(folds):
        blocks = []
        for b, per_fold in enumerate(branch_logits):
            z = np.asarray(per_fold[k], dtype=float)
            if z.shape != (len(y), n_classes):
                raise ValueError(f"branch {b}, fold {k}: logits of shape {z.shape}, expected {(len(y), n_classes)}")
            blocks.append(z - z.mean(1, keepdims=True))
        X = np.concatenate(blocks, axis=1)
        head = LogisticRegression(C=C, max_iter=1000).fit(X[va], y[va])
        p = np.zeros((len(te), n_classes))
        p[:, head.classes_] = head.predict_proba(X[te])
        proba[te] = p
        fm.append(cv_metrics(y[te], p))
        feats.append(X.astype(np.float32))
    return BranchCV(proba, fm, feats)


def cross_validate_cnn(images: np.ndarray, y: Sequence[int], folds, n_classes: int, *, epochs: int = 10,
                       batch_size: int = 32, seed: int = 0, device: str = "cpu", patience: int | None = None,
                       pretrain_epochs: int = 0, cache_key: Mapping | None = None, progress: bool = True,
                       **kwargs) -> BranchCV:
    """The ResNet18 branch on every fold, through the chapter's
    :func:`neuro_lib.models.resnet.train_projection_cnn` (``kwargs``: ``lr_conv``, ``lr_head``, ``degrees``,
    ``augment``; Table 2 learning rates by default; augmentation of training cells only; early stopping on the
    validation accuracy after ``patience`` epochs). With ``pretrain_epochs`` the backbone of each fold first
    learns to reconstruct the projections of that fold's training and validation cells, labels unused
    (:func:`neuro_lib.models.resnet.pretrain_autoencoder`; the test cells' images are never seen).
    Returns out-of-fold probabilities and, per fold, the 512-d feature of every cell from that fold's network
    (``history[k]`` also holds ``pretrain_loss``). Cached like :func:`cross_validate_branches` when ``cache_key``
    is given."""
    from types import SimpleNamespace

    from tqdm.auto import tqdm

    from neuro_lib.models.resnet import ProjectionResNet, pretrain_autoencoder, train_projection_cnn

    y = np.asarray(y)
    folds = _as_tuples(folds)
    params = dict(epochs=epochs, batch_size=batch_size, seed=seed, patience=patience, n_classes=n_classes,
                  pretrain_epochs=pretrain_epochs, folds=[[f.tolist() for f in fold] for fold in folds],
                  y=y.tolist(), shape=list(images.shape), kwargs=kwargs, version=3)
    path = _cache_path("cnn", {"key": cache_key, **params}) if cache_key is not None else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    proba = np.zeros((len(y), n_classes))
    fm, feats, hists, logits = [], [], [], []
    X = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    for k, (tr, va, te) in enumerate(tqdm(folds, desc="cnn", disable=not progress)):
        init_state, ae_loss = None, []
        if pretrain_epochs:
            torch.manual_seed(seed + k)
            enc = ProjectionResNet(n_classes)
            ae = pretrain_autoencoder(enc, X[np.concatenate([tr, va])], epochs=pretrain_epochs, seed=seed + k,
                                      device=device, progress=False)
            init_state = {n: v.detach().cpu().clone() for n, v in enc.backbone.state_dict().items()}
            ae_loss = ae.train_loss
        model, p, hist = train_projection_cnn(images, y, SimpleNamespace(train=tr, val=va, test=te),
                                              n_classes=n_classes, epochs=epochs, batch_size=batch_size,
                                              seed=seed + k, device=device, patience=patience,
                                              init_state=init_state, **kwargs)
        proba[te] = p
        fm.append(cv_metrics(y[te], p))
        model.eval()
        dev = next(model.parameters()).device
        feats.append(batched_apply(lambda i: model.features(X[i].to(dev)), np.arange(len(y)), 128)
                     .astype(np.float32))
        logits.append(batched_apply(lambda i: model(X[i].to(dev)), np.arange(len(y)), 128).astype(np.float32))
        hists.append(dict(hist.as_dict(), pretrain_loss=list(ae_loss)))
    out = BranchCV(proba, fm, feats, hists, logits)
    if path is not None:
        path.write_bytes(pickle.dumps(out))
    return out


def cross_validate_all(X19: np.ndarray, images: np.ndarray, trees: Sequence, y: Sequence[int], folds,
                       n_classes: int, *, tree_epochs: int, lstm_epochs: int, cnn_epochs: int, patience: int = 8,
                       max_len: int = 1500, cnn_patience: int | None = None, lr_conv: float = 1e-5,
                       lr_head: float = 1e-4, cnn_degrees: float = 180.0, cnn_batch_size: int = 32,
                       pretrain_epochs: int = 0, fusion_head: str = "val", seed: int = 0, device: str = "cpu",
                       cache_key: Mapping | None = None, progress: bool = True) -> dict[str, BranchCV]:
    """The five models of Zhang et al. 2021, Table 3, on the same folds: ``svm`` (RBF, 19 hand features,
    :func:`neuro_lib.morphology.features.cv_svm`), ``cnn`` (:func:`cross_validate_cnn` with ``cnn_*``,
    ``lr_conv``, ``lr_head``, ``pretrain_epochs``), ``lstm`` and ``tree_lstm`` (:func:`cross_validate_branches`,
    at most ``lstm_epochs``/``tree_epochs``, early stopping after ``patience``) and ``fusion``
    of the CNN and the Tree-LSTM, as ``fusion_head`` says: ``"late"``, :func:`cross_validate_late_fusion` of their
    logits, and then ``fusion_mlp`` is returned too, the paper's 3-layer head on their 640-d features trained on
    the validation cells (:func:`cross_validate_fusion`); ``"val"`` or ``"train"``: ``fusion`` is that 3-layer
    head, trained on the validation or training cells.
    ``X19`` (n, 19), ``images`` (n, 3, S, S), ``trees`` n reduced trees, ``y`` (n,) class indices, ``folds``
    objects with ``train``/``val``/``test``. The keywords match :func:`neuro_lib.morphology.chapter.settings`.
    Trained branches are cached under ``cache_key`` (the same key and settings as ``03_cnn`` and
    ``04_sequence_models`` reuse their networks)."""
    from neuro_lib.models.lstm import IndexedSequences
    from neuro_lib.models.tree_lstm import IndexedTrees
    from neuro_lib.morphology.features import cv_svm
    from neuro_lib.morphology.tree import FEATURES, node_sequence

    if fusion_head not in ("late", "val", "train"):
        raise ValueError(f"fusion_head must be 'late', 'val' or 'train', got {fusion_head!r}")
    y = np.asarray(y)
    tfolds = _as_tuples(folds)
    _, svm_proba, _ = cv_svm(np.asarray(X19, float), y, folds)
    svm = BranchCV(svm_proba, [cv_metrics(y[te], svm_proba[te]) for _, _, te in tfolds])
    seq = cross_validate_branches({"lstm": IndexedSequences([node_sequence(t, max_len) for t in trees]),
                                   "tree_lstm": IndexedTrees(trees)}, y, tfolds, n_classes,
                                  in_features=len(FEATURES), epochs={"lstm": lstm_epochs, "tree_lstm": tree_epochs},
                                  patience=patience, seed=seed, device=device,
                                  cache_key=None if cache_key is None else branch_cache_key(cache_key, max_len),
                                  progress=progress)
    cnn = cross_validate_cnn(images, y, tfolds, n_classes, epochs=cnn_epochs, patience=cnn_patience,
                             batch_size=cnn_batch_size, pretrain_epochs=pretrain_epochs, seed=seed, device=device,
                             cache_key=cache_key, progress=progress, lr_conv=lr_conv, lr_head=lr_head,
                             degrees=cnn_degrees)
    out = {"svm": svm, "cnn": cnn, "lstm": seq["lstm"], "tree_lstm": seq["tree_lstm"]}
    if fusion_head == "late":
        out["fusion_mlp"] = cross_validate_fusion([cnn.features, seq["tree_lstm"].features], y, tfolds, n_classes,
                                                  head_on="val", seed=seed, device=device)
        out["fusion"] = cross_validate_late_fusion([cnn.logits, seq["tree_lstm"].logits], y, tfolds, n_classes)
    else:
        out["fusion"] = cross_validate_fusion([cnn.features, seq["tree_lstm"].features], y, tfolds, n_classes,
                                              head_on=fusion_head, seed=seed, device=device)
    return out


def branch_cache_key(cache_key: Mapping, max_len: int) -> dict:
    """The cache key of the sequence models: the cells' key plus what shapes their inputs (``max_len``, the node
    features), so that ``04_sequence_models`` and ``05_fusion`` share trained LSTMs and Tree-LSTMs."""
    from neuro_lib.morphology.tree import FEATURES

    return dict(cache_key, max_len=max_len, features=list(FEATURES))


def out_of_fold(features: Sequence[np.ndarray], folds) -> np.ndarray:
    """(n, d): each cell's feature taken from the fold whose model did not train on it (its test fold)."""
    tfolds = _as_tuples(folds)
    out = np.zeros_like(np.asarray(features[0]))
    for f, (_, _, te) in zip(features, tfolds):
        out[te] = np.asarray(f)[te]
    return out
