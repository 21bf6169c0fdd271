"""Classify your own EAPs with the MEA chapter's CNN: ``python -m neuro_lib.predict mea --task mtype --out p.csv
templates.npy ...``.

**Inputs**: ``.npy`` files (NumPy's own format, no pickles) of EAP templates, shape ``(n, 100, samples)`` (or
``(100, samples)`` for one template): the 100 sites of the 10x10 SqMEA-10-15 MEA (15 um pitch) in MEAutility's
order (:func:`neuro_lib.mea.extracellular.probe_positions`), in uV, sampled at the chapter's 32 kHz (``dt`` =
1/32 ms, :class:`~neuro_lib.mea.intracellular.IntraParams`), at least 1 ms long (the book's are 7 ms: 2 ms before the
trough, 5 after). Each template becomes the paper's feature images (:func:`neuro_lib.mea.features.eap_features`).
A file that is not such an array, or a template holding NaN or infinite values, gets an :class:`MEAError` message
(naming the file, and the template's index) in the error column; the other templates are still classified.

**Model**: the chapter's estimator (:class:`neuro_lib.mea.cnn.MEACNNClassifier`, with the profile's settings),
trained on all spikes of the ``3drot`` dataset (90% for training, 10% for early stopping) and cached. ``3drot``
because a user's cell can sit at any orientation to the probe: the networks of the other regimes only ever saw
upright cells or one rotation axis, and ``04_generalisation`` shows them failing on rotated cells while the
``3drot`` network carries to the other regimes. The class labels are names (``excitatory``/``inhibitory``; the
m-types of Buccino et al. 2018, Table I).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cells import MEAError

__all__ = ["TASKS", "MODELS", "REGIME", "SAMPLE_MS", "MIN_SAMPLES", "fitted_model", "read_inputs",
           "example_templates"]

REGIME = "3drot"
TASKS = {
    "binary": "excitatory vs inhibitory cell, from an EAP template on the 10x10 MEA (trained on the 3drot regime: "
              "cells at any orientation)",
    "mtype": "the 13 layer-5 m-types of Buccino et al. (2018), Table I (trained on the 3drot regime)",
}
MODELS = {t: ["cnn", "cnn_4ch"] for t in TASKS}
SAMPLE_MS = 2.0 ** -5   # ms, the chapter's sampling interval (32 kHz)
MIN_SAMPLES = 32        # 1 ms at 32 kHz
N_SITES = 100


def fitted_model(task: str, model: str = "cnn", *, profile: str = "cpu", seed: int = 0, progress: bool = True):
    """The chapter's ``model`` for ``task`` trained on all spikes of the profile's ``3drot`` dataset (simulated and
    cached on first use), with the profile's epochs, patience and torch threads; from the cache after the first
    call. Its ``classes_`` are class names. Raises ``ValueError`` for an unknown task or model."""
    from .. import evaluation, profiles
    from . import chapter
    from .classify import cnn_estimators, labels
    from .dataset import DatasetParams, build_dataset

    if task not in TASKS:
        raise ValueError(f"unknown MEA task {task!r}; expected one of {', '.join(TASKS)}")
    if model not in MODELS[task]:
        raise ValueError(f"unknown MEA model {model!r} for {task}; expected one of {', '.join(MODELS[task])}")
    cfg = chapter.settings(profile)
    rt = profiles.runtime(profile, "auto", None, default_threads=cfg["threads"])
    ds = build_dataset(DatasetParams(cells=tuple(cfg["cells"]), regime=REGIME, n_per_cell=cfg["n_per_cell"],
                                     seed=seed), n_jobs=cfg["n_jobs"], progress=progress)
    codes, names = labels(ds, task)
    y = np.asarray(names)[codes]
    tr, va = evaluation.stratified_split(ds.cell, [0.9, 0.1], seed=seed)
    est = cnn_estimators((model,), epochs=cfg["epochs"], patience=cfg["patience"], device=rt.device,
                         progress=progress, tag=f"{task}-{REGIME}-all")[model]
    est = evaluation.seed_estimator(est, seed)
    X = ds.images(range(ds.features.shape[1]))
    return est.fit(X[tr], y[tr], X_val=X[va], y_val=y[va])


def _load(path: str) -> np.ndarray:
    """The templates of one file as (n, 100, samples) float32; raises :class:`MEAError` naming the file."""
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as err:  # not .npy, truncated, a pickle...
        raise MEAError(f"{path}: not a readable NumPy .npy array ({type(err).__name__}: {err}); expected EAP "
                       f"templates of shape (n, {N_SITES} channels, samples)") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise MEAError(f"{path}: holds {getattr(arr, 'dtype', type(arr).__name__)} values; expected real numbers "
                       "(EAP templates in uV)")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != N_SITES:
        hint = " (channels last? transpose to (n, channels, samples))" if arr.ndim == 3 and \
            arr.shape[2] == N_SITES else ""
        raise MEAError(f"{path}: array of shape {arr.shape}; expected EAP templates of shape (n, {N_SITES} channels, "
                       f"samples) or ({N_SITES}, samples), the 10x10 MEA's sites in MEAutility's order{hint}")
    if arr.shape[2] < MIN_SAMPLES:
        raise MEAError(f"{path}: templates of {arr.shape[2]} samples; expected at least {MIN_SAMPLES} (1 ms at "
                       f"32 kHz, the chapter's sampling rate)")
    return arr.astype(np.float32)


def read_inputs(paths, task: str | None = None):
    """One input row per template (``<file>:<index>``; ``<file>`` alone for a file that failed as a whole): the
    valid templates' feature images ``X`` (n, 4, 10, 10) and an :class:`MEAError` message for each bad row
    (:class:`neuro_lib.predict.Inputs`)."""
    from ..predict import Inputs
    from .features import eap_features

    ids, feats, valid, errors = [], [], [], {}
    for path in map(str, paths):
        try:
            arr = _load(path)
        except MEAError as err:
            errors[len(ids)] = str(err)
            ids.append(path)
            continue
        finite = np.isfinite(arr).all(axis=(1, 2))
        for i in range(len(arr)):
            if not finite[i]:
                errors[len(ids)] = str(MEAError(f"{path}: template {i} holds NaN or infinite values; expected "
                                                "finite potentials in uV"))
            else:
                valid.append(len(ids))
            ids.append(f"{path}:{i}")
        if finite.any():
            feats.append(eap_features(arr[finite], SAMPLE_MS))
    side = int(round(np.sqrt(N_SITES)))
    X = np.concatenate(feats).reshape(-1, 4, side, side) if feats else np.zeros((0, 4, side, side), np.float32)
    return Inputs(ids=ids, X=X, valid=valid, errors=errors)


def example_templates(path: str | Path, *, n: int = 3, cell: str = "L5_BP_bAC217_1", seed: int = 0) -> Path:
    """Write ``n`` simulated templates of ``cell`` (3drot, random positions) to ``path`` as a ready example input;
    returns the path. Runs the cell's intracellular simulation if it is not cached."""
    from .extracellular import EAPSimulator, sample_positions, sample_rotations
    from .intracellular import load_cell

    rng = np.random.default_rng(seed)
    sim = EAPSimulator(load_cell(cell))
    pos = sample_positions(n, rng, xlim=(15.0, 30.0), ylim=(-30.0, 30.0), zlim=(-30.0, 30.0))
    eaps = sim.eaps(pos, sample_rotations(REGIME, n, rng), rng.integers(0, sim.cell.n_spikes, n))
    np.save(path, eaps)
    return Path(path)
