"""Classify your own reconstructions with the chapter's models:
``python -m neuro_lib.predict morphology --task rat_s1_2class --model M --out predictions.csv FILE.swc ...``.

The model is the estimator the chapter cross-validates (:func:`neuro_lib.morphology.experiment.chapter_models`,
the profile's settings), trained on **all** of the task's cells: the networks stop early on a stratified ninth of
them (as in the book's splits) and every other model is fitted on all; the networks' fits are cached
(:mod:`neuro_lib.morphology.networks`, ``cache=True``), so only the first call trains. The default model,
``neurite_gb`` (gradient boosting on the 77 per-neurite morphometrics), is the chapter's best on task (a) (0.96 in
the CPU profile) and trains in seconds. Note what it has learnt: SWC type codes (apical dendrite, axon) as the
training labs wrote them (see the fusion page on "atypical" cells); a file typed differently is a different input.

``--task principal_interneuron`` (the across-labs page, :mod:`~neuro_lib.morphology.across_labs`) trains on every
principal/interneuron-labelled cell of every source in the mirror; its default model, ``svm_free``, reads
neither type codes nor the axon nor the orientation (``*_aware`` models are the typing-aware regime), which is what
suits files from a lab the book never saw (see :data:`~neuro_lib.morphology.across_labs.PREDICT_MODELS` for why
this one).

Inputs are SWC files (or folders of them), read with the book's policy
(:func:`~neuro_lib.morphology.io.load_swc`); a file that fails validation gets a row with the
:class:`~neuro_lib.morphology.io.SWCError` message (file, line, reason) and the others are still classified.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..predict import Inputs
from . import data
from .across_labs import PREDICT_MODELS

__all__ = ["TASKS", "MODELS", "fitted_model", "read_inputs", "SWCModel", "views_needed", "views_of"]

TASKS = {"rat_s1_2class": data.TASKS["rat_s1_2class"],
         "principal_interneuron": "principal cell vs interneuron, every labelled cell of every source (the "
                                  "across-labs page; *_free models read no type code, no axon, no orientation)"}
MODELS = {"rat_s1_2class": ["neurite_gb", "svm", "tree_lstm", "lstm", "cnn", "fusion", "fusion_mlp"],
          "principal_interneuron": list(PREDICT_MODELS)}


def views_needed(estimator) -> set[str]:
    """The views of a :class:`~neuro_lib.morphology.views.Views` that ``estimator`` reads (its
    :class:`~neuro_lib.morphology.views.OnView` wrappers, nested ones included)."""
    from .views import OnView

    found = [estimator, *estimator.get_params(deep=True).values()]
    return {e.view for e in found if isinstance(e, OnView)}


def views_of(swcs, names, *, image_size: int = 64):
    """A :class:`~neuro_lib.morphology.views.Views` of the ``names`` views of a list of
    :class:`~neuro_lib.morphology.io.SWC`, computed as for the book's cells: ``features`` (20 morphometrics),
    ``neurites`` (77 per-neurite morphometrics), ``images`` (projections of ``image_size`` pixels), ``trees``
    (reduced trees). Raises ``KeyError`` for another name."""
    from .features import morphometrics
    from .neurites import NEURITE_FEATURES, neurite_morphometrics
    from .projections import project
    from .tree import reduce_tree
    from .views import Views

    make = {"features": lambda: np.array([list(morphometrics(s).values()) for s in swcs], float),
            "neurites": lambda: np.array([[neurite_morphometrics(s)[k] for k in NEURITE_FEATURES] for s in swcs],
                                         float),
            "images": lambda: np.stack([project(s, image_size) for s in swcs]),
            "trees": lambda: [reduce_tree(s.xyz, s.radius, s.parent, s.types) for s in swcs]}
    unknown = set(names) - set(make)
    if unknown:
        raise KeyError(f"unknown view(s) {sorted(unknown)}; known: {sorted(make)}")
    return Views(**{n: make[n]() for n in sorted(names)})


class SWCModel:
    """A fitted chapter model that takes a list of :class:`~neuro_lib.morphology.io.SWC` (the cells' views are
    computed with the training cells' settings, :func:`views_of`). ``classes_``, ``predict_proba(swcs)`` (n, k),
    ``predict(swcs)``; ``estimator`` is the fitted model."""

    def __init__(self, estimator, *, image_size: int):
        self.estimator, self.image_size = estimator, image_size
        self.classes_ = np.asarray(estimator.classes_)
        self.views = views_needed(estimator)

    def predict_proba(self, swcs) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(views_of(list(swcs), self.views, image_size=self.image_size)))

    def predict(self, swcs) -> np.ndarray:
        return self.classes_[self.predict_proba(swcs).argmax(1)]


def fitted_model(task: str, model: str, *, profile: str = "cpu", seed: int = 0, progress: bool = True) -> SWCModel:
    """``model`` (one of :data:`MODELS` ``[task]``) trained on all of ``task``'s cells with the ``profile``'s
    settings and ``seed`` (every ``random_state`` in it), as an :class:`SWCModel`. Raises ``KeyError`` for an unknown
    task or model."""
    from .. import profiles
    from ..evaluation import seed_estimator
    from . import chapter, experiment

    if task not in TASKS or model not in MODELS[task]:
        raise KeyError(f"unknown task/model {task}/{model}; known: {MODELS}")
    if task == "principal_interneuron":
        from . import across_labs

        return across_labs.fitted_model(model, profile=profile, seed=seed, progress=progress)
    cfg = chapter.settings(profile)
    rt = profiles.runtime(profile, "auto", None, default_threads=cfg["threads"])
    est = seed_estimator(experiment.chapter_models(cfg, device=rt.device, names=[model])[model], seed)
    inp = data.task_inputs(task, image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed,
                           progress=progress, views=views_needed(est))
    train, val = data._split_train_val(inp.y, np.arange(len(inp.y)), 1 / 9, seed + 100)
    train, val = np.sort(train), np.sort(val)
    est.fit(inp.views[train], inp.y[train], X_val=inp.views[val], y_val=inp.y[val])
    return SWCModel(est, image_size=cfg["image_size"])


def _expand(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted({f for pat in ("*.swc", "*.SWC", "*.swc.gz") for f in p.rglob(pat)})
        else:
            out.append(p)
    return out


def read_inputs(paths, task: str = "rat_s1_2class") -> Inputs:
    """Read SWC files (folders: every ``*.swc``/``*.swc.gz`` under them, sorted) with
    :func:`~neuro_lib.morphology.io.load_swc`: ``Inputs.X`` the valid cells (a list of
    :class:`~neuro_lib.morphology.io.SWC`), ``errors`` the :class:`~neuro_lib.morphology.io.SWCError` message of
    each file that failed (or ``FileNotFoundError``'s)."""
    from .io import SWCError, load_swc

    files = _expand(paths)
    ids, X, valid, errors = [str(f) for f in files], [], [], {}
    for i, f in enumerate(files):
        try:
            X.append(load_swc(f))
            valid.append(i)
        except (SWCError, FileNotFoundError) as err:
            errors[i] = str(err)
    return Inputs(ids, X, valid, errors)
