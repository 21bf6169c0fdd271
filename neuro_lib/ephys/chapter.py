"""The ephys chapter's run settings per profile, and its two model sets, shared by its pages and by
``python -m neuro_lib.predict ephys``.

``smoke`` (tests): 2 folds, one seed, 2 epochs, one LSPIN, three E/I models and two Cre models.
``cpu`` (the default): 5-fold cross-validation with 3 seeds (3 repeats, each its own partition and training seeds;
the paper's split trained with 3 seeds), every model, the epoch budgets of the book (early stopping usually ends
training well before them), one torch thread (these networks are small: one thread is fastest, and a fixed count
keeps a rerun identical).
``gpu``: 10 seeds, longer budgets, an ensemble of 5 LSPINs, SHAP on every test cell of the paper's split. Batch size
64 in every profile (the networks are small; a step at that size needs well under a megabyte).

``max_steps`` (None: no cap) caps the optimisation steps of every network fit and ``max_cells`` (None: all) keeps a
stratified subset of the cells: the ``gpu_profile`` tests run the gpu configuration on the CPU with both set.
"""
from __future__ import annotations

from ..profiles import pick_models
from .models import DANNClassifier, LSPINClassifier, MLPNetwork, SourceOnly, baselines

__all__ = ["PROFILE_SETTINGS", "settings", "EI_MODELS", "CRE5_MODELS", "MODEL_NAMES", "ei_models", "cre5_models"]

_EI_SMOKE = ["dann", "source_only", "logistic_regression"]
_CRE5_SMOKE = ["lspin", "logistic_regression"]

PROFILE_SETTINGS = {
    "smoke": dict(threads=1, n_splits=2, n_repeats=1, dann_epochs=2, lspin_epochs=2, interpretation_epochs=2,
                  n_ensemble=1, ei_models=_EI_SMOKE, cre5_models=_CRE5_SMOKE, n_shap=20, n_background=20),
    "cpu": dict(threads=1, n_splits=5, n_repeats=3, dann_epochs=200, lspin_epochs=300, interpretation_epochs=300,
                n_ensemble=3, lambda1=0.01, class_weight=None, ei_models=None, cre5_models=None, n_shap=200,
                n_background=100, max_steps=None, max_cells=None),
    "gpu": dict(threads=1, n_splits=5, n_repeats=10, dann_epochs=300, lspin_epochs=500, interpretation_epochs=500,
                n_ensemble=5, n_shap=345, n_background=200),
}

#: The E/I models, in the page's order: what each is trained on is in the docstring of :func:`ei_models`.
EI_MODELS = ["dann", "pooled_network", "dann_unsupervised", "source_only", "logistic_regression", "svc", "xgboost"]
#: The Cre-class models, in the page's order.
CRE5_MODELS = ["lspin", "mlp_no_gates", "logistic_regression", "svc", "random_forest", "xgboost"]
#: How the pages name the models in their text.
MODEL_NAMES = {"dann": "DANN", "pooled_network": "pooled network", "dann_unsupervised": "unsupervised DANN",
               "source_only": "source-only network", "logistic_regression": "logistic regression", "svc": "SVC",
               "xgboost": "XGBoost", "lspin": "LSPIN", "mlp_no_gates": "MLP without gates",
               "random_forest": "random forest"}


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``threads``, ``n_splits``, ``n_repeats`` (seeds: see :mod:`neuro_lib.ephys.experiments`), ``dann_epochs``
    (E/I networks), ``lspin_epochs`` (LSPIN and its MLP control), ``interpretation_epochs`` (both networks of the
    interpretation page), ``n_ensemble``, ``lambda1``,
    ``class_weight``, ``ei_models``/``cre5_models`` (None: all), ``n_shap`` (test cells explained),
    ``n_background`` (SHAP reference cells), ``max_steps``, ``max_cells``. Raises ``ValueError`` for an unknown
    profile or key.
    """
    from .. import profiles

    return profiles.settings(profile, PROFILE_SETTINGS, overrides, what="ephys",
                             ints=("threads", "n_splits", "n_repeats", "dann_epochs", "lspin_epochs",
                                   "interpretation_epochs", "n_ensemble", "n_shap", "n_background"))


def ei_models(cfg: dict, device: str = "cpu", *, epochs: int | None = None) -> dict:
    """``{name: estimator}`` for excitatory/inhibitory across species, all with ``cfg``'s settings (``epochs``
    overrides ``cfg["dann_epochs"]``); ``fit`` takes ``domain`` (0 mouse, 1 human) where it matters:

    * ``dann``: DANN with the labels of every training cell (mouse and human) and the species as the domain, the
      paper's setting (its training split holds cells of both species);
    * ``pooled_network``: the same network and labels without the domain loss (what does the adversary add?);
    * ``dann_unsupervised``: DANN that sees the human training cells without their labels (Ganin et al.'s setting);
    * ``source_only``: the same network trained on the mouse cells only;
    * ``logistic_regression``, ``svc``, ``xgboost``: scikit-learn defaults trained on the mouse cells only.
    """
    net = dict(epochs=epochs or cfg["dann_epochs"], max_steps=cfg.get("max_steps"), device=device)
    b = baselines()
    models = {"dann": DANNClassifier(**net),
              "pooled_network": DANNClassifier(domain_weight=0.0, **net),
              "dann_unsupervised": DANNClassifier(target_labels=False, **net),
              "source_only": SourceOnly(DANNClassifier(domain_weight=0.0, **net)),
              **{k: SourceOnly(b[k]) for k in ("logistic_regression", "svc", "xgboost")}}
    return pick_models(models, cfg.get("ei_models"))


def cre5_models(cfg: dict, device: str = "cpu", *, epochs: int | None = None) -> dict:
    """``{name: estimator}`` for the five mouse Cre classes: ``lspin`` (an ensemble of ``cfg["n_ensemble"]``),
    ``mlp_no_gates`` (its prediction network without gates) and the four baselines of :func:`baselines`."""
    ep = epochs or cfg["lspin_epochs"]
    models = {"lspin": LSPINClassifier(lambda1=cfg["lambda1"], class_weight=cfg["class_weight"], epochs=ep,
                                       n_ensemble=cfg["n_ensemble"], max_steps=cfg.get("max_steps"), device=device),
              "mlp_no_gates": MLPNetwork(epochs=ep, max_steps=cfg.get("max_steps"), device=device),
              **baselines()}
    return pick_models(models, cfg.get("cre5_models"))
