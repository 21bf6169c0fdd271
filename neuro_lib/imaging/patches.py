"""Patch classification around candidate cells by transfer learning (Seong & Park, Tables 1 and 2).

* :func:`make_patch_dataset` cuts patches (default 101x101 pixels) around true ROI centres (label 1, "cell") and
  around not-cell locations (label 0): candidates of a detector that match no ROI, topped up by random background
  points away from every ROI. A user with labelled patches (e.g. excitatory / inhibitory / glia from a red channel)
  skips it and passes their own ``(patches, labels)``.
* :func:`augment_patches`: the paper's augmentation, rotation in [-30, 30] degrees and scale in [0.9, 1.1].
* :class:`TransferClassifier`: a torchvision network (ResNet18/50, Inception-v3) retrained from the block
  ``trainable_from``, as a scikit-learn classifier of patches (``fit(X, y)``, ``predict_proba``, ``random_state``),
  so :func:`neuro_lib.evaluation.cross_validate` runs the paper's 10-fold CV and :mod:`neuro_lib.imaging.predict`
  trains it on all patches. Its augmentation and test-time augmentation are inside.
* :func:`pixel_logistic_regression`: the reference without a deep network (a scikit-learn pipeline).
* :func:`pretrained_trunk`: self-supervised initialisation (an autoencoder) on unlabelled patches when no ImageNet
  weights can be downloaded; cached, and passed to the networks as ``weights=PATH``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..estimators import TorchClassifier
from ..models.transfer import (AutoencoderPretrainer, build_transfer_model, load_trunk, split_model)
from ..training import fit, seed_everything
from .detection import extract_patches, match_centers

__all__ = ["make_patch_dataset", "augment_patches", "dihedral", "TransferClassifier", "flatten_patches",
           "pixel_logistic_regression", "pretrain_autoencoder", "pretrained_trunk", "random_patch_centres",
           "book_patch_dataset", "cross_validate_cached"]


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
        from scipy.spatial import cKDTree

        cand = np.asarray(candidates, float).reshape(-1, 2)
        unmatched = np.ones(len(cand), bool)
        m = match_centers(truth, cand, match_threshold)
        unmatched[m[m >= 0]] = False
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


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5) / 0.25


@torch.no_grad()
def _prefix_features(prefix: torch.nn.Module, x: torch.Tensor, batch: int = 128) -> torch.Tensor:
    prefix.eval()
    if len(prefix) == 0:
        return x
    return torch.cat([prefix(x[i:i + batch]) for i in range(0, len(x), batch)])


class TransferClassifier(TorchClassifier):
    """A torchvision ``arch`` retrained from block ``trainable_from`` on patches, as a scikit-learn classifier.

    ``X``: (n, channels, S, S) patches in [0, 1] (3 channels for the ImageNet architectures); ``y``: (n,) labels of
    any type. Patches are resized to ``input_size`` (bilinear) and scaled by ``(x - 0.5) / 0.25``.

    Parameters
    ----------
    arch : ``"resnet18"``, ``"resnet50"`` or ``"inception_v3"`` (:mod:`neuro_lib.models.transfer`).
    trainable_from : the first trained block (:func:`~neuro_lib.models.transfer.layer_names`); earlier blocks are
        frozen. ``None`` trains every block; ``"fc"`` only the new final layer.
    weights : ``None`` (random initialisation, seeded by ``random_state``), ``"imagenet"`` (downloaded by
        torchvision: needs the internet) or a path to a saved trunk (:func:`pretrained_trunk`).
    epochs, batch_size, lr : Adam on the trainable blocks; ``schedule`` ``"constant"`` or ``"cosine"`` (decays to 0
        along a half cosine).
    n_aug, flips, translate : augmentation (:func:`augment_patches`: the paper's rotation in [-30, 30] degrees and
        scale in [0.9, 1.1], plus random symmetries of the square with ``flips`` and shifts of up to ``translate``
        times the side). With a frozen prefix, each training patch is used as is plus ``n_aug`` augmented copies
        drawn once, whose frozen features are computed once; with nothing frozen every batch of every epoch gets a
        fresh draw and ``n_aug`` is not used.
    tta : predict by the mean softmax over the 8 symmetries of the square (:func:`dihedral`).
    pretrain_epochs : with ``weights=None`` and ``pretrain_epochs > 0``, the trunk is first trained as an
        autoencoder (:func:`pretrain_autoencoder`) on the training patches themselves, without their labels, so the
        self-supervised initialisation never sees a test patch (used by the two-stage pipeline, where the test
        patches are a held-out quadrant's).
    max_steps : ``None`` (no cap) or the most optimisation steps of the autoencoder pretraining and of the training
        each (the ``gpu_profile`` tests).
    random_state : seeds the weights, the augmentation draws (``random_state`` for the fixed copies,
        ``random_state + 1000`` for the per-batch draws), the batch order and the autoencoder.

    Raises ``ValueError`` for an unknown ``schedule``, architecture or block (at ``fit``).
    """

    def __init__(self, arch: str = "resnet18", trainable_from: str | None = "fc", weights: str | None = None,
                 input_size: int = 32, epochs: int = 10, n_aug: int = 4, batch_size: int = 32, lr: float = 1e-3,
                 schedule: str = "constant", flips: bool = False, translate: float = 0.0, tta: bool = False,
                 pretrain_epochs: int = 0, max_steps: int | None = None, random_state: int = 0, device: str = "cpu",
                 progress: bool = False):
        self.arch, self.trainable_from, self.weights, self.input_size = arch, trainable_from, weights, input_size
        self.epochs, self.n_aug, self.batch_size, self.lr, self.schedule = epochs, n_aug, batch_size, lr, schedule
        self.flips, self.translate, self.tta, self.pretrain_epochs = flips, translate, tta, pretrain_epochs
        self.max_steps = max_steps
        self.random_state, self.device, self.progress = random_state, device, progress

    # ---- TorchClassifier hooks ------------------------------------------------------------------------------
    def _module_config(self, X, n_classes: int) -> dict:
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        return {"arch": self.arch, "num_classes": int(n_classes), "trainable_from": self.trainable_from}

    def _make_module(self, config: dict):
        return build_transfer_model(config["arch"], config["num_classes"], trainable_from=config["trainable_from"])

    def _inputs(self, X) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(np.asarray(X, np.float32)))
        if x.ndim != 4:
            raise ValueError(f"patches must be (n, channels, rows, cols), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return _normalise(x)

    def _train_module(self, module, X, y, X_val, y_val):
        if self.weights == "imagenet":  # torchvision's weights (downloaded), copied into the seeded network
            src = build_transfer_model(self.arch, 2, weights="imagenet").net.state_dict()
            module.net.load_state_dict({k: v for k, v in src.items() if not k.startswith("fc.")}, strict=False)
        elif self.weights is not None:
            load_trunk(module, self.weights)
        elif self.pretrain_epochs:
            ae = pretrain_autoencoder(self.arch, X, input_size=self.input_size, epochs=int(self.pretrain_epochs),
                                      seed=int(self.random_state), device=self._device(), max_steps=self.max_steps)
            module.net.load_state_dict(ae["trunk"], strict=False)
            seed_everything(int(self.random_state))
        prefix, suffix = split_model(module)
        x = self._inputs(X)
        online = len(prefix) == 0
        if online:
            feats = [x]
        else:
            gen = torch.Generator().manual_seed(int(self.random_state))
            feats = [_prefix_features(prefix, x)] + [
                _prefix_features(prefix, augment_patches(x, gen, flips=self.flips, translate=self.translate))
                for _ in range(int(self.n_aug))]
        ftr = torch.cat(feats)
        ytr = torch.from_numpy(np.tile(np.asarray(y, np.int64), len(feats)))
        opt = torch.optim.Adam([p for p in suffix.parameters() if p.requires_grad], lr=self.lr)
        batch_gen = torch.Generator().manual_seed(int(self.random_state) + 1000)
        lr, cosine, flips, translate = self.lr, self.schedule == "cosine", self.flips, self.translate

        def step(m, batch, progress):
            if cosine:
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * progress))
            xb, yb = batch
            if online:
                xb = augment_patches(xb.cpu(), batch_gen, flips=flips, translate=translate).to(xb.device)
            return F.cross_entropy(m(xb), yb)

        return fit(suffix, (ftr, ytr), None, train_step=step, optimizer=opt, epochs=int(self.epochs),
                   batch_size=_batch_size(len(ftr), int(self.batch_size)), seed=int(self.random_state),
                   device=self._device(), max_steps=self.max_steps,
                   progress=self.progress, desc=f"{self.arch} from {self.trainable_from}")

    @torch.no_grad()
    def _logits(self, module, X) -> np.ndarray:
        """Logits of the patches; with ``tta``, the log of the mean softmax over the 8 symmetries of the square (so
        that ``predict_proba`` is that mean)."""
        module.eval()
        prefix, suffix = split_model(module)
        x = self._inputs(X)
        views = [dihedral(x, k) for k in range(8)] if self.tta else [x]
        out = []
        for i in range(0, len(x), 512):
            z = [suffix(_prefix_features(prefix, v[i:i + 512])) for v in views]
            if self.tta:
                out.append(torch.log(torch.stack([torch.softmax(zz, 1) for zz in z]).mean(0)))
            else:
                out.append(z[0])
        return torch.cat(out).numpy() if out else np.zeros((0, module.net.fc.out_features), np.float32)


def _batch_size(n: int, batch_size: int) -> int:
    """``batch_size``, or one more when ``n`` samples would leave a last batch of a single sample (batch norm cannot
    train on one sample)."""
    return batch_size + 1 if n % batch_size == 1 and n > 1 else batch_size


def flatten_patches(X) -> np.ndarray:
    """(n, ...) patches as (n, features) rows (a ``FunctionTransformer`` step of :func:`pixel_logistic_regression`)."""
    X = np.asarray(X, np.float32)
    return X.reshape(len(X), -1)


def pixel_logistic_regression(max_iter: int = 2000):
    """The reference without a deep network: a scikit-learn pipeline of the patches' pixels, standardised, into a
    logistic regression (scikit-learn defaults, L2, C = 1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(FunctionTransformer(flatten_patches), StandardScaler(), LogisticRegression(max_iter=max_iter))


def pretrain_autoencoder(arch: str, patches: np.ndarray, *, input_size: int = 64, epochs: int = 3,
                         batch_size: int = 32, lr: float = 1e-3, seed: int = 0, device="cpu",
                         progress: bool = False, max_steps: int | None = None) -> dict:
    """Self-supervised initialisation: train ``arch``'s trunk as the encoder of an
    :class:`~neuro_lib.models.transfer.AutoencoderPretrainer` (mean squared reconstruction error) on unlabelled
    ``patches`` (n, 3, S, S) in [0, 1], augmented by :func:`augment_patches`; at most ``max_steps`` optimisation
    steps (``None``: no cap).

    Returns ``{"trunk": the torchvision network's state dict without ``fc.*`` (CPU tensors), "train_loss": per-epoch
    list, "seconds"}``."""
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

    h = fit(ae, (x,), None, train_step=step, epochs=epochs, lr=lr, batch_size=_batch_size(len(x), batch_size),
            seed=seed, device=device, max_steps=max_steps,
            progress=progress, desc=f"autoencoder pretraining of {arch}")
    trunk = {k: v.detach().cpu().clone() for k, v in model.cpu().net.state_dict().items() if not k.startswith("fc.")}
    return {"trunk": trunk, "train_loss": list(h.train_loss), "seconds": time.time() - t0}


def pretrained_trunk(arch: str, patches: np.ndarray, *, input_size: int = 64, epochs: int = 3, batch_size: int = 32,
                     lr: float = 1e-3, seed: int = 0, device="cpu", progress: bool = False,
                     max_steps: int | None = None) -> dict:
    """:func:`pretrain_autoencoder`, cached (:func:`neuro_lib.cache.cached`, keyed by the patches, the settings and
    the code). Returns ``{"path": the cached trunk file (pass it as ``weights=``), "train_loss": per-epoch list,
    "seconds": training time (of the run that made the cache)}``."""
    from .. import cache

    key = dict(arch=arch, patches=np.asarray(patches, np.float32), input_size=int(input_size), epochs=int(epochs),
               batch_size=int(batch_size), lr=float(lr), seed=int(seed))
    if max_steps is not None:  # an uncapped run keys as before the cap existed
        key["max_steps"] = int(max_steps)
    info: dict = {}

    def compute_trunk():
        out = pretrain_autoencoder(arch, patches, input_size=input_size, epochs=epochs, batch_size=batch_size,
                                   lr=lr, seed=seed, device=device, progress=progress, max_steps=max_steps)
        info.update(train_loss=out["train_loss"], seconds=out["seconds"])
        return out["trunk"]

    opts = dict(kind="pt", name=f"ae-{arch}", code=["neuro_lib.models.transfer"], packages=("torch",))
    cache.cached("imaging/autoencoder", key, compute_trunk, **opts)
    path = cache.cache_path("imaging/autoencoder", key, compute=compute_trunk, **opts)
    curve = cache.cached("imaging/autoencoder", key, lambda: dict(info), kind="json", name=f"ae-{arch}-curve",
                         code=["neuro_lib.models.transfer"], packages=("torch",))
    return {"path": Path(path), "train_loss": curve.get("train_loss", []),
            "seconds": curve.get("seconds", float("nan"))}


def book_patch_dataset(image: np.ndarray, data, corr: np.ndarray, mean: np.ndarray, *, size: int, jitter: int,
                       seed: int = 0, n_patches: int | None = None, candidate_threshold: float = 0.05) -> dict:
    """The book's cell / not-cell patches (:func:`make_patch_dataset`) of a loaded movie ``data``
    (:class:`~.neurofinder.NeurofinderData`): cells at the ROI centroids, not-cells at the correlation-image
    detector's maxima (:func:`~.detection.correlation_baseline` on ``corr`` times ``mean`` at
    ``candidate_threshold``) that match no ROI, topped up with random background points; centres jittered by up to
    ``jitter`` pixels. ``image`` (3, rows, cols) is what the patches are cut from. ``n_patches``: keep the first
    ``n_patches // 2`` of each class (the smoke profile's subset)."""
    from .detection import correlation_baseline

    cand = correlation_baseline(corr, mean, threshold=candidate_threshold)
    out = make_patch_dataset(image, data.centroids(), data.labels() > 0, candidates=cand, size=size, jitter=jitter,
                             seed=seed)
    if n_patches:
        keep = np.r_[np.flatnonzero(out["y"] == 1)[: n_patches // 2], np.flatnonzero(out["y"] == 0)[: n_patches // 2]]
        out = {k: (np.asarray(v)[keep] if k != "class_names" else v) for k, v in out.items()}
    return out


def _param_key(estimator) -> dict:
    """JSON-able form of an estimator's (deep) parameters: plain values as they are, functions by their qualified
    name, nested estimators by their own parameters (listed too by ``get_params(deep=True)``); the device and the
    progress bar, which do not change the numbers, are left out."""
    from sklearn.base import BaseEstimator

    out = {}
    for k, v in sorted(estimator.get_params(deep=True).items()):
        uncapped = k.endswith("max_steps") and v is None  # an uncapped run keys as before the cap existed
        if k.endswith(("progress", "device")) or isinstance(v, BaseEstimator) or uncapped:
            continue
        if callable(v):
            v = f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', repr(v))}"
        elif isinstance(v, (list, tuple)) and any(isinstance(e, tuple) and len(e) == 2 for e in v):
            v = [str(e[0]) if isinstance(e, tuple) else str(e) for e in v]  # a pipeline's steps: their names
        elif not (v is None or isinstance(v, (bool, int, float, str))):
            v = str(v)
        out[k] = v
    return out


def cross_validate_cached(name: str, estimator, X, y, splits, *, seed: int = 0, cache: bool = True,
                          progress: bool = False):
    """:func:`neuro_lib.evaluation.cross_validate` of one estimator, cached (:func:`neuro_lib.cache.cached`, npz of
    :meth:`~neuro_lib.evaluation.CVResult.to_arrays`) under its parameters, the data, the splits, the seed and the
    code of this module, the networks, the training loop and the driver. Returns ``(CVResult, seconds)``, the
    seconds being those of the run that computed it."""
    from .. import cache as _cache
    from ..evaluation import CVResult, cross_validate

    def compute():
        t0 = time.time()
        r = cross_validate({name: estimator}, X, y, splits, seed=seed, progress=progress)[name]
        arrays = {k: (v.astype(str) if v.dtype == object else v) for k, v in r.to_arrays().items()}  # str columns
        return {**arrays, "seconds": np.array(time.time() - t0)}

    if not cache:
        out = compute()
    else:
        key = dict(name=name, estimator=type(estimator).__name__, params=_param_key(estimator),
                   X=np.asarray(X, np.float32), y=np.asarray(y), seed=int(seed),
                   splits=[[s.train, s.val, s.test] for s in splits])
        out = _cache.cached("imaging/patch_cv", key, compute, name=name,
                            code=["neuro_lib.models.transfer", "neuro_lib.training", "neuro_lib.estimators",
                                  "neuro_lib.evaluation"], packages=("torch", "sklearn"))
    return CVResult.from_arrays(out), float(out["seconds"])
