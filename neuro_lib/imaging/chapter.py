"""Run settings of the imaging chapter per profile, shared by its pages (one flat table; each page reads its keys).

``smoke`` (tests): 40 frames on page 1, one-epoch U-Nets of 4 channels on 64-pixel crops, 40 patches in 2 folds.
``cpu`` (the default; measured on one torch thread of a shared 2-core machine, see each page for its time): the
whole movie, U-Nets of 16 channels and 3 pooling stages on 64-pixel crops (12 epochs of 256 crops per held-out
quadrant), 21-pixel patches upsampled to 32 pixels (75 for Inception-v3), 10-fold CV, ResNet18 trained from
``conv1`` and the three networks' final layers. ``gpu``: the paper's scale (101-pixel patches at 224/299 pixels,
every retraining depth of Table 1, both initialisations, larger U-Nets).

Keys (page: what):

* 01: ``n_frames`` (frames read; ``None`` = all).
* 02: ``unet_epochs``, ``unet_crops_per_epoch``, ``unet_crop`` (pixels), ``unet_base`` (channels at the first
  stage), ``unet_depth`` (pooling stages), ``unet_batch_size``; the grids suite2p's settings are chosen from on
  the training quadrants: ``s2p_threshold_scaling``, ``s2p_diameter`` (pixels; with ``sparsery`` it changes only
  the ROI statistics, so only what the classifier makes of them) and ``s2p_iscell`` (cuts on its classifier's
  probability).
* 03: ``patch_epochs`` (networks that train more than their final layer), ``patch_epochs_fc`` (final layer only),
  ``n_splits`` (folds), ``patch_size`` (pixels around a centre), ``n_aug`` (fixed augmented copies per patch when a
  prefix is frozen), ``n_patches`` (subset, ``None`` = all), ``ae_epochs``/``ae_patches`` (autoencoder
  pretraining), ``patch_batch_size``, ``patch_lr``, ``input_size`` (per architecture), ``runs`` ((architecture,
  first trained block, ``"random"`` or ``"pretrained"``) per row of Table 1).
* 04: ``max_candidates`` (per quadrant; ``None`` = every candidate; the smoke profile caps a barely trained U-Net's
  thousands of peaks), ``pipe_epochs`` and ``pipe_pretrain_epochs`` (the second stage's training and autoencoder
  epochs: it trains on a few hundred candidates per split, so it needs more epochs than page 3's networks for the
  same number of steps).
* 02-04: ``n_seeds`` (the U-Nets of page 2, page 3's best configuration of Table 1 and page 4's pipeline are trained
  with ``seed``, ``seed + 1``, ...: the headline numbers are the mean over seeds with their sd; smoke 2, cpu 3,
  gpu 5).
* all: ``threads`` (torch CPU threads: 1 is robust on a shared 2-core machine, where 2 oversubscribes it) and
  ``max_steps`` (``None`` in every profile: no cap; the ``gpu_profile`` tests cap every network's optimisation
  steps, autoencoder pretraining included, to run the gpu configuration on a CPU).
"""
from __future__ import annotations

from .. import profiles

__all__ = ["PROFILE_SETTINGS", "settings", "patch_model_name", "patch_network", "unet_segmenter",
           "pipeline_classifier"]

_SMALL = {"resnet18": 32, "resnet50": 32, "inception_v3": 75}
_PAPER = {"resnet18": 224, "resnet50": 224, "inception_v3": 299}
_GPU_RUNS = [(a, b, i) for i in ("random", "pretrained") for a, blocks in [
    ("resnet18", ("fc", "layer4", "layer3", "layer2", "conv1")),
    ("resnet50", ("fc", "layer4", "layer3", "layer2", "conv1")),
    ("inception_v3", ("fc", "Mixed_7a", "Mixed_6a", "Mixed_5b", "Conv2d_1a_3x3"))] for b in blocks]

PROFILE_SETTINGS = {
    "smoke": dict(
        threads=1, n_frames=40,
        unet_epochs=1, unet_crops_per_epoch=4, unet_crop=64, unet_base=4, unet_depth=2, unet_batch_size=4,
        s2p_threshold_scaling=(1.0,), s2p_diameter=(10,), s2p_iscell=(0.5,),
        patch_epochs=1, patch_epochs_fc=1, n_splits=2, patch_size=21, n_aug=0, n_patches=40, ae_epochs=1,
        ae_patches=32, patch_batch_size=32, patch_lr=1e-3, input_size=_SMALL, max_candidates=40,
        pipe_epochs=1, pipe_pretrain_epochs=1, max_steps=None, n_seeds=2,
        runs=[("resnet18", "fc", "random"), ("resnet18", "fc", "pretrained"), ("resnet18", "conv1", "pretrained"),
              ("inception_v3", "fc", "pretrained")]),
    "cpu": dict(
        threads=1, n_frames=None,
        unet_epochs=12, unet_crops_per_epoch=256, unet_crop=64, unet_base=16, unet_depth=3, unet_batch_size=8,
        s2p_threshold_scaling=(0.3, 0.5, 0.7, 1.0, 1.5), s2p_diameter=(8, 10, 12), s2p_iscell=(0.25, 0.5, 0.75),
        patch_epochs=8, patch_epochs_fc=30, n_splits=10, patch_size=21, n_aug=1, n_patches=None, ae_epochs=2,
        ae_patches=600, patch_batch_size=64, patch_lr=2e-3, input_size=_SMALL, max_candidates=None,
        pipe_epochs=30, pipe_pretrain_epochs=5, max_steps=None, n_seeds=3,
        runs=[("resnet18", "fc", "random"), ("resnet18", "fc", "pretrained"), ("resnet18", "conv1", "pretrained"),
              ("resnet50", "fc", "random"), ("inception_v3", "fc", "random")]),
    "gpu": dict(
        threads=4, n_frames=None,
        unet_epochs=100, unet_crops_per_epoch=512, unet_crop=128, unet_base=32, unet_depth=4, unet_batch_size=16,
        s2p_threshold_scaling=(0.25, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0), s2p_diameter=(6, 8, 10, 12, 14),
        s2p_iscell=(0.25, 0.5, 0.75),
        patch_epochs=30, patch_epochs_fc=60, n_splits=10, patch_size=101, n_aug=8, n_patches=None, ae_epochs=20,
        ae_patches=5000, patch_batch_size=32, patch_lr=1e-3, input_size=_PAPER, runs=_GPU_RUNS,
        max_candidates=None, pipe_epochs=60, pipe_pretrain_epochs=20, max_steps=None, n_seeds=5),
}

_INT = ("n_seeds", "pipe_epochs", "pipe_pretrain_epochs", "threads", "unet_epochs", "unet_crops_per_epoch", "unet_crop",
        "unet_base", "unet_depth", "unet_batch_size",
        "patch_epochs", "patch_epochs_fc", "n_splits", "patch_size", "n_aug", "ae_epochs", "ae_patches",
        "patch_batch_size")


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring for the keys) with every override that is not ``None``
    applied (:func:`neuro_lib.profiles.settings`). Raises ``ValueError`` for an unknown profile or key."""
    cfg = profiles.settings(profile, PROFILE_SETTINGS, overrides, ints=_INT, what="imaging")
    if cfg["n_seeds"] < 1:
        raise ValueError(f"n_seeds must be at least 1, got {cfg['n_seeds']}")
    cfg["runs"] = [tuple(r) for r in cfg["runs"]]
    cfg["input_size"] = dict(cfg["input_size"])
    return cfg


def patch_model_name(arch: str, block: str, init: str) -> str:
    """The results-key model name of one row of Table 1, e.g. ``resnet18_conv1_autoencoder``."""
    return f"{arch}_{block}_{init}"


def patch_network(cfg: dict, arch: str, block: str, *, weights: str | None = None, schedule: str = "cosine",
                  flips: bool = True, tta: bool = True, device: str = "cpu"):
    """Table 1's estimator (:class:`~neuro_lib.imaging.patches.TransferClassifier`) for ``arch`` retrained from
    ``block`` with the settings ``cfg`` (:func:`settings`) and page 3's defaults: a cosine learning-rate decay,
    random symmetries of the square as augmentation, and test-time augmentation for a network trained from its first
    block (``tta`` is ignored otherwise: a frozen trunk is tested on the patches as they are)."""
    from ..models.transfer import layer_names
    from .patches import TransferClassifier

    epochs = cfg["patch_epochs_fc"] if block == "fc" else cfg["patch_epochs"]
    return TransferClassifier(arch, block, weights=weights, input_size=cfg["input_size"][arch], n_aug=cfg["n_aug"],
                              lr=cfg["patch_lr"], epochs=epochs,
                              batch_size=cfg["patch_batch_size"], schedule=schedule, flips=flips,
                              tta=bool(tta and block == layer_names(arch)[0]), max_steps=cfg["max_steps"],
                              device=device)


def unet_segmenter(cfg: dict, *, device: str = "cpu"):
    """Page 2's U-Net (:class:`~neuro_lib.imaging.segmentation.UNetSegmenter`) with the settings ``cfg``; page 4
    builds the same one, so it reuses page 2's fitted networks from the cache."""
    from .segmentation import UNetSegmenter

    return UNetSegmenter(base=cfg["unet_base"], depth=cfg["unet_depth"], epochs=cfg["unet_epochs"],
                         crops_per_epoch=cfg["unet_crops_per_epoch"], crop=cfg["unet_crop"],
                         batch_size=cfg["unet_batch_size"], max_steps=cfg["max_steps"], device=device)


def pipeline_classifier(cfg: dict, *, device: str = "cpu"):
    """Page 4's second stage: page 3's ResNet18 trained from ``conv1`` (:func:`patch_network`) for ``pipe_epochs``,
    its trunk first pretrained as an autoencoder for ``pipe_pretrain_epochs`` on its own training patches, so that
    nothing of a held-out quadrant is seen."""
    net = patch_network(cfg, "resnet18", "conv1", device=device)
    return net.set_params(epochs=cfg["pipe_epochs"], pretrain_epochs=cfg["pipe_pretrain_epochs"])
