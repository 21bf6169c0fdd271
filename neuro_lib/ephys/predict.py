"""Classify your own cells with the ephys chapter's models: ``python -m neuro_lib.predict ephys --task ei|cre5
--model M --out predictions.csv CELLS.csv ...``.

Inputs are CSV files with the authors' 41 feature columns (:data:`~neuro_lib.ephys.data.FEATURES_41`, named as in
their files and in the Allen Cell Types feature table; any order; other columns ignored; a ``specimen_id``,
``file_name``, ``cell_id`` or ``id`` column, if present, is carried into the output's ``input`` column). Units are
the Allen feature table's (mV, pA, ms, MOhm, ...). A blank value is missing and imputed by the model, as in the book.
A bad value fails that row only (its :class:`~neuro_lib.ephys.data.EphysTableError` message, naming the file, line
and column, goes to the ``error`` column); a file without the 41 columns fails as one row; the other rows are still
classified.

The models are the book's estimators with the chosen profile's settings (:mod:`neuro_lib.ephys.chapter`), trained on
all of the task's cells: E/I on the 1,424 mouse and 299 human cells (species as the DANN's domain), Cre classes on
the 1,424 mouse cells. A fit takes under a minute (cpu profile, one thread, on this project's 2-core machine under a
load of 10: DANN 15 s, the LSPIN ensemble 26 s, the SVC 0.4 s), so nothing is cached.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..predict import Inputs
from .chapter import CRE5_MODELS, EI_MODELS, cre5_models, ei_models, settings
from .data import EphysTableError, cre5_data, ei_data, read_feature_rows

__all__ = ["TASKS", "MODELS", "fitted_model", "read_inputs", "NamedClasses"]

TASKS = {"ei": "excitatory (spiny) or inhibitory (aspiny); trained on mouse and human cells",
         "cre5": "the five mouse Cre classes of Ophir et al. 2023 (Glutamatergic, Pvalb, Htr3a+|Vip-, Sst, Vip)"}

#: Models per task, the default first: the chapter's best, the model with the highest cross-validated accuracy in
#: the cpu profile (mean over 3 seeds). E/I: the pooled network, 97.9% on all test cells and 95.2% on human ones; the
#: DANN, the paper's model, is 0.1 points behind on human cells (paired interval -2.6 to +2.4 points: no difference).
#: Cre classes: the SVC, 88.3%; LSPIN, the paper's model, is 0.2 points behind (interval -1.7 to +1.2: no
#: difference). See pages 02 and 03 of the book.
MODELS = {"ei": ["pooled_network"] + [m for m in EI_MODELS if m != "pooled_network"],
          "cre5": ["svc"] + [m for m in CRE5_MODELS if m != "svc"]}


class NamedClasses(ClassifierMixin, BaseEstimator):
    """A fitted classifier trained on integer class codes, shown with the class names: ``classes_`` are the names
    in code order; ``predict_proba`` is the estimator's."""

    def __init__(self, estimator, names):
        self.estimator, self.names = estimator, names

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.names, dtype=object)[np.asarray(self.estimator.classes_, dtype=int)]

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def fitted_model(task: str, model: str, *, profile: str = "cpu", seed: int = 0, progress: bool = True,
                 device: str = "cpu") -> NamedClasses:
    """The ``model`` of ``task`` (see :data:`MODELS`) with ``profile``'s settings and ``random_state = seed``, trained
    on all of the task's cells. Raises ``ValueError`` for an unknown task or model."""
    from ..evaluation import seed_estimator
    from ..profiles import runtime

    if task not in TASKS:
        raise ValueError(f"unknown ephys task {task!r}; expected one of {list(TASKS)}")
    if model not in MODELS[task]:
        raise ValueError(f"unknown model {model!r} for ephys task {task}; expected one of {MODELS[task]}")
    cfg = settings(profile, ei_models=[model], cre5_models=[model])
    runtime(profile, device, None, default_threads=cfg["threads"])  # the book's thread count: the book's numbers
    data = ei_data() if task == "ei" else cre5_data()
    est = seed_estimator((ei_models if task == "ei" else cre5_models)(cfg, device)[model], seed)
    if hasattr(est, "progress"):
        est.set_params(progress=progress)
    kw = {"domain": data.domain} if task == "ei" and "domain" in _fit_params(est) else {}
    est.fit(data.X, data.y, **kw)
    return NamedClasses(est, data.class_names)


def _fit_params(est) -> list[str]:
    import inspect

    return list(inspect.signature(est.fit).parameters)


def read_inputs(paths, task: str) -> Inputs:
    """Read the CSV files ``paths`` for ``task`` (both tasks take the same 41 features): one input per data row,
    ``ids`` ``"<file>:<line>[:<cell id>]"``; a file that cannot be used is one input, ``"<file>"``, with its error.
    Returns :class:`neuro_lib.predict.Inputs` (``X`` (n_valid, 41) float64)."""
    if task not in TASKS:
        raise ValueError(f"unknown ephys task {task!r}; expected one of {list(TASKS)}")
    ids, rows, valid, errors = [], [], [], {}
    for path in paths:
        try:
            file_ids, X, bad = read_feature_rows(Path(path))
        except EphysTableError as err:
            errors[len(ids)] = str(err)
            ids.append(str(path))
            continue
        for i, row_id in enumerate(file_ids):
            if i in bad:
                errors[len(ids)] = bad[i]
            else:
                valid.append(len(ids))
                rows.append(X[i])
            ids.append(row_id)
    X = np.vstack(rows) if rows else np.empty((0, 41))
    return Inputs(ids, X, valid, errors)
