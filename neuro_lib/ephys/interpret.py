"""What the ephys models look at: LSPIN gates, Shapley values of the E/I DANN, and how its learned features mix the
species (the chapter's interpretation page; the paper's Figures 8-9)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..evaluation import CVResult, Split, cross_validate
from ..training import predict as net_outputs
from .data import FEATURES_41

__all__ = ["fit_on_split", "gate_frame", "network_probability", "explain_dann", "shap_explain",
           "cross_species_share"]


def fit_on_split(estimator, X, y, split: list[Split], *, seed: int = 0, fit_params=None, progress: bool = False
                 ) -> tuple[object, CVResult]:
    """Train ``estimator`` on the training cells of a single split through
    :func:`~neuro_lib.evaluation.cross_validate` (so it gets ``random_state = seed``) and score its test cells.
    Returns ``(fitted estimator, CVResult)``."""
    cv = cross_validate({"model": estimator}, X, y, split, seed=seed, fit_params=fit_params, progress=progress,
                        keep=lambda est, s: {"fitted": est})["model"]
    return cv.extras["fitted"][0], cv


def gate_frame(lspin, X) -> pd.DataFrame:
    """(n_cells, 41) DataFrame of an :class:`~neuro_lib.ephys.models.LSPINClassifier`'s mean deterministic gates on
    ``X`` (raw features), columns :data:`FEATURES_41`: 0 = the feature is ignored for that cell, 1 = fully open."""
    return pd.DataFrame(lspin.gates(X), columns=FEATURES_41)


def network_probability(net, cls: int = 1):
    """``f(Z) -> (n,)`` float32 probability of class position ``cls`` from the network of a fitted
    :class:`~neuro_lib.ephys.models.DANNClassifier` on *preprocessed* features ``Z`` (the inputs SHAP perturbs)."""
    def f(Z):
        logits = net_outputs(net.module_, np.asarray(Z, dtype=np.float32))
        return torch.softmax(torch.as_tensor(logits), 1)[:, cls].numpy()

    return f


def explain_dann(dann, X, split: Split, *, n_background: int, n_shap: int, seed: int = 0, cls: int = 1):
    """Shapley values of a fitted DANN's P(class ``cls``) on up to ``n_shap`` test cells of ``split`` (drawn with
    ``seed``), against ``n_background`` training cells as the reference, in the network's preprocessed feature space.
    Returns ``(shap.Explanation, Z)`` with ``Z`` (n, 41) every cell of ``X`` preprocessed."""
    rng = np.random.default_rng(seed)
    Z = dann.prep_.transform(X)
    background = Z[rng.choice(split.train, min(n_background, len(split.train)), replace=False)]
    explain_idx = split.test[rng.permutation(len(split.test))[:n_shap]]
    return shap_explain(network_probability(dann, cls), background, Z[explain_idx], FEATURES_41, seed=seed), Z


def shap_explain(predict_proba, background: np.ndarray, X: np.ndarray, feature_names, *, seed: int = 0,
                 max_evals: int | None = None):
    """Shapley values (shap's permutation explainer) of ``predict_proba(X) -> (n,)`` (e.g. P(excitatory)) on ``X``
    (n, d), with ``background`` as the masker's reference cells. Returns a ``shap.Explanation`` (values (n, d))."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.Explainer(predict_proba, masker, feature_names=list(feature_names), algorithm="permutation",
                               seed=seed)
    return explainer(X, max_evals=max_evals or 2 * X.shape[1] + 1, silent=True)


def cross_species_share(F: np.ndarray, species, classes, *, k: int = 10, of: str = "human") -> float:
    """For the cells of species ``of`` in ``F`` (n, d), the share of their ``k`` nearest neighbours (Euclidean, the
    cell itself excluded) that are of the other species and the same class: higher means the representation mixes
    species within a class."""
    from sklearn.neighbors import NearestNeighbors

    species, classes = np.asarray(species), np.asarray(classes)
    nn_idx = NearestNeighbors(n_neighbors=k + 1).fit(F).kneighbors(F, return_distance=False)[:, 1:]
    other = (species[nn_idx] != species[:, None]) & (classes[nn_idx] == classes[:, None])
    return float(other[species == of].mean())
