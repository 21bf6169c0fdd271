"""U-Net segmentation of summary images with disjoint training and test regions (Seong & Park's segmentation stage).

:class:`UNetSegmenter` is the U-Net as a scikit-learn estimator of images: ``fit(image, target, region=mask)``
trains on random crops inside the training ``region`` (elastic deformation, flips, rotations), ``predict_proba(image)``
returns the cell-probability map, ``random_state`` seeds everything.

**Held-out regions.** With one movie, the "samples" of a split are regions of the field of view, not cells: the
field is cut into four quadrants and :func:`quadrant_splits` returns one :class:`neuro_lib.evaluation.Split` per
quadrant whose ``train`` / ``test`` hold *quadrant indices* (the other three / that one), so the book's one split
type and its seed rule serve here too. :func:`cross_quadrant_unet` fits a clone of the estimator per split with
``random_state = seed + split index`` (:func:`neuro_lib.evaluation.seed_estimator`, as
:func:`~neuro_lib.evaluation.cross_validate` does) on the pixels of the training quadrants, chooses its thresholds
there, and predicts the held-out quadrant, so every pixel's prediction comes from a network that never saw it. The
per-quadrant scores of any detector are :func:`~neuro_lib.imaging.detection.quadrant_scores`; a detection is a
point, not a labelled sample, so they are Neurofinder's centre metric rather than :func:`neuro_lib.evaluation.metrics`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage as ndi
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch.utils.data import Dataset

from ..evaluation import Split, seed_estimator
from ..models.unet import UNet
from ..training import fit, resolve_device, seed_everything
from .detection import centers_metric, detect_peaks, peaks_with_heights, region_mask

__all__ = ["elastic_deform", "augment_pair", "CropDataset", "predict_unet", "UNetSegmenter", "QuadrantResult",
           "quadrant_splits", "cross_quadrant_unet", "BCEDiceLoss", "lr_factor", "region_f1", "choose_thresholds"]


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


class UNetSegmenter(BaseEstimator):
    """The U-Net (:class:`neuro_lib.models.unet.UNet`) as a scikit-learn estimator of cell-probability maps.

    ``fit(X, y, region=None)``: ``X`` (channels, rows, cols) summary images, ``y`` (rows, cols) probability target
    in [0, 1], ``region`` (rows, cols) boolean, the pixels it may train on (default: all); each epoch draws
    ``crops_per_epoch`` new augmented ``crop``-pixel crops lying wholly inside ``region`` (:class:`CropDataset`).
    Loss :class:`BCEDiceLoss` (``pos_weight``, ``dice``); Adam with ``lr`` under a warm-up and cosine schedule
    (:func:`lr_factor`); no early stopping (the only pixels not trained on are the test region's). ``max_steps``
    (``None``: no cap) stops after that many optimisation steps (the ``gpu_profile`` tests).
    ``predict_proba(X)`` -> (rows, cols) cell probability in [0, 1]. ``random_state`` seeds the weights, the crops
    and their augmentation and the batch order. After ``fit``: ``module_`` (the U-Net, CPU, eval mode),
    ``history_``, ``fit_seconds_``. Raises ``ValueError`` if ``X`` is not 3-D or ``y``/``region`` differ from its
    rows and cols, or no crop fits inside ``region``.
    """

    def __init__(self, base: int = 16, depth: int = 3, epochs: int = 10, crops_per_epoch: int = 64, crop: int = 96,
                 batch_size: int = 8, lr: float = 3e-3, elastic: bool = True, pos_weight: float = 1.0,
                 dice: float = 0.0, max_steps: int | None = None, random_state: int = 0, device: str = "auto",
                 progress: bool = False):
        self.base, self.depth, self.epochs, self.crops_per_epoch, self.crop = base, depth, epochs, crops_per_epoch, crop
        self.batch_size, self.lr, self.elastic, self.pos_weight, self.dice = batch_size, lr, elastic, pos_weight, dice
        self.max_steps, self.random_state, self.device, self.progress = max_steps, random_state, device, progress

    def _make_module(self, in_channels: int) -> UNet:
        return UNet(int(in_channels), 1, base=int(self.base), depth=int(self.depth))

    def fit(self, X, y, region=None):
        image = np.asarray(X, np.float32)
        target = np.asarray(y, np.float32)
        if image.ndim != 3 or target.shape != image.shape[1:]:
            raise ValueError(f"X must be (channels, rows, cols) and y (rows, cols) of the same size, got {image.shape} "
                             f"and {target.shape}")
        allowed = np.ones(target.shape, bool) if region is None else np.asarray(region, bool)
        if allowed.shape != target.shape:
            raise ValueError(f"region {allowed.shape} must have the image's rows and cols {target.shape}")
        seed = int(self.random_state)
        ds = CropDataset(image, target, allowed, int(self.crops_per_epoch), int(self.crop), seed=seed,
                         elastic=self.elastic)
        dev = resolve_device(self.device)
        seed_everything(seed)
        model = self._make_module(image.shape[0]).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        loss_fn = BCEDiceLoss(self.pos_weight, self.dice)
        lr = self.lr

        def step(m, batch, progress):
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor(progress)
            x, t = batch
            return loss_fn(m(x), t)

        t0 = time.time()
        self.history_ = fit(model, ds, None, train_step=step, optimizer=opt, epochs=int(self.epochs),
                            batch_size=int(self.batch_size), seed=seed, device=dev, progress=self.progress,
                            desc="U-Net", max_steps=self.max_steps)
        self.fit_seconds_ = time.time() - t0
        self.in_channels_ = int(image.shape[0])
        self.module_ = model.cpu().eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(rows, cols) cell probability of the (channels, rows, cols) image ``X``."""
        check_is_fitted(self, "module_")
        return predict_unet(self.module_, X)

    def get_state(self) -> dict:
        """The fitted estimator as plain values and tensors (for :func:`neuro_lib.cache.cached` ``kind="pt"``)."""
        check_is_fitted(self, "module_")
        return {"estimator": type(self).__name__, "params": self.get_params(), "in_channels": self.in_channels_,
                "fit_seconds": float(self.fit_seconds_), "train_loss": list(self.history_.train_loss),
                "module": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()}}

    @classmethod
    def from_state(cls, state: dict) -> UNetSegmenter:
        """Inverse of :meth:`get_state`. Raises ``ValueError`` for a state of another class."""
        from ..training import History

        if state.get("estimator") != cls.__name__:
            raise ValueError(f"state is of {state.get('estimator')!r}, not {cls.__name__}")
        est = cls(**state["params"])
        est.in_channels_ = int(state["in_channels"])
        module = est._make_module(est.in_channels_)
        module.load_state_dict(state["module"])
        est.module_ = module.eval()
        est.history_ = History(train_loss=[float(v) for v in state["train_loss"]])
        est.fit_seconds_ = float(state["fit_seconds"])
        return est


def quadrant_splits(n_regions: int = 4) -> list[Split]:
    """One :class:`neuro_lib.evaluation.Split` per held-out region (default the four quadrants of
    :func:`~neuro_lib.imaging.detection.quadrant_slices`): ``test = [q]``, ``train`` the other region indices,
    no validation region, ``fold = q``. The indices are regions, not pixels or cells (see the module docstring)."""
    return [Split([r for r in range(n_regions) if r != q], [], [q], fold=q) for q in range(n_regions)]


@dataclass
class QuadrantResult:
    """What :func:`cross_quadrant_unet` returns.

    ``splits`` the region splits; ``models`` the fitted :class:`UNetSegmenter` of each; ``full_prob[j]`` (rows,
    cols) split ``j``'s network on the whole field (its training quadrants included: in-sample there); ``prob``
    (rows, cols) stitched from the held-out quadrants; ``inference_seconds`` for one whole image. With ``mask`` and
    ``truth`` given: ``thresholds[j]`` (:func:`choose_thresholds` on split ``j``'s training quadrants), ``pred``
    (rows, cols) boolean, each held-out quadrant thresholded at its split's pixel threshold, ``detections[j]`` the
    cells split ``j``'s network finds on the whole field (:func:`detect_peaks` with its peak threshold and
    smoothing) and ``centroids`` (n, 2) the held-out ones of all splits."""

    splits: list
    models: list
    full_prob: list
    prob: np.ndarray
    inference_seconds: float = float("nan")
    thresholds: list = field(default_factory=list)
    pred: np.ndarray | None = None
    detections: list = field(default_factory=list)
    centroids: np.ndarray | None = None

    @property
    def histories(self) -> list:
        return [m.history_ for m in self.models]

    @property
    def seconds(self) -> list[float]:
        """Training time of each split's network (of the run that made the cache, if it came from there)."""
        return [m.fit_seconds_ for m in self.models]

    def held_out(self, j: int, points: np.ndarray) -> np.ndarray:
        """Boolean (n,): which (row, col) ``points`` lie in split ``j``'s test region."""
        return region_mask(self.splits[j].test, self.prob.shape, points=points)


def fit_segmenter(estimator: UNetSegmenter, image: np.ndarray, target: np.ndarray, region: np.ndarray, *,
                  cache: bool = True) -> UNetSegmenter:
    """``estimator.fit(image, target, region=region)``, cached (:func:`neuro_lib.cache.cached`, ``kind="pt"``)
    under the estimator's parameters, the inputs' contents and the code of this module and the U-Net."""
    from .. import cache as _cache

    if not cache:
        return estimator.fit(image, target, region=region)
    params = {k: v for k, v in estimator.get_params().items()
              if k not in ("progress", "device") and not (k == "max_steps" and v is None)}  # uncapped: keyed as before
    key = dict(params=params, image=np.asarray(image, np.float32), target=np.asarray(target, np.float32),
               region=np.asarray(region, bool))
    state = _cache.cached("imaging/unet", key, lambda: estimator.fit(image, target, region=region).get_state(),
                          kind="pt", name="unet", code=["neuro_lib.models.unet", "neuro_lib.training"],
                          packages=("torch",))
    return UNetSegmenter.from_state(state)


def cross_quadrant_unet(estimator: UNetSegmenter, image: np.ndarray, target: np.ndarray, *,
                        splits: list[Split] | None = None, seed: int = 0, mask: np.ndarray | None = None,
                        truth: np.ndarray | None = None, cache: bool = True, progress: bool = True
                        ) -> QuadrantResult:
    """Fit one clone of ``estimator`` per region split (default :func:`quadrant_splits`) with ``random_state =
    seed + j`` on the pixels of its training quadrants, and stitch the held-out probability maps.

    ``image`` (channels, rows, cols) summary images; ``target`` (rows, cols) probability target in [0, 1]. With
    ``mask`` (rows, cols) and ``truth`` (n, 2), each split's thresholds are chosen on its own training quadrants
    (:func:`choose_thresholds`) and applied to its held-out quadrant. ``cache``: fitted networks are reused from
    :func:`fit_segmenter`'s cache. Returns a :class:`QuadrantResult`.
    """
    from tqdm.auto import tqdm

    image = np.asarray(image, np.float32)
    target = np.asarray(target, np.float32)
    H, W = target.shape
    splits = quadrant_splits() if splits is None else list(splits)
    prob = np.full((H, W), np.nan, np.float32)
    pred = np.zeros((H, W), bool)
    models, full, thresholds, dets = [], [], [], []
    for j, s in enumerate(tqdm(splits, desc="U-Net per held-out quadrant", disable=not progress)):
        est = fit_segmenter(seed_estimator(estimator, seed + j), image, target,
                            region_mask(s.train, (H, W)), cache=cache)
        p = est.predict_proba(image)
        test = region_mask(s.test, (H, W))
        prob[test] = p[test]
        if mask is not None and truth is not None:
            th = choose_thresholds(p, mask, truth, region_mask(s.train, (H, W)))
            thresholds.append(th)
            pred[test] = p[test] >= th["pixel"]
            dets.append(detect_peaks(p, th["peak"], sigma=th["sigma"]))
        models.append(est)
        full.append(p)
    t0 = time.time()
    models[0].predict_proba(image)
    res = QuadrantResult(splits, models, full, prob, time.time() - t0, thresholds, pred if thresholds else None, dets)
    if dets:
        res.centroids = np.vstack([d[res.held_out(j, d)] for j, d in enumerate(dets)])
    return res
