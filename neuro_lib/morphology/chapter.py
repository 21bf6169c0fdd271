"""Run settings of the chapter's learned models per profile, shared by ``03_cnn``, ``04_sequence_models``,
``05_fusion`` and ``06_tsne`` so that they train the same networks on the same folds (and the later pages reuse
the earlier pages' trained branches from the cache, :mod:`neuro_lib.models.fusion`).

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
  validation cells (:func:`neuro_lib.models.fusion.cross_validate_late_fusion`), instead of the paper's 3-layer
  head trained end to end on the concatenated 640-d features. The fusion page reports both; the 3-layer head on
  ~120 unseen cells per fold does worse than its best branch.

``gpu``: the paper's sizes (224-pixel images, sequences of 1,500, Table 2's learning rates, 60 epochs, autoencoder
pretraining of the ResNet18 on the unlabelled cells).
"""
from __future__ import annotations

from .. import profiles

__all__ = ["PROFILE_SETTINGS", "settings", "model_kwargs"]

PROFILE_SETTINGS = {
    "smoke": dict(n_per_class=12, tree_epochs=1, lstm_epochs=1, patience=1, max_len=200, cnn_epochs=1,
                  cnn_patience=1, image_size=32, lr_conv=1e-3, lr_head=1e-3, cnn_degrees=20.0, cnn_batch_size=16,
                  pretrain_epochs=0, fusion_head="late", threads=1),
    "cpu": dict(n_per_class=None, tree_epochs=8, lstm_epochs=4, patience=3, max_len=100, cnn_epochs=8,
                cnn_patience=3, image_size=48, lr_conv=1e-3, lr_head=1e-3, cnn_degrees=20.0, cnn_batch_size=32,
                pretrain_epochs=0, fusion_head="late", threads=1),
    "gpu": dict(n_per_class=None, tree_epochs=60, lstm_epochs=60, patience=10, max_len=1500, cnn_epochs=60,
                cnn_patience=10, image_size=224, lr_conv=1e-5, lr_head=1e-4, cnn_degrees=20.0, cnn_batch_size=64,
                pretrain_epochs=20, fusion_head="late", threads=8),
}

_INT = ("tree_epochs", "lstm_epochs", "patience", "max_len", "cnn_epochs", "cnn_patience", "image_size",
        "cnn_batch_size", "pretrain_epochs", "threads")


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``n_per_class`` (None: all cells), ``tree_epochs``/``lstm_epochs`` (most epochs of the Tree-LSTM and the
    LSTM), ``patience`` (early stopping of both, on the validation loss), ``max_len`` (LSTM steps), ``cnn_epochs``,
    ``cnn_patience`` (on the validation accuracy), ``image_size`` (pixels), ``lr_conv``/``lr_head`` (ResNet18),
    ``cnn_degrees`` (rotation augmentation range), ``cnn_batch_size``, ``pretrain_epochs`` (autoencoder, 0: none),
    ``fusion_head`` (``"late"``, ``"val"`` or ``"train"``, see :func:`neuro_lib.models.fusion.cross_validate_all`),
    ``threads`` (torch CPU threads). Raises ``ValueError`` for an unknown profile or key.
    """
    cfg = profiles.settings(profile, PROFILE_SETTINGS, overrides, ints=_INT, what="morphology")
    return cfg


_MODEL_KEYS = ("tree_epochs", "lstm_epochs", "cnn_epochs", "patience", "max_len", "cnn_patience", "lr_conv",
               "lr_head", "cnn_degrees", "cnn_batch_size", "pretrain_epochs", "fusion_head")


def model_kwargs(cfg: dict) -> dict:
    """The keywords of :func:`neuro_lib.models.fusion.cross_validate_all` taken from a :func:`settings` dict."""
    return {k: cfg[k] for k in _MODEL_KEYS}
