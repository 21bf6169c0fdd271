"""Run settings of the chapter per profile: one table for every page (``01_data`` ... ``07_virtual``), so that the
pages that train the same networks on the same splits (``03_cnn``, ``04_sequence_models``, ``05_fusion``,
``06_tsne``) train them once and reuse each other's fits from the cache (:mod:`neuro_lib.morphology.networks`).
:func:`neuro_lib.morphology.experiment.chapter_models` turns a settings dict into the chapter's estimators.

``smoke`` (tests): 12 cells per class, one epoch, 32-pixel images.
``cpu`` (the default): all ~1,350 cells of task (a); measured on one thread of a loaded 2-core machine, see the
fusion page for the timing. The departures from the paper and why:

* ResNet18 learning rates 1e-3 for both parameter groups instead of Table 2's 1e-5 / 1e-4: the paper fine-tuned
  pretrained weights; here the network starts from a random initialisation (no ImageNet or CASIA weights), and at
  1e-5 it does not leave that initialisation in a CPU budget of epochs.
* Images of 48 x 48 pixels instead of 224 x 224 (cost).
* Rotation augmentation within +-``cnn_degrees`` rather than any angle: the rat S1 reconstructions are aligned with
  the pia up, and a pyramidal cell's apical dendrite pointing up is a cue that a full rotation throws away.
* LSTM sequences subsampled to ``max_len`` steps instead of 1,500 (cost; a 2-layer LSTM's time is linear in it).
* The fusion (all profiles) is late: a logistic regression on the CNN's and the Tree-LSTM's logits, fitted on the
  validation cells (:class:`neuro_lib.morphology.fusion.LateFusion`), instead of the paper's 3-layer head trained
  end to end on the concatenated 640-d features. The fusion page reports both; the 3-layer head on ~120 unseen
  cells per fold does worse than its best branch.

The other pages' knobs: ``example_image_size`` (01's example projections, pixels), ``zjump_scan`` (rat S1 cells 01
scans for z-jumps), ``zhang12_per_class`` (02's cap per class of task (c); None: all), and the virtual set of 07:
``virtual_per_class`` (cells per class; the paper: 500), ``virtual_image_size`` and ``virtual_{cnn,tree,lstm}_epochs``
(the other network settings are the real-cell pages', see :func:`virtual_settings`).
The across-labs page (08, :mod:`neuro_lib.morphology.across_labs`): ``labs_per_source_class`` (cells kept per
source and class; None: all), ``labs_gb_iter`` (trees of its gradient boosting), ``labs_n_splits`` (folds of
its in-domain cross-validation), ``labs_tmd_resolution`` (pixels a side of its TMD persistence images; 0: no
TMD) and ``labs_net_epochs`` (most epochs of its lab-adversarial network and the control network, early stopping
on a held-out share of the training cells).

``max_steps`` (None in every profile: no cap) caps the optimisation steps of every network fit; the
``gpu_profile`` tests (``tests/test_morphology_gpu_profile.py``) run the pages in the ``gpu`` configuration on the
CPU with 2 steps per fit and few cells, so the first GPU user does not meet a crash.

``gpu``: the paper's sizes (224-pixel images, sequences of 1,500, Table 2's learning rates, 60 epochs, autoencoder
pretraining of the ResNet18 on the unlabelled cells).
"""
from __future__ import annotations

from .. import profiles

__all__ = ["PROFILE_SETTINGS", "MODEL_SETTINGS", "TARGETS", "settings", "virtual_settings"]

#: the chapter's targets (ours, not the paper's; the paper's numbers are in ``data/paper_numbers/morphology.yml``):
#: ``rat_s1_2class_accuracy``, the 5-fold accuracy on task (a) the fusion page measures every model against;
#: ``lmeasure_rel_diff``, the largest per-feature median relative difference to L-Measure the features page accepts
#: for the length and count features (a fraction)
#: and the across-labs page's (issue 17, section 5; balanced accuracy): ``labs_dendrite_only`` and ``labs_full``, the
#: typing-free model on Allen VISp (never trained on) within each reconstruction type; ``labs_in_domain_free`` and
#: ``labs_in_domain_aware``, the best model of each view in rat S1 5-fold
TARGETS = {"rat_s1_2class_accuracy": 0.97, "lmeasure_rel_diff": 0.05, "labs_dendrite_only": 0.90, "labs_full": 0.85,
           "labs_in_domain_free": 0.93, "labs_in_domain_aware": 0.96}

PROFILE_SETTINGS = {
    "smoke": dict(n_per_class=12, tree_epochs=1, lstm_epochs=1, patience=1, max_len=200, cnn_epochs=1,
                  cnn_patience=1, image_size=32, lr_conv=1e-3, lr_head=1e-3, cnn_degrees=20.0, cnn_batch_size=16,
                  pretrain_epochs=0, fusion_head="late", threads=1, example_image_size=64, zjump_scan=40,
                  zhang12_per_class=6, virtual_per_class=12, virtual_image_size=32, virtual_cnn_epochs=1,
                  virtual_tree_epochs=1, virtual_lstm_epochs=1, max_steps=None,
                  labs_per_source_class=8, labs_gb_iter=20, labs_n_splits=5, labs_tmd_resolution=8,
                  labs_net_epochs=2),
    "cpu": dict(n_per_class=None, tree_epochs=8, lstm_epochs=4, patience=3, max_len=100, cnn_epochs=8,
                cnn_patience=3, image_size=48, lr_conv=1e-3, lr_head=1e-3, cnn_degrees=20.0, cnn_batch_size=32,
                pretrain_epochs=0, fusion_head="late", threads=1, example_image_size=96, zjump_scan=300,
                zhang12_per_class=300, virtual_per_class=500, virtual_image_size=32, virtual_cnn_epochs=3,
                virtual_tree_epochs=3, virtual_lstm_epochs=6, max_steps=None,
                labs_per_source_class=None, labs_gb_iter=200, labs_n_splits=5, labs_tmd_resolution=16,
                labs_net_epochs=150),
    "gpu": dict(n_per_class=None, tree_epochs=60, lstm_epochs=60, patience=10, max_len=1500, cnn_epochs=60,
                cnn_patience=10, image_size=224, lr_conv=1e-5, lr_head=1e-4, cnn_degrees=20.0, cnn_batch_size=64,
                pretrain_epochs=20, fusion_head="late", threads=8, example_image_size=224, zjump_scan=1500,
                zhang12_per_class=None, virtual_per_class=500, virtual_image_size=224, virtual_cnn_epochs=20,
                virtual_tree_epochs=20, virtual_lstm_epochs=20, max_steps=None,
                labs_per_source_class=None, labs_gb_iter=600, labs_n_splits=5, labs_tmd_resolution=32,
                labs_net_epochs=300),
}

#: the keys that configure the models (:func:`neuro_lib.morphology.experiment.chapter_models`)
MODEL_SETTINGS = ("tree_epochs", "lstm_epochs", "cnn_epochs", "patience", "max_len", "cnn_patience", "lr_conv",
                  "lr_head", "cnn_degrees", "cnn_batch_size", "pretrain_epochs", "fusion_head", "max_steps")

_INT = ("tree_epochs", "lstm_epochs", "patience", "max_len", "cnn_epochs", "cnn_patience", "image_size",
        "cnn_batch_size", "pretrain_epochs", "threads", "example_image_size", "zjump_scan", "virtual_per_class",
        "virtual_image_size", "virtual_cnn_epochs", "virtual_tree_epochs", "virtual_lstm_epochs", "labs_gb_iter",
        "labs_n_splits", "labs_tmd_resolution", "labs_net_epochs")


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``n_per_class`` (None: all cells), ``tree_epochs``/``lstm_epochs`` (most epochs of the Tree-LSTM and the
    LSTM), ``patience`` (early stopping of both, on the validation loss), ``max_len`` (LSTM steps), ``cnn_epochs``,
    ``cnn_patience`` (on the validation accuracy), ``image_size`` (pixels), ``lr_conv``/``lr_head`` (ResNet18),
    ``cnn_degrees`` (rotation augmentation range), ``cnn_batch_size``, ``pretrain_epochs`` (autoencoder, 0: none),
    ``fusion_head`` (``"late"``, ``"val"`` or ``"train"``, see
    :func:`neuro_lib.morphology.experiment.chapter_models`), ``threads`` (torch CPU threads), ``max_steps`` (cap on
    every network fit's optimisation steps, None: none), and the other pages' knobs of the module docstring. Raises
    ``ValueError`` for an unknown profile or key.
    """
    return profiles.settings(profile, PROFILE_SETTINGS, overrides, ints=_INT, what="morphology")


def virtual_settings(profile: str, *, n_per_class: int | None = None, epochs: int | None = None,
                     image_size: int | None = None, threads: int | None = None, max_steps: int | None = None) -> dict:
    """The settings of the virtual-set page: :func:`settings` of ``profile`` with ``n_per_class`` the virtual cells
    per class, ``image_size`` the virtual image size and ``cnn_epochs``/``tree_epochs``/``lstm_epochs`` the
    virtual ones (``epochs``, when not ``None``, for all three); the other network settings are the real-cell
    pages'. Raises ``ValueError`` for an unknown profile."""
    cfg = settings(profile, threads=threads, max_steps=max_steps, virtual_per_class=n_per_class,
                   virtual_image_size=image_size,
                   **{f"virtual_{m}_epochs": epochs for m in ("cnn", "tree", "lstm")})
    return dict(cfg, n_per_class=cfg["virtual_per_class"], image_size=cfg["virtual_image_size"],
                **{f"{m}_epochs": cfg[f"virtual_{m}_epochs"] for m in ("cnn", "tree", "lstm")})
