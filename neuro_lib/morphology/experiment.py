"""The chapter's set of models, built from its settings, and what the pages ask of their cross-validation.

:func:`chapter_models` turns a :func:`neuro_lib.morphology.chapter.settings` dict into the models of Zhang et al.'s
Table 3 and the chapter's own, as scikit-learn estimators over one :class:`~neuro_lib.morphology.views.Views`:

=============  ===================================================================================================
``svm``        RBF SVM on the 20 morphometrics (:func:`~neuro_lib.morphology.svm.svm_pipeline`)
``cnn``        ResNet18 on the projections (:class:`~neuro_lib.morphology.networks.ProjectionCNN`)
``lstm``       2-layer LSTM on the node sequences (:class:`~neuro_lib.morphology.networks.LSTMClassifier`)
``tree_lstm``  Child-Sum Tree-LSTM (:class:`~neuro_lib.morphology.networks.TreeLSTMClassifier`)
``fusion_mlp`` the paper's 3-layer head on the CNN's and the Tree-LSTM's 640-d features, trained on the
               validation cells (:class:`~neuro_lib.morphology.fusion.MLPFusion`)
``fusion``     the chapter's fusion: late fusion of the same two branches' logits
               (:class:`~neuro_lib.morphology.fusion.LateFusion`); with ``fusion_head`` ``"val"`` or ``"train"``
               it is the 3-layer head instead, and there is no ``fusion_mlp``
``neurite_gb`` gradient boosting on the 77 per-neurite morphometrics (:func:`~neuro_lib.morphology.neurites.
               neurite_gb`)
=============  ===================================================================================================

:func:`neuro_lib.evaluation.cross_validate` runs them over the same splits, seeding every model of split ``j`` with
``seed + j``; the networks' fits are cached (``cache=True``), so a fusion reuses the branches its split already
trained and a later page reuses an earlier page's. The ``keep_*`` functions are the driver's ``keep=`` extras.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..profiles import pick_models
from .fusion import LateFusion, MLPFusion
from .networks import LSTMClassifier, ProjectionCNN, TreeLSTMClassifier
from .neurites import neurite_gb
from .svm import svm_pipeline
from .views import OnView

__all__ = ["MODEL_NAMES", "chapter_models", "unwrap", "keep_history", "keep_features", "out_of_fold",
           "has_apical", "atypical_cells", "embed", "separation", "results_entries"]

MODEL_NAMES = {"svm": "SVM (20 features)", "cnn": "CNN (ResNet18)", "lstm": "LSTM", "tree_lstm": "Tree-LSTM",
               "fusion_mlp": "Multi, 3-layer head on the 640-d features (the paper's head)",
               "fusion": "Multi, late fusion of the logits (ours)",
               "neurite_gb": "gradient boosting, 77 per-neurite morphometrics (ours)"}


def chapter_models(cfg: Mapping, *, device: str = "cpu", cache: bool = True,
                   names: Iterable[str] | None = None) -> dict:
    """``{name: estimator}`` of the chapter (see the module docstring), configured by the settings ``cfg``
    (``tree_epochs``, ``lstm_epochs``, ``patience``, ``max_len``, ``cnn_epochs``, ``cnn_patience``, ``lr_conv``,
    ``lr_head``, ``cnn_degrees``, ``cnn_batch_size``, ``pretrain_epochs``, ``fusion_head``, and ``max_steps`` (cap
    on every network fit's optimisation steps; absent or None: no cap)), the networks on
    ``device`` with their fits cached when ``cache``; only ``names`` (in this order) when given. Every estimator
    takes a :class:`~neuro_lib.morphology.views.Views` with the views it reads (``features``, ``images``, ``trees``,
    ``neurites``). Raises ``ValueError`` for an unknown ``fusion_head`` or name."""
    if cfg["fusion_head"] not in ("late", "val", "train"):
        raise ValueError(f"fusion_head must be 'late', 'val' or 'train', got {cfg['fusion_head']!r}")
    steps = cfg.get("max_steps")
    cnn = OnView("images", ProjectionCNN(epochs=cfg["cnn_epochs"], lr_conv=cfg["lr_conv"], lr_head=cfg["lr_head"],
                                         batch_size=cfg["cnn_batch_size"], degrees=cfg["cnn_degrees"],
                                         patience=cfg["cnn_patience"], pretrain_epochs=cfg["pretrain_epochs"],
                                         max_steps=steps, device=device, cache=cache))
    tree = OnView("trees", TreeLSTMClassifier(epochs=cfg["tree_epochs"], patience=cfg["patience"], max_steps=steps,
                                              device=device, cache=cache))
    models = {"svm": OnView("features", svm_pipeline()), "cnn": cnn,
              "lstm": OnView("trees", LSTMClassifier(max_len=cfg["max_len"], epochs=cfg["lstm_epochs"],
                                                     patience=cfg["patience"], max_steps=steps, device=device,
                                                     cache=cache)),
              "tree_lstm": tree}
    branches = [("cnn", cnn), ("tree_lstm", tree)]
    if cfg["fusion_head"] == "late":
        models["fusion_mlp"] = MLPFusion(branches, head_on="val", max_steps=steps, device=device)
        models["fusion"] = LateFusion(branches)
    else:
        models["fusion"] = MLPFusion(branches, head_on=cfg["fusion_head"], max_steps=steps, device=device)
    models["neurite_gb"] = OnView("neurites", neurite_gb())
    return pick_models(models, names)


def unwrap(est):
    """The estimator inside an :class:`~neuro_lib.morphology.views.OnView` (fitted: ``estimator_``), else ``est``."""
    while isinstance(est, OnView):
        est = getattr(est, "estimator_", est.estimator)
    return est


def keep_history(est, split) -> dict:
    """``keep=`` extra of a network: its training :class:`~neuro_lib.training.History` (and the autoencoder's)."""
    net = unwrap(est)
    return {"history": net.history_, "pretrain_history": getattr(net, "pretrain_history_", None)}


def keep_features(X):
    """A ``keep=`` function that stores, per split, the learnt feature (``transform``) of that split's test cells,
    computed over all cells of ``X`` in one pass (as a fusion head sees them) and then taken at the test rows."""
    def keep(est, split) -> dict:
        return {"features": np.asarray(est.transform(X))[split.test]}

    return keep


def out_of_fold(cv, name: str = "features", repeat: int = 0) -> np.ndarray:
    """(n, d) each cell's extra ``name`` (e.g. from :func:`keep_features`) from the split that tested it, so that no
    cell's value comes from a model that trained on it. Raises ``ValueError`` if a cell is not tested in
    ``repeat``."""
    parts = [(s, np.asarray(v)) for s, v in zip(cv.splits, cv.extras[name]) if s.repeat == repeat]
    out = np.zeros((len(cv.y), parts[0][1].shape[1]), dtype=parts[0][1].dtype)
    seen = np.zeros(len(cv.y), bool)
    for s, v in parts:
        out[s.test] = v
        seen[s.test] = True
    if not seen.all():
        raise ValueError(f"{int((~seen).sum())} cells are not tested in repeat {repeat}")
    return out


def has_apical(trees) -> np.ndarray:
    """(n,) bool: the reduced tree has a node typed apical dendrite (SWC type 4)."""
    from .tree import FEATURES

    return np.array([bool(t.features[:, FEATURES.index("is_apical")].any()) for t in trees])


def atypical_cells(trees, y, principal: str = "principal") -> np.ndarray:
    """(n,) bool: cells whose SWC typing points away from their label, an interneuron with apical-typed nodes or a
    principal cell without any (``y`` the labels, ``trees`` their reduced trees)."""
    return has_apical(trees) != (np.asarray(y) == principal)


def embed(features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0, threads: int = 1) -> np.ndarray:
    """(n, 2) t-SNE embedding of ``features`` (n, d) (:func:`neuro_lib.evaluation.tsne`) computed with ``threads``
    OpenMP threads (threadpoolctl). scikit-learn's Barnes-Hut gradient sums over threads, so the embedding depends
    on their number; torch's ``set_num_threads`` reaches scikit-learn's OpenMP runtime only when torch was imported
    first (they then share it), so without this the same page gave different maps depending on import order."""
    from threadpoolctl import threadpool_limits

    from ..evaluation import tsne

    with threadpool_limits(limits=int(threads), user_api="openmp"):
        return tsne(features, seed=seed, perplexity=perplexity)


def separation(features: np.ndarray, embedding: np.ndarray, y) -> dict[str, float]:
    """How cleanly the classes ``y`` (n,) separate (higher is cleaner): ``tsne_knn_accuracy``, the 5-fold
    cross-validated accuracy of a k-nearest-neighbour vote (k = 5, fewer for tiny sets) in the 2-D ``embedding``
    (n, 2); ``silhouette``, the classes' silhouette in the z-scored ``features`` (n, d); ``tsne_silhouette``, in
    the embedding (scikit-learn; the silhouette is in [-1, 1])."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y)
    k = min(5, max(1, len(y) // 5 - 1))
    pred = cross_val_predict(KNeighborsClassifier(k), embedding, y, cv=5)
    return {"tsne_knn_accuracy": float((pred == y).mean()),
            "silhouette": float(silhouette_score(StandardScaler().fit_transform(features), y)),
            "tsne_silhouette": float(silhouette_score(embedding, y))}


def results_entries(cvs: Mapping, task: str, metrics=("accuracy", "auc"), **kw) -> dict:
    """Results entries ``<task>/<model>/<metric>`` (+ ``_sd`` over splits) of every result of ``cvs``
    (:func:`neuro_lib.results.cv_metrics`, test group ``"all"``)."""
    from .. import results

    out = {}
    for name, cv in cvs.items():
        out.update(results.cv_metrics(cv, task, name, groups=False, metrics=metrics, **kw))
    return out
