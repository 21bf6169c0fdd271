"""Classify the ROIs of your own Neurofinder folder as cell or not cell: ``python -m neuro_lib.predict imaging
--model resnet18_conv1_autoencoder --out predictions.csv FOLDER...``.

Each input is a Neurofinder folder (``images/imageNNNNN.tiff`` frames and ``regions/regions.json`` with the ROIs,
:mod:`.neurofinder`). Its movie's summary images are computed and normalised as in the book, a patch is cut around
each ROI's centroid, and the chapter's patch classifier, trained on **all** of the book movie's cell / not-cell
patches (page 3's settings, jittered centres; the fit is cached), gives each ROI its probability of being a cell.
One output row per ROI (``<folder>:roi<index>:id=<id>``); an ROI that fails validation (out of the image, empty,
malformed) gets the :class:`~.neurofinder.NeurofinderError` message naming the file and the ROI index, and the other
ROIs are still classified; a folder whose frames cannot be read gets one row with the error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .neurofinder import NeurofinderError, load_neurofinder, parse_roi, read_regions_doc

__all__ = ["TASKS", "MODELS", "fitted_model", "read_inputs", "RoiPatches", "CentrePatchClassifier",
           "book_patch_classifier"]

TASKS = {"cell": "cell or not cell, for each ROI of a Neurofinder folder (the chapter's patch classifier)"}
MODELS = {"cell": ["resnet18_conv1_autoencoder", "logistic_regression"]}


@dataclass
class RoiPatches:
    """ROIs to classify: ``images`` the (3, rows, cols) patch image of each folder (:func:`~.data.patch_image`),
    ``image_index`` (n,) the folder of each ROI, ``centres`` (n, 2) its centroid (row, col). Indexable by an index
    array like the samples of any estimator."""

    images: list
    image_index: np.ndarray
    centres: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, idx) -> RoiPatches:
        idx = np.asarray(idx)
        return RoiPatches(self.images, self.image_index[idx], self.centres[idx])

    def patches(self, size: int) -> np.ndarray:
        """(n, 3, size, size) float32 patches around the centres (zero-padded at the border)."""
        from .detection import extract_patches

        out = np.zeros((len(self), 3, size, size), np.float32)
        for k, img in enumerate(self.images):
            sel = np.flatnonzero(self.image_index == k)
            if len(sel):
                out[sel] = extract_patches(img, self.centres[sel], size)
        return out


class CentrePatchClassifier:
    """A fitted patch classifier applied to :class:`RoiPatches`: cuts ``patch_size`` patches around the ROI centres
    and returns the classifier's ``predict_proba`` (columns ``classes_``: the class names)."""

    def __init__(self, estimator, patch_size: int, class_names):
        self.estimator, self.patch_size = estimator, int(patch_size)
        self.classes_ = np.asarray(class_names)[np.asarray(estimator.classes_, int)]

    def predict_proba(self, X: RoiPatches) -> np.ndarray:
        return self.estimator.predict_proba(X.patches(self.patch_size))

    def predict(self, X: RoiPatches) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def book_patch_classifier(model: str = "resnet18_conv1_autoencoder", *, profile: str = "cpu", seed: int = 0,
                          progress: bool = False):
    """``(estimator, cfg)``: the chapter's patch classifier ``model`` trained on all of the book movie's patches
    (page 3's settings of ``profile``: jittered centres, local normalisation, the autoencoder-pretrained trunk for
    the ResNet18; ``random_state = seed``), cached (:func:`neuro_lib.cache.cached`) under the model, the settings,
    the seed, the archive's sha256 and the code, so a second call neither loads the movie nor trains. Raises
    ``ValueError`` for an unknown model."""
    from .. import cache
    from ..datasets import REGISTRY
    from . import chapter
    from .data import DATA_KEY
    from .patches import TransferClassifier

    if model not in MODELS["cell"]:
        raise ValueError(f"unknown imaging model {model!r}; expected one of {MODELS['cell']}")
    cfg = chapter.settings(profile)
    key = dict(model=model, cfg={k: v for k, v in cfg.items() if not k.startswith(("unet_", "s2p_", "n_frames",
                                                                                   "threads"))},
               seed=int(seed), archive=REGISTRY[DATA_KEY].sha256, jitter=PATCH_JITTER, inputs="local")
    code = ["neuro_lib.models.transfer", "neuro_lib.imaging.patches", "neuro_lib.imaging.chapter",
            "neuro_lib.imaging.data", "neuro_lib.imaging.summary", "neuro_lib.imaging.detection", "neuro_lib.training",
            "neuro_lib.estimators"]
    compute = lambda: _fit_on_book(model, cfg, seed, progress)  # noqa: E731
    if model == "logistic_regression":  # a few seconds: fitted each time, no pickles
        return compute(), cfg
    state = cache.cached("imaging/patch_classifier", key, lambda: compute().get_state(), kind="pt", name=model,
                         code=code, packages=("torch",))
    return TransferClassifier.from_state(state), cfg


#: Page 3's jitter of the patch centres (pixels), with which the classifier is trained.
PATCH_JITTER = 2


def _fit_on_book(model: str, cfg: dict, seed: int, progress: bool):
    from ..evaluation import seed_estimator
    from . import chapter
    from .data import cached_summary, load_book_movie, patch_image
    from .detection import extract_patches
    from .patches import book_patch_dataset, pixel_logistic_regression, pretrained_trunk, random_patch_centres

    data = load_book_movie()
    summary = cached_summary(data)
    rgb = patch_image(summary, "local")
    ds = book_patch_dataset(rgb, data, summary["corr"], summary["mean"], size=cfg["patch_size"], jitter=PATCH_JITTER,
                            seed=seed, n_patches=cfg["n_patches"])
    if model == "logistic_regression":
        return pixel_logistic_regression().fit(ds["x"], ds["y"])
    unl = extract_patches(rgb, random_patch_centres(rgb.shape[1:], cfg["ae_patches"], np.random.default_rng(seed)),
                          cfg["patch_size"])
    trunk = pretrained_trunk("resnet18", unl, input_size=cfg["input_size"]["resnet18"], epochs=cfg["ae_epochs"],
                             seed=seed)
    est = seed_estimator(chapter.patch_network(cfg, "resnet18", "conv1", weights=str(trunk["path"])), seed)
    return est.set_params(progress=progress).fit(ds["x"], ds["y"])


def fitted_model(task: str, model: str, *, profile: str = "cpu", seed: int = 0, progress: bool = True):
    """The chapter's patch classifier ``model`` trained on all of the book movie's patches, wrapped to classify
    :class:`RoiPatches` (:class:`CentrePatchClassifier`, classes ``"cell"`` and ``"not_cell"``). Raises
    ``ValueError`` for an unknown task or model."""
    if task not in TASKS:
        raise ValueError(f"unknown imaging task {task!r}; expected one of {list(TASKS)}")
    est, cfg = book_patch_classifier(model, profile=profile, seed=seed, progress=progress)
    return CentrePatchClassifier(est, cfg["patch_size"], ["not_cell", "cell"])


def read_inputs(paths, task: str = "cell"):
    """Read Neurofinder folders into :class:`neuro_lib.predict.Inputs` whose ``X`` is a :class:`RoiPatches`.

    Ids are ``<folder>:roi<index>:id=<id>``. A folder whose frames cannot be read (:func:`load_neurofinder`'s
    errors, or no ``regions/regions.json`` list) gives one row ``<folder>`` with the error; an ROI that fails
    :func:`~.neurofinder.parse_roi` gives its row the :class:`NeurofinderError` message (file and ROI index)."""
    from ..predict import Inputs
    from .data import patch_image
    from .summary import summary_images

    ids, errors, valid, images, index, centres = [], {}, [], [], [], []
    for p in map(Path, paths):
        try:
            data = load_neurofinder(p, regions=False)
            doc = read_regions_doc(p / "regions" / "regions.json")
        except NeurofinderError as err:
            errors[len(ids)] = str(err)
            ids.append(str(p))
            continue
        img = patch_image(summary_images(data.movie), "local")
        for i, entry in enumerate(doc):
            rid = entry.get("id", i) if isinstance(entry, dict) else i
            ids.append(f"{p}:roi{i}:id={rid}")
            try:
                roi = parse_roi(entry, i, p / "regions" / "regions.json", data.shape)
            except NeurofinderError as err:
                errors[len(ids) - 1] = str(err)
                continue
            valid.append(len(ids) - 1)
            index.append(len(images))
            centres.append(roi.mean(axis=0))
        images.append(img)
    X = RoiPatches(images, np.asarray(index, int), np.asarray(centres, float).reshape(-1, 2))
    return Inputs(ids, X, valid, errors)
