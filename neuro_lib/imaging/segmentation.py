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
from .detection import quadrant_slices

__all__ = ["elastic_deform", "augment_pair", "CropDataset", "predict_unet", "QuadrantResult",
           "cross_quadrant_unet", "BCEDiceLoss"]


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
    ``augment``. Crop positions are drawn once from ``seed``; augmentations are redrawn per access from a generator
    seeded by ``seed`` and the access count, so a run is reproducible."""

    def __init__(self, image: np.ndarray, target: np.ndarray, allowed: np.ndarray, n: int, crop: int = 96, *,
                 seed: int = 0, augment: bool = True, elastic: bool = True):
        H, W = target.shape
        if crop > min(H, W):
            raise ValueError(f"crop {crop} is larger than the image {H}x{W}")
        rng = np.random.default_rng(seed)
        integral = np.pad(np.cumsum(np.cumsum(~allowed, 0), 1), ((1, 0), (1, 0)))
        pos = []
        for _ in range(200 * n):
            r, c = int(rng.integers(0, H - crop + 1)), int(rng.integers(0, W - crop + 1))
            bad = integral[r + crop, c + crop] - integral[r, c + crop] - integral[r + crop, c] + integral[r, c]
            if bad == 0:
                pos.append((r, c))
                if len(pos) == n:
                    break
        if len(pos) < n:
            raise ValueError(f"could not place {n} crops of {crop} px inside the training region")
        self.image, self.target, self.pos, self.crop = image, target, pos, crop
        self.augment, self.elastic, self.seed, self.calls = augment, elastic, seed, 0

    def __len__(self) -> int:
        return len(self.pos)

    def __getitem__(self, i):
        r, c = self.pos[i]
        x = self.image[:, r:r + self.crop, c:c + self.crop]
        y = self.target[r:r + self.crop, c:c + self.crop]
        if self.augment:
            self.calls += 1
            rng = np.random.default_rng((self.seed, i, self.calls))
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


@dataclass
class QuadrantResult:
    """Held-out predictions of :func:`cross_quadrant_unet`: ``prob`` (rows, cols) stitched from the four held-out
    quadrants, ``histories`` (one fit History per quadrant), ``models`` (the four U-Nets), ``seconds`` per fold,
    ``inference_seconds`` for one whole image."""

    prob: np.ndarray
    histories: list
    models: list
    seconds: list = field(default_factory=list)
    inference_seconds: float = float("nan")


def cross_quadrant_unet(image: np.ndarray, target: np.ndarray, *, crops_per_epoch: int = 64, crop: int = 96,
                        epochs: int = 10, batch_size: int = 8, lr: float = 3e-3, base: int = 16, depth: int = 3,
                        elastic: bool = True, pos_weight: float = 3.0, dice: float = 1.0, seed: int = 0,
                        device="auto", folds=(0, 1, 2, 3), progress: bool = True) -> QuadrantResult:
    """Train one U-Net per held-out quadrant (trained on crops of the other three) and stitch the held-out
    probability maps.

    ``image`` (channels, rows, cols) summary images; ``target`` (rows, cols) probability target in [0, 1]. Loss:
    :class:`BCEDiceLoss` (``pos_weight``, ``dice``). ``folds`` limits which quadrants are held out (others stay NaN in ``prob``).
    No early stopping: the held-out quadrant is never looked at during training.
    """
    image = np.asarray(image, np.float32)
    target = np.asarray(target, np.float32)
    H, W = target.shape
    dev = resolve_device(device)
    prob = np.full((H, W), np.nan, np.float32)
    hists, models, secs = [], [], []
    quads = quadrant_slices((H, W))
    for q in folds:
        allowed = np.ones((H, W), bool)
        allowed[quads[q]] = False
        ds = CropDataset(image, target, allowed, crops_per_epoch, crop, seed=seed + 100 * q, elastic=elastic)
        seed_everything(seed + q)
        model = UNet(image.shape[0], 1, base=base, depth=depth)
        t0 = time.time()
        h = fit(model, ds, None, loss_fn=BCEDiceLoss(pos_weight, dice), epochs=epochs, lr=lr, batch_size=batch_size,
                seed=seed + q, device=dev, progress=progress, desc=f"U-Net, quadrant {q} held out")
        secs.append(time.time() - t0)
        prob[quads[q]] = predict_unet(model, image)[quads[q]]
        hists.append(h)
        models.append(model.cpu())
    t0 = time.time()
    predict_unet(models[0], image)
    return QuadrantResult(prob, hists, models, secs, time.time() - t0)
