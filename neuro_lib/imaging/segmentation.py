"""U-Net training on summary images with disjoint training and test regions (Seong & Park's segmentation stage).

The field of view is cut into four quadrants; for each quadrant a U-Net is trained on random crops from the other
three (with elastic deformation, flips and rotations) and predicts the held-out quadrant, so every pixel's
prediction comes from a network that never saw it. :func:`cross_quadrant_unet` returns the stitched held-out
probability map and the training curves.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage as ndi
from torch.utils.data import Dataset

from ..models.unet import UNet
from ..training import fit, resolve_device, seed_everything
from .detection import centers_metric, detect_peaks, in_region, peaks_with_heights, quadrant_slices

__all__ = ["elastic_deform", "augment_pair", "CropDataset", "predict_unet", "QuadrantResult",
           "cross_quadrant_unet", "BCEDiceLoss", "lr_factor", "region_f1", "choose_thresholds"]


class BCEDiceLoss(torch.nn.Module):
    """Binary cross-entropy on logits (cells weighted by ``pos_weight`` against the ~10:1 background majority) plus
    the soft Dice loss 1 - 2|P.T| / (|P| + |T|) over the batch (Milletari et al. 2016), for soft targets in [0, 1]."""

    def __init__(self, pos_weight: float = 1.0, dice: float = 1.0):
        super().__init__()
        self.pos_weight, self.dice = float(pos_weight), float(dice)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pw = torch.tensor(self.pos_weight, device=logits.device)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
        if self.dice:
            p = torch.sigmoid(logits)
            loss = loss + self.dice * (1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1))
        return loss


def elastic_deform(arrays: list[np.ndarray], rng: np.random.Generator, alpha: float = 8.0, sigma: float = 4.0
                   ) -> list[np.ndarray]:
    """Elastic deformation (Simard et al. 2003, as in the U-Net paper): one random displacement field, Gaussian
    smoothed with ``sigma`` pixels and scaled to ``alpha`` pixels, applied (bilinear) to every array of
    ``arrays`` (each (..., rows, cols), same rows and cols)."""
    H, W = arrays[0].shape[-2:]
    dr = ndi.gaussian_filter(rng.uniform(-1, 1, (H, W)), sigma) * alpha
    dc = ndi.gaussian_filter(rng.uniform(-1, 1, (H, W)), sigma) * alpha
    rr, cc = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    coords = np.stack([rr + dr, cc + dc])
    out = []
    for a in arrays:
        flat = a.reshape(-1, H, W)
        warped = np.stack([ndi.map_coordinates(ch, coords, order=1, mode="reflect") for ch in flat])
        out.append(warped.reshape(a.shape).astype(a.dtype))
    return out


def augment_pair(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, elastic: bool = True,
                 max_angle: float = 180.0) -> tuple[np.ndarray, np.ndarray]:
    """Random flips, a rotation by a uniform angle in [-max_angle, max_angle] degrees, and (optionally) an elastic
    deformation, applied identically to an input ``x`` (channels, rows, cols) and its target ``y`` (rows, cols)."""
    if rng.random() < 0.5:
        x, y = x[..., ::-1], y[..., ::-1]
    if rng.random() < 0.5:
        x, y = x[..., ::-1, :], y[..., ::-1, :]
    k = int(rng.integers(4))
    x, y = np.rot90(x, k, axes=(-2, -1)), np.rot90(y, k, axes=(-2, -1))
    angle = rng.uniform(-max_angle, max_angle) if max_angle else 0.0
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    if angle % 90:
        x = ndi.rotate(x, angle, axes=(-2, -1), reshape=False, order=1, mode="reflect")
        y = ndi.rotate(y, angle, axes=(-2, -1), reshape=False, order=1, mode="reflect")
    if elastic:
        x, y = elastic_deform([x, y], rng)
    return x.astype(np.float32), y.astype(np.float32)


class CropDataset(Dataset):
    """``n`` random ``crop``-pixel crops of ``image`` (channels, rows, cols) and ``target`` (rows, cols) that lie
    inside ``allowed`` (a boolean (rows, cols) mask: the training region), augmented by :func:`augment_pair` when
    ``augment``. With ``redraw`` (default) every access draws a new crop position among all the positions that fit
    in ``allowed``, so each epoch sees different crops; otherwise ``n`` positions are drawn once. Positions and
    augmentations come from a generator seeded by ``seed``, the index and the access count, so a run is
    reproducible. Raises ``ValueError`` if no crop fits inside ``allowed``."""

    def __init__(self, image: np.ndarray, target: np.ndarray, allowed: np.ndarray, n: int, crop: int = 96, *,
                 seed: int = 0, augment: bool = True, elastic: bool = True, redraw: bool = True):
        H, W = target.shape
        if crop > min(H, W):
            raise ValueError(f"crop {crop} is larger than the image {H}x{W}")
        integral = np.pad(np.cumsum(np.cumsum(~np.asarray(allowed, bool), 0), 1), ((1, 0), (1, 0)))
        bad = integral[crop:, crop:] - integral[:-crop, crop:] - integral[crop:, :-crop] + integral[:-crop, :-crop]
        self.valid = np.argwhere(bad == 0)
        if not len(self.valid):
            raise ValueError(f"no crop of {crop} px fits inside the training region")
        rng = np.random.default_rng(seed)
        self.pos = [tuple(p) for p in self.valid[rng.integers(len(self.valid), size=n)]]
        self.image, self.target, self.crop, self.redraw = image, target, crop, redraw
        self.augment, self.elastic, self.seed, self.calls = augment, elastic, seed, 0

    def __len__(self) -> int:
        return len(self.pos)

    def __getitem__(self, i):
        self.calls += 1
        rng = np.random.default_rng((self.seed, i, self.calls))
        r, c = self.valid[rng.integers(len(self.valid))] if self.redraw else self.pos[i]
        x = self.image[:, r:r + self.crop, c:c + self.crop]
        y = self.target[r:r + self.crop, c:c + self.crop]
        if self.augment:
            x, y = augment_pair(x, y, rng, elastic=self.elastic)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))[None]


@torch.no_grad()
def predict_unet(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """Cell probability (rows, cols) in [0, 1]: the sigmoid of the U-Net's output for a whole (channels, rows, cols)
    image."""
    model.eval()
    dev = next(model.parameters()).device
    x = torch.from_numpy(np.asarray(image, np.float32))[None].to(dev)
    return torch.sigmoid(model(x))[0, 0].cpu().numpy()


def lr_factor(progress: float, warmup: float = 0.1) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of training: a linear warm-up from 0.1 to 1 over the first
    ``warmup`` fraction, then a cosine decay to 0 (Loshchilov & Hutter 2017, "SGDR")."""
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + np.cos(np.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def region_f1(truth: np.ndarray, found: np.ndarray, region: np.ndarray, threshold: float = 5.0) -> dict:
    """Neurofinder's centre metric (:func:`~.detection.centers_metric`) on the true and found centres (n, 2)
    (row, col) whose rounded position falls on a True pixel of ``region`` (boolean (rows, cols))."""
    def inside(c):
        c = np.asarray(c, float).reshape(-1, 2)
        ri = np.clip(np.rint(c).astype(int), 0, np.array(region.shape) - 1)
        return c[region[ri[:, 0], ri[:, 1]]]

    return centers_metric(inside(truth), inside(found), threshold)


def choose_thresholds(prob: np.ndarray, mask: np.ndarray, truth: np.ndarray, region: np.ndarray, *,
                      pixel_grid=None, peak_grid=None, sigmas=(1.0, 2.0), min_distance: int = 4) -> dict:
    """Choose a network's thresholds on its training region only.

    ``prob`` (rows, cols) the network's probability map, ``mask`` (rows, cols) the manual ROI mask, ``truth`` (n, 2)
    the ROI centres, ``region`` (rows, cols) boolean: the pixels the thresholds may be chosen on. The pixel threshold
    maximises pixel accuracy on ``region``; the peak detector's threshold and smoothing (:func:`detect_peaks`)
    maximise Neurofinder's F1 on the ROIs in ``region`` (ties: the middle of the best thresholds). Returns
    ``{"pixel": float, "peak": float, "sigma": float, "train_pixel_accuracy": float, "train_f1": float}``.
    """
    pixel_grid = np.round(np.linspace(0.05, 0.95, 19), 3) if pixel_grid is None else pixel_grid
    peak_grid = np.round(np.arange(0.02, 0.91, 0.02), 3) if peak_grid is None else peak_grid
    p, m = prob[region], np.asarray(mask, bool)[region]
    accs = np.array([((p >= t) == m).mean() for t in pixel_grid])
    tied = np.flatnonzero(accs >= accs.max() - 1e-12)
    k = int(tied[len(tied) // 2])  # the middle of a run of equally good thresholds
    scores = []
    for sg in sigmas:
        # the peaks above t are the peaks above min(grid) that are at least t high, so one search per smoothing
        # serves every threshold
        cand, height = peaks_with_heights(prob, float(np.min(peak_grid)), sigma=sg, min_distance=min_distance)
        scores.append([region_f1(truth, cand[height >= t], region)["f1"] for t in peak_grid])
    scores = np.asarray(scores)
    i = int(np.argmax(scores.max(axis=1)))
    tied = np.flatnonzero(scores[i] >= scores.max() - 1e-12)
    j = int(tied[len(tied) // 2])
    best = (float(scores[i, j]), float(peak_grid[j]), float(sigmas[i]))
    return {"pixel": float(pixel_grid[k]), "peak": best[1], "sigma": best[2], "train_pixel_accuracy": float(accs[k]),
            "train_f1": best[0]}


@dataclass
class QuadrantResult:
    """Held-out predictions of :func:`cross_quadrant_unet`: ``prob`` (rows, cols) stitched from the four held-out
    quadrants, ``histories`` (one fit History per quadrant), ``models`` (the four U-Nets), ``seconds`` per fold,
    ``inference_seconds`` for one whole image. With ``mask`` and ``truth`` given: ``thresholds`` (per fold, from
    :func:`choose_thresholds` on that fold's training quadrants), ``pred`` (rows, cols) boolean, each quadrant
    thresholded at its fold's pixel threshold, and ``centroids`` (n, 2) the held-out cells found by
    :func:`detect_peaks` with each fold's peak threshold."""

    prob: np.ndarray
    histories: list
    models: list
    seconds: list = field(default_factory=list)
    inference_seconds: float = float("nan")
    thresholds: list = field(default_factory=list)
    pred: np.ndarray | None = None
    centroids: np.ndarray | None = None


def cross_quadrant_unet(image: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None,
                        truth: np.ndarray | None = None, crops_per_epoch: int = 64, crop: int = 96,
                        epochs: int = 10, batch_size: int = 8, lr: float = 3e-3, base: int = 16, depth: int = 3,
                        elastic: bool = True, pos_weight: float = 1.0, dice: float = 0.0, seed: int = 0,
                        device="auto", folds=(0, 1, 2, 3), progress: bool = True) -> QuadrantResult:
    """Train one U-Net per held-out quadrant (trained on crops of the other three) and stitch the held-out
    probability maps.

    ``image`` (channels, rows, cols) summary images; ``target`` (rows, cols) probability target in [0, 1]. Loss:
    :class:`BCEDiceLoss` (``pos_weight``, ``dice``); Adam with ``lr`` under a warm-up and cosine schedule
    (:func:`lr_factor`); each epoch draws ``crops_per_epoch`` new augmented crops (:class:`CropDataset`). ``folds``
    limits which quadrants are held out (others stay NaN in ``prob``). No early stopping: the held-out quadrant is
    never looked at during training. With ``mask`` (rows, cols) and ``truth`` (n, 2), each fold's thresholds are
    chosen on its own training quadrants (:func:`choose_thresholds`) and applied to its held-out quadrant.
    """
    image = np.asarray(image, np.float32)
    target = np.asarray(target, np.float32)
    H, W = target.shape
    dev = resolve_device(device)
    prob = np.full((H, W), np.nan, np.float32)
    pred = np.zeros((H, W), bool)
    hists, models, secs, thresholds, cents = [], [], [], [], []
    quads = quadrant_slices((H, W))
    for q in folds:
        allowed = np.ones((H, W), bool)
        allowed[quads[q]] = False
        ds = CropDataset(image, target, allowed, crops_per_epoch, crop, seed=seed + 100 * q, elastic=elastic)
        seed_everything(seed + q)
        model = UNet(image.shape[0], 1, base=base, depth=depth).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = BCEDiceLoss(pos_weight, dice)

        def step(m, batch, progress, opt=opt, loss_fn=loss_fn):
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor(progress)
            x, y = batch
            return loss_fn(m(x), y)

        t0 = time.time()
        h = fit(model, ds, None, train_step=step, optimizer=opt, epochs=epochs, batch_size=batch_size,
                seed=seed + q, device=dev, progress=progress, desc=f"U-Net, quadrant {q} held out")
        secs.append(time.time() - t0)
        full = predict_unet(model, image)
        prob[quads[q]] = full[quads[q]]
        if mask is not None and truth is not None:
            th = choose_thresholds(full, mask, truth, allowed)
            thresholds.append(th)
            pred[quads[q]] = full[quads[q]] >= th["pixel"]
            c = detect_peaks(full, th["peak"], sigma=th["sigma"])
            cents.append(c[in_region(c, quads[q])])
        hists.append(h)
        models.append(model.cpu())
    t0 = time.time()
    predict_unet(models[0], image)
    return QuadrantResult(prob, hists, models, secs, time.time() - t0, thresholds,
                          pred if thresholds else None, np.vstack(cents) if cents else None)
