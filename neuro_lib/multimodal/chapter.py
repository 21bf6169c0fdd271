"""The multimodal chapter's run settings per profile and its model set, shared by its pages.

``smoke`` (tests): 2 folds, one repeat, 2 epochs, small forests. ``cpu`` (the default): stratified 5-fold, one
repeat (the chapter's 10-minute budget on a shared 2-core machine; ``n_repeats`` repeats it, each repeat its own
partition and training seeds), 3 inner folds for the stacking, the ephys-only cells for task ``cre5`` only (for
``e_i`` they would add some 1,400 training cells to every network fit, and morphology alone is near ceiling there),
the ephys chapter's LSPIN budget (300 epochs, early stopping on a share of the training cells), one torch thread (the
networks are small; a fixed count keeps a rerun identical). ``gpu``: 10 repeats, LSPIN ensembles of 5 and longer
budgets (the networks are the only part a GPU speeds up; the forests run on the CPU).

``max_steps`` (None: no cap) caps the optimisation steps of every network fit and ``max_cells`` (None: all) keeps a
stratified subset of each task's cells: the ``gpu_profile`` tests run the gpu configuration on the CPU with both set.
"""
from __future__ import annotations

from .. import profiles

__all__ = ["PROFILE_SETTINGS", "settings", "MODEL_NAMES", "EPHYS_BLOCK", "HEADLINE", "HEADLINE_ROWS"]

PROFILE_SETTINGS = {
    "smoke": dict(threads=1, n_splits=2, n_repeats=1, lspin_epochs=2, n_ensemble=1, lambda1=0.01, gb_iter=20,
                  rf_trees=20, inner_cv=2, max_steps=None, max_cells=None, perplexity=10.0,
                  ephys_only_cells=("cre5",)),
    "cpu": dict(threads=1, n_splits=5, n_repeats=1, lspin_epochs=300, n_ensemble=1, lambda1=0.01, gb_iter=200,
                rf_trees=300, inner_cv=3, max_steps=None, max_cells=None, perplexity=30.0,
                ephys_only_cells=("cre5",)),
    "gpu": dict(threads=1, n_splits=5, n_repeats=10, lspin_epochs=500, n_ensemble=5, lambda1=0.01, gb_iter=600,
                rf_trees=1000, inner_cv=5, max_steps=None, max_cells=None, perplexity=30.0,
                ephys_only_cells=("e_i", "cre5")),
}

#: the ephys feature block of each task: the authors' 41 features where every cell has them (cre5), the ACTB table
#: where only 376 of the 509 do (e_i)
EPHYS_BLOCK = {"e_i": "actb", "cre5": "ephys41"}

#: how the pages name the models
MODEL_NAMES = {"ephys_svc": "ephys: SVC", "ephys_lspin": "ephys: LSPIN", "ephys_svc_actb": "ephys: SVC, 41 + ACTB",
               "morphology_gb": "morphology: gradient boosting", "morphology_rf": "morphology: random forest",
               "morphology_gb_no_apical": "morphology: gradient boosting, no apical/basal split",
               "morphology_tmd": "morphology: TMD persistence image",
               "morphology_tmd_no_apical": "morphology: TMD, typing-free image",
               "late_fusion": "fused: late fusion (stacking)", "joint_lspin": "fused: joint LSPIN",
               "ephys": "ephys (best)", "morphology": "morphology (best)",
               "fused": "fused (late fusion)", "morphology_rf_no_apical": "morphology: forest, no apical/basal split",
               "late_fusion_no_apical": "fused: late fusion, no apical/basal split",
               "late_fusion_without_morph": "late fusion asked without morphology",
               "late_fusion_without_ephys": "late fusion asked without ephys",
               "joint_lspin_without_morph": "joint LSPIN asked without morphology",
               "joint_lspin_without_ephys": "joint LSPIN asked without ephys"}

#: headline rows of each task: name -> the specific models it is the better of (mean accuracy over the same splits;
#: choosing the better single modality after the fact favours the single modalities, never the fused model, which is
#: fixed). Task ``e_i`` is headlined typing-free: its label (spiny or not) is what the Allen tracers' apical-dendrite
#: type code nearly names (page 01: "has an apical-typed sample" alone scores 0.998), so the morphology rows and the
#: fused row read the morphometrics without the apical/basal split (:data:`~neuro_lib.multimodal.experiment.NO_APICAL`,
#: as the morphology chapter's typing-free view); the typing-aware models stay on the page as an upper reference.
HEADLINE = {"e_i": {"ephys": ("ephys_svc", "ephys_lspin"),
                    "morphology": ("morphology_gb_no_apical", "morphology_rf_no_apical", "morphology_tmd_no_apical"),
                    "fused": ("late_fusion_no_apical",)},
            "cre5": {"ephys": ("ephys_svc", "ephys_lspin"),
                     "morphology": ("morphology_gb", "morphology_rf", "morphology_tmd"),
                     "fused": ("late_fusion",)}}
#: the names of the headline rows
HEADLINE_ROWS = ("ephys", "morphology", "fused")


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``threads``, ``n_splits``, ``n_repeats``, ``lspin_epochs``, ``n_ensemble`` (LSPINs per ensemble),
    ``lambda1`` (LSPIN gate sparsity), ``gb_iter`` (boosting rounds; the learning rate is scaled so that rounds x
    rate = 6, the morphology chapter's 600 x 0.03), ``rf_trees``, ``inner_cv`` (inner folds of the stacking),
    ``max_steps``, ``max_cells``, ``perplexity`` (t-SNE), ``ephys_only_cells`` (the tasks whose models that read
    ephys also train on the mouse cells of the same ephys tables that have no reconstruction; never test cells).
    Raises ``ValueError`` for an unknown profile or key."""
    return profiles.settings(profile, PROFILE_SETTINGS, overrides, what="multimodal",
                             ints=("threads", "n_splits", "n_repeats", "lspin_epochs", "n_ensemble", "gb_iter",
                                   "rf_trees", "inner_cv"))
