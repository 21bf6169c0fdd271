"""Patch classification around candidate cells by transfer learning (Seong & Park, Tables 1 and 2).

* :func:`make_patch_dataset` cuts patches (default 101x101 pixels) around true ROI centres (label 1, "cell") and
  around not-cell locations (label 0): candidates of a detector that match no ROI, topped up by random background
  points away from every ROI. A user with labelled patches (e.g. excitatory / inhibitory / glia from a red channel)
  skips it and passes their own ``(patches, labels)``.
* :func:`augment_patches`: the paper's augmentation, rotation in [-30, 30] degrees and scale in [0.9, 1.1].
* :func:`transfer_cv`: k-fold (10 in the paper) stratified cross-validation of a torchvision network retrained from
  the block ``trainable_from``. Frozen blocks are a fixed function, so their output is computed once per
  (augmented) patch and only the trainable blocks run in the training loop: the same model and the same result as
  running the whole network, for a fraction of the CPU time (augmentations are then ``n_aug`` fixed draws per
  patch instead of a fresh draw per epoch). When nothing is frozen, every batch gets a fresh augmentation draw.
  Optional test-time augmentation averages the softmax over the 8 symmetries of the square (:func:`dihedral`).
* :func:`pretrain_autoencoder`: self-supervised initialisation on unlabelled patches when no ImageNet weights can be
  downloaded; saves the trunk for ``weights=PATH``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..evaluation import classification_metrics, repeated_stratified_kfold
from ..models.transfer import AutoencoderPretrainer, TransferNet, build_transfer_model, layer_names, save_trunk
from ..training import fit, seed_everything
from .detection import extract_patches, match_centers

__all__ = ["make_patch_dataset", "augment_patches", "dihedral", "split_model", "transfer_cv", "CVResult",
           "pretrain_autoencoder", "random_patch_centres"]


def random_patch_centres(shape: tuple[int, int], n: int, rng: np.random.Generator, *, avoid: np.ndarray | None = None,
                         min_dist: float = 0.0, forbidden: np.ndarray | None = None, margin: int = 0) -> np.ndarray:
    """``n`` random (row, col) integer centres in an image of ``shape``, at least ``margin`` from the border, at
    least ``min_dist`` pixels from every point of ``avoid`` (k, 2) and not on a True pixel of ``forbidden``.
    Raises ``ValueError`` if they cannot be placed."""
    from scipy.spatial import cKDTree

    tree = cKDTree(avoid) if avoid is not None and len(avoid) else None
    out = []
    for _ in range(1000 * max(n, 1)):
        if len(out) == n:
            break
        p = np.array([rng.integers(margin, shape[0] - margin), rng.integers(margin, shape[1] - margin)])
        if forbidden is not None and forbidden[p[0], p[1]]:
            continue
        if tree is not None and tree.query(p)[0] < min_dist:
            continue
        out.append(p)
    if len(out) < n:
        raise ValueError(f"could place only {len(out)} of {n} random centres")
    return np.asarray(out, float).reshape(-1, 2)


def make_patch_dataset(image: np.ndarray, truth: np.ndarray, cell_mask: np.ndarray, *,
                       candidates: np.ndarray | None = None, n_negative: int | None = None, size: int = 101,
                       out_size: int | None = None, min_dist: float = 8.0, match_threshold: float = 5.0,
                       jitter: int = 0, seed: int = 0) -> dict:
    """Cell / not-cell patches.

    ``image`` (channels, rows, cols); ``truth`` (n, 2) true ROI centres (row, col); ``cell_mask`` (rows, cols) True on
    ROI pixels. Negatives are the ``candidates`` (k, 2) that match no true centre within ``match_threshold`` pixels
    and lie at least ``min_dist`` from every true centre and off ``cell_mask``, then random points with the same
    rules, up to ``n_negative`` (default: as many as positives).

    ``jitter`` (pixels): every patch centre, of either class, is then moved by a seeded uniform integer offset in
    [-jitter, jitter] along each axis (and kept on the image). Without it the two classes differ in *how* they are
    centred, not only in what they show: a candidate is exactly a local maximum of the detector's image, an ROI
    centre is a centroid, and a network can learn that difference instead of what a cell looks like (the patch
    page of the book measures how much).

    Returns ``{"x": (N, channels, S, S) float32, "y": (N,) int64 (1 = cell), "centres": (N, 2), "source": (N,) str
    ("roi", "candidate", "random"), "class_names": ["not cell", "cell"]}``.
    """
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, float).reshape(-1, 2)
    n_negative = len(truth) if n_negative is None else n_negative
    neg = np.zeros((0, 2))
    if candidates is not None and len(candidates):
        cand = np.asarray(candidates, float).reshape(-1, 2)
        unmatched = np.ones(len(cand), bool)
        unmatched[match_centers(truth, cand, match_threshold)[match_centers(truth, cand, match_threshold) >= 0]] = False
        from scipy.spatial import cKDTree

        far = cKDTree(truth).query(cand)[0] >= min_dist if len(truth) else np.ones(len(cand), bool)
        ri = np.clip(np.rint(cand).astype(int), 0, np.array(cell_mask.shape) - 1)
        off = ~cell_mask[ri[:, 0], ri[:, 1]]
        neg = cand[unmatched & far & off]
        if len(neg) > n_negative:
            neg = neg[rng.choice(len(neg), n_negative, replace=False)]
    n_cand = len(neg)
    if n_negative > n_cand:
        rand = random_patch_centres(cell_mask.shape, n_negative - n_cand, rng, avoid=np.vstack([truth, neg]),
                                    min_dist=min_dist, forbidden=cell_mask)
        neg = np.vstack([neg, rand])
    centres = np.vstack([truth, neg])
    if jitter:
        offsets = rng.integers(-int(jitter), int(jitter) + 1, size=centres.shape)
        centres = np.clip(np.rint(centres) + offsets, 0, np.array(cell_mask.shape) - 1).astype(float)
    y = np.r_[np.ones(len(truth), np.int64), np.zeros(len(neg), np.int64)]
    source = np.array(["roi"] * len(truth) + ["candidate"] * n_cand + ["random"] * (len(neg) - n_cand))
    x = extract_patches(image, centres, size, out_size)
    return {"x": x, "y": y, "centres": centres, "source": source, "class_names": ["not cell", "cell"]}


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th (0 to 7) of the 8 symmetries of the square applied to patches ``x`` (batch, channels, rows,
    cols): ``k % 4`` quarter turns, then a left-right mirror if ``k >= 4``. ``k = 0`` is the identity."""
    x = torch.rot90(x, k % 4, (-2, -1))
    return x.flip(-1) if k >= 4 else x


def augment_patches(x: torch.Tensor, generator: torch.Generator, *, max_angle: float = 30.0,
                    scale: tuple[float, float] = (0.9, 1.1), flips: bool = False, translate: float = 0.0
                    ) -> torch.Tensor:
    """Rotate each patch of ``x`` (batch, channels, rows, cols) by a uniform angle in [-max_angle, max_angle]
    degrees and scale it by a uniform factor in ``scale`` about its centre (bilinear, zeros outside), as Seong & Park
    augment their patches. With ``translate`` (a fraction of the patch side, as torchvision's ``RandomAffine``), each
    patch is also shifted by a uniform amount in [-translate, translate] times its side along each axis. With
    ``flips``, each patch also gets one of the 8 symmetries of the square (:func:`dihedral`) at random (a cell has
    no preferred orientation). Returns a new tensor of the same shape."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=generator) * 2 - 1) * max_angle * np.pi / 180
    s = torch.rand(n, generator=generator) * (scale[1] - scale[0]) + scale[0]
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    # affine_grid works in coordinates where the patch spans [-1, 1]: a shift of f times the side is 2 f there
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 2 * translate if translate else torch.zeros(n, 2)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if flips:
        ks = torch.randint(8, (n,), generator=generator)
        out = torch.cat([dihedral(out[i:i + 1], int(k)) for i, k in enumerate(ks)]) if n else out
    return out


def _ops(model: TransferNet) -> list[tuple[str, nn.Module]]:
    n = model.net
    if model.arch == "inception_v3":
        seq = []
        for name in layer_names("inception_v3")[:-1]:
            seq.append((name, getattr(n, name)))
            if name == "Conv2d_2b_3x3":
                seq.append(("maxpool1", n.maxpool1))
            if name == "Conv2d_4a_3x3":
                seq.append(("maxpool2", n.maxpool2))
        return seq + [("avgpool", n.avgpool), ("dropout", n.dropout), ("flatten", nn.Flatten()), ("fc", n.fc)]
    return [("conv1", n.conv1), ("bn1", n.bn1), ("relu", n.relu), ("maxpool", n.maxpool), ("layer1", n.layer1),
            ("layer2", n.layer2), ("layer3", n.layer3), ("layer4", n.layer4), ("avgpool", n.avgpool),
            ("flatten", nn.Flatten()), ("fc", n.fc)]


def split_model(model: TransferNet) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a :class:`TransferNet` into its frozen prefix and trainable suffix (both ``nn.Sequential``) such that
    ``suffix(prefix(x)) == model(x)`` in eval mode. The prefix is empty when nothing is frozen."""
    ops = _ops(model)
    first = model.trainable_blocks()[0]
    k = [name for name, _ in ops].index(first)
    return nn.Sequential(*[m for _, m in ops[:k]]), nn.Sequential(*[m for _, m in ops[k:]])


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5) / 0.25


@torch.no_grad()
def _prefix_features(prefix: nn.Module, x: torch.Tensor, batch: int = 128) -> torch.Tensor:
    prefix.eval()
    if len(prefix) == 0:
        return x
    return torch.cat([prefix(x[i:i + batch]) for i in range(0, len(x), batch)])


@dataclass
class CVResult:
    """Out-of-fold predictions of :func:`transfer_cv`: ``per_fold`` metric dicts, ``y_true``/``y_pred`` (n,) for
    every patch (each predicted by the fold that held it out), ``histories``, ``seconds``."""

    per_fold: list
    y_true: np.ndarray
    y_pred: np.ndarray
    histories: list = field(default_factory=list)
    seconds: float = 0.0


def transfer_cv(x: np.ndarray, y: np.ndarray, arch: str, *, trainable_from: str | None = None,
                weights: str | Path | None = None, n_splits: int = 10, input_size: int = 224, epochs: int = 10,
                n_aug: int = 4, batch_size: int = 32, lr: float = 1e-3, schedule: str = "constant",
                flips: bool = False, translate: float = 0.0, tta: bool = False, seed: int = 0, device="cpu",
                progress: bool = False) -> CVResult:
    """Stratified ``n_splits``-fold CV of ``arch`` retrained from ``trainable_from`` on patches ``x`` (n, 3, S, S)
    in [0, 1] with labels ``y`` (n,) (any number of classes).

    Patches are resized to ``input_size``. Augmentation (:func:`augment_patches`, with random symmetries of the
    square if ``flips`` and shifts of up to ``translate`` times the side): when a prefix of the network is frozen,
    each training patch is used as is plus ``n_aug`` augmented copies drawn once (their frozen features are computed
    once); when nothing is frozen
    (``trainable_from`` is the first block or ``None``), every batch of every epoch gets a fresh draw and ``n_aug``
    is not used. A fold trains on its training patches only (Adam, ``lr`` constant or, with
    ``schedule="cosine"``, decayed to 0 along a half cosine) and predicts its test patches unaugmented, or with
    ``tta`` by the mean softmax over the 8 symmetries of the square (:func:`dihedral`). Returns a
    :class:`CVResult`. Raises ``ValueError`` for an unknown ``schedule``.
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    t0 = time.time()
    x = torch.from_numpy(np.asarray(x, np.float32))
    y = np.asarray(y, np.int64)
    k = int(y.max()) + 1
    if x.shape[-1] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    x = _normalise(x)
    # The frozen prefix is the same function in every fold (same seed, same weights), so each patch and its n_aug
    # augmented copies (drawn per patch, independent of the split) pass through it once; a fold trains on the copies
    # of its training patches only and is tested on its test patches as they are.
    seed_everything(seed)
    prefix, _ = split_model(build_transfer_model(arch, k, trainable_from=trainable_from, weights=weights))
    online = len(prefix) == 0
    gen = torch.Generator().manual_seed(seed)
    if online:
        feats = [x]
    else:
        feats = [_prefix_features(prefix, x)] + [_prefix_features(prefix, augment_patches(x, gen, flips=flips,
                                                                                          translate=translate))
                                                 for _ in range(n_aug)]
    test_feats = [feats[0]] + ([_prefix_features(prefix, dihedral(x, j)) for j in range(1, 8)] if tta else [])
    y_pred = np.full(len(y), -1)
    per_fold, hists = [], []
    for f, (tr, te) in enumerate(repeated_stratified_kfold(y, n_splits=n_splits, seed=seed)):
        seed_everything(seed)
        model = build_transfer_model(arch, k, trainable_from=trainable_from, weights=weights)
        _, suffix = split_model(model)
        ftr = torch.cat([fa[tr] for fa in feats])
        ytr = torch.from_numpy(np.tile(y[tr], len(feats)))
        opt = torch.optim.Adam([p for p in suffix.parameters() if p.requires_grad], lr=lr)
        fold_gen = torch.Generator().manual_seed(seed + 1000 * (f + 1))

        def step(m, batch, progress, opt=opt, fold_gen=fold_gen):
            if schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * progress))
            xb, yb = batch
            if online:
                xb = augment_patches(xb.cpu(), fold_gen, flips=flips, translate=translate).to(xb.device)
            return F.cross_entropy(m(xb), yb)

        h = fit(suffix, (ftr, ytr), None, train_step=step, optimizer=opt, epochs=epochs, batch_size=batch_size,
                seed=seed + f, device=device, progress=progress, desc=f"{arch} from {trainable_from}, fold {f}")
        suffix.eval()
        dev = next(suffix.parameters()).device
        with torch.no_grad():
            prob = torch.stack([torch.softmax(suffix(tf[te].to(dev)), 1).cpu() for tf in test_feats]).mean(0)
        y_pred[te] = prob.argmax(1).numpy()
        per_fold.append(classification_metrics(y[te], y_pred[te]))
        hists.append(h)
    return CVResult(per_fold, y, y_pred, hists, time.time() - t0)


def pretrain_autoencoder(arch: str, patches: np.ndarray, path: str | Path, *, input_size: int = 64, epochs: int = 3,
                         batch_size: int = 32, lr: float = 1e-3, seed: int = 0, device="cpu",
                         progress: bool = False) -> dict:
    """Self-supervised initialisation: train ``arch``'s trunk as the encoder of an :class:`AutoencoderPretrainer`
    (mean squared reconstruction error) on unlabelled ``patches`` (n, 3, S, S) in [0, 1], augmented by
    :func:`augment_patches`; save the trunk to ``path`` (load it with ``weights=path``).
    Returns ``{"path", "train_loss": per-epoch list, "seconds"}``."""
    t0 = time.time()
    seed_everything(seed)
    x = torch.from_numpy(np.asarray(patches, np.float32))
    if x.shape[-1] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    x = _normalise(x)
    model = build_transfer_model(arch, 2)
    ae = AutoencoderPretrainer(model, x.shape[1])
    gen = torch.Generator().manual_seed(seed)

    def step(m, batch, progress):
        (xb,) = batch
        xb = augment_patches(xb, gen)
        return F.mse_loss(m(xb), xb)

    h = fit(ae, (x,), None, train_step=step, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
            progress=progress, desc=f"autoencoder pretraining of {arch}")
    save_trunk(model.cpu(), path)
    return {"path": Path(path), "train_loss": h.train_loss, "seconds": time.time() - t0}
