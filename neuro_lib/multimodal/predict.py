"""Classify your own cells from both modalities with the multimodal chapter's models:
``python -m neuro_lib.predict multimodal --task e_i|cre5 --model M --out predictions.csv CELLS.csv ...``.

Inputs are CSV files, one cell a row (header = line 1), with

* the ephys feature columns of the task, named as in the Allen Cell Types feature table and the ephys chapter's
  inputs (any order; other columns ignored): for ``cre5`` the authors' 41 features
  (:data:`neuro_lib.ephys.FEATURES_41`), for ``e_i`` the 33 ACTB columns (:data:`neuro_lib.ephys.ACTB_FEATURES`;
  ``has_burst``/``has_delay``/``has_pause`` may be ``True``/``False`` as in the Allen table). A blank value is
  missing and imputed by the model, as in the book; a row whose features are all blank has no ephys;
* an optional ``swc`` column: the cell's SWC file, absolute or relative to the CSV's folder; blank (or no column):
  no morphology. Its 77 morphometrics are those of the chapter's cells
  (:func:`neuro_lib.morphology.neurites.neurite_table`, which reads the file with
  :func:`~neuro_lib.morphology.io.load_swc`);
* an optional ``specimen_id``, ``file_name``, ``cell_id`` or ``id`` column, carried into the output's ``input``.

Each row's ``input`` id is ``<file>:<line>[:<cell id>]``; a classified row's ends with ``:modalities=ephys+morph``,
``:modalities=ephys`` or ``:modalities=morph``, what the model was asked with. A cell with one modality is classified
from that one: the late fusion (the default; for ``e_i``, ``late_fusion_no_apical``) falls back to the branches of
the modality present
(:class:`~neuro_lib.multimodal.models.LateFusion`), ``joint_lspin`` was trained with modality dropout. A
single-modality model (``ephys_*``, ``morphology_*``) asked about a cell without its modality raises ``ValueError``
naming those inputs (it has nothing to read). A row with neither modality, a missing or malformed SWC file (the
:class:`~neuro_lib.morphology.io.SWCError` message: SWC file, line, reason) or a value that is not a number
(:class:`~neuro_lib.ephys.EphysTableError`: file, line, column) gets an error row naming the CSV file, line and
column, and the other rows are still classified; a file that cannot be used at all (not a CSV, no data rows, a
feature column missing) is one error row.

The models are :func:`neuro_lib.multimodal.experiment.models` with the profile's settings
(:mod:`neuro_lib.multimodal.chapter`), trained on **all** of the task's cells (:func:`~.data.task_data`; for the
tasks of the profile's ``ephys_only_cells``, ``cre5`` in every profile, also the ephys-only cells of the same tables,
as in the chapter). The LSPIN models' fits are cached (:func:`neuro_lib.cache.cached`, torch state, no pickles); the
scikit-learn models are fitted at each call, as in the ephys chapter's predict. A whole CLI call on five cells
(cpu profile, one thread, a 2-core machine, 2026-12-02) took 24 s with ``late_fusion`` (its stack fits the SVC, the
forest and the gradient boosting on inner folds and again on all cells), 29 s with ``joint_lspin`` the first time
and 13 s once cached; about 10 s of each is the imports and the data tables.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..ephys import ACTB_FEATURES, FEATURES_41
from ..predict import Inputs
from .data import MODALITY_BLOCKS
from .data import TASKS as _TASKS

__all__ = ["TASKS", "MODELS", "EPHYS_FEATURES", "CellModel", "fitted_model", "read_inputs", "modalities_needed"]

TASKS = {"e_i": _TASKS["e_i"] + "; inputs: the 33 ACTB ephys features and/or an SWC file",
         "cre5": _TASKS["cre5"] + "; inputs: the authors' 41 ephys features and/or an SWC file"}

#: Models per task, the default first: the chapter's headline fused model (page 02; for ``e_i`` the late fusion
#: without the apical/basal split, which does not rely on how a lab types its dendrites), then the joint LSPIN and
#: the single-modality models of :func:`~neuro_lib.multimodal.experiment.models` (``ephys_svc_actb`` is left out: it
#: needs both feature tables; the TMD models too: this reader computes the 77 morphometrics, not persistence images).
MODELS = {"e_i": ["late_fusion_no_apical", "late_fusion", "joint_lspin", "ephys_svc", "ephys_lspin", "morphology_gb",
                  "morphology_rf", "morphology_rf_no_apical", "morphology_gb_no_apical"],
          "cre5": ["late_fusion", "joint_lspin", "ephys_svc", "ephys_lspin", "morphology_gb", "morphology_rf"]}


#: the ephys columns an input CSV needs, per task
EPHYS_FEATURES = {"e_i": list(ACTB_FEATURES), "cre5": list(FEATURES_41)}

_BOOL = {"True": "1", "False": "0", "true": "1", "false": "0"}
_BOOL_COLUMNS = ("has_burst", "has_delay", "has_pause")
_ID_COLUMNS = ("specimen_id", "file_name", "cell_id", "id")
_CODE = ("neuro_lib.multimodal.predict", "neuro_lib.multimodal.experiment", "neuro_lib.multimodal.models",
         "neuro_lib.multimodal.data", "neuro_lib.multimodal.chapter", "neuro_lib.ephys.models",
         "neuro_lib.models.lspin", "neuro_lib.morphology.neurites", "neuro_lib.evaluation", "neuro_lib.training",
         "neuro_lib.estimators")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown multimodal task {task!r}; expected one of {list(TASKS)}")


def modalities_needed(estimator) -> str:
    """``"ephys"`` or ``"morph"`` for a model that reads one modality only (an :class:`OnBlocks` of one block),
    ``"any"`` for a fused one (:class:`LateFusion`, an :class:`OnBlocks` over both)."""
    from .models import blocks_of

    blocks = set(blocks_of(estimator))
    if blocks == {"morph"}:
        return "morph"
    if blocks and "morph" not in blocks:
        return "ephys"
    return "any"


class CellModel:
    """A fitted chapter model that takes :func:`read_inputs`'s ``X`` (a DataFrame indexed by input id, columns
    ``<block>:<feature>``, NaN where a modality is absent; reindexed to the training columns). ``classes_`` the class
    names; ``predict_proba(X)`` (n, K); ``predict(X)``; ``estimator`` the fitted model on class codes; ``needs``
    (:func:`modalities_needed`). Raises ``ValueError`` for a single-modality model asked about cells without its
    modality, naming them."""

    def __init__(self, estimator, class_names, columns):
        self.estimator, self.columns = estimator, list(columns)
        self.classes_ = np.asarray(class_names, dtype=object)[np.asarray(estimator.classes_, dtype=int)]
        self.needs = modalities_needed(estimator)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = X.reindex(columns=self.columns)
        if self.needs != "any":
            cols = [c for c in X.columns if c.split(":", 1)[0] in MODALITY_BLOCKS[self.needs]]
            lacking = X.index[X[cols].isna().all(axis=1).to_numpy()]
            if len(lacking):
                raise ValueError(f"this model reads {self.needs} only and {len(lacking)} input(s) have none: "
                                 f"{', '.join(map(str, lacking[:5]))}{' ...' if len(lacking) > 5 else ''}; ask "
                                 f"late_fusion or joint_lspin (they classify a cell from the modality it has) or leave "
                                 f"those rows out")
        return np.asarray(self.estimator.predict_proba(X), dtype=float)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def _lspin_state(est) -> dict:
    return {"columns": list(est.columns_), "n_without": int(est.n_without_), "n_dropout": int(est.n_dropout_),
            "inner": est.estimator_.get_state()}


def _lspin_from_state(est, state: dict):
    """The unfitted :class:`OnBlocks` ``est`` given the fitted state of :func:`_lspin_state`."""
    inner = type(est.estimator).from_state(state["inner"])
    est.columns_, est.n_without_, est.n_dropout_ = list(state["columns"]), state["n_without"], state["n_dropout"]
    est.estimator_, est.classes_ = inner, inner.classes_
    return est


def fitted_model(task: str, model: str, *, profile: str = "cpu", seed: int = 0, progress: bool = True,
                 device: str = "cpu") -> CellModel:
    """``model`` (one of :data:`MODELS` ``[task]``) with ``profile``'s settings and ``random_state = seed``, trained on
    all of ``task``'s cells (the profile's ``max_cells`` and ``ephys_only_cells`` apply, as in the chapter), as a
    :class:`CellModel`. The LSPIN models (``ephys_lspin``, ``joint_lspin``) are cached under the task, model, settings
    (but ``threads``), seed, device, training cells and code; the others are fitted each call (seconds). Raises
    ``ValueError`` for an unknown task or model."""
    from .. import cache
    from ..ephys import LSPINClassifier
    from ..evaluation import seed_estimator
    from ..profiles import runtime
    from . import chapter, experiment
    from .data import task_data
    from .models import OnBlocks

    _check_task(task)
    if model not in MODELS[task]:
        raise ValueError(f"unknown model {model!r} for multimodal task {task}; expected one of {MODELS[task]}")
    cfg = chapter.settings(profile)
    rt = runtime(profile, device, None, default_threads=cfg["threads"])
    data = task_data(task, max_cells=cfg.get("max_cells"), seed=seed,
                     ephys_only=task in (cfg.get("ephys_only_cells") or ()))
    est = seed_estimator(experiment.models(task, cfg, str(rt.device))[model], seed)
    if isinstance(est, OnBlocks) and isinstance(est.estimator, LSPINClassifier):
        est.set_params(estimator__progress=progress)
        key = {"task": task, "model": model, "seed": int(seed), "device": str(rt.device),
               "cfg": {k: cfg[k] for k in sorted(cfg) if k != "threads"}, "cells": [int(i) for i in data.X.index]}
        state = cache.cached("multimodal/predict", key, lambda: _lspin_state(est.fit(data.X, data.y)), kind="pt",
                             name=f"{task}-{model}", code=_CODE, packages=("torch", "sklearn"))
        est = _lspin_from_state(est, state)
    else:
        est.fit(data.X, data.y)
    return CellModel(est, data.class_names, data.X.columns)


def _line(pos: int) -> int:
    return pos + 2  # CSV line of data row ``pos`` (the header is line 1)


def _ephys_values(raw: pd.DataFrame, path: Path, features: list[str]) -> tuple[np.ndarray, dict]:
    """``(X (n, len(features)) float, errors {row: message})``: blank is NaN; a value that is not a number is an
    :class:`~neuro_lib.ephys.EphysTableError` message (file, line, column)."""
    from ..ephys import EphysTableError

    X = np.full((len(raw), len(features)), np.nan)
    errors: dict[int, str] = {}
    for j, col in enumerate(features):
        text = raw[col].str.strip()
        if col in _BOOL_COLUMNS:
            text = text.map(_BOOL).fillna(text)
        blank = text.isin(["", "nan", "NaN", "NA"])
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        for pos in np.flatnonzero((num.isna() & ~blank).to_numpy()):
            errors.setdefault(int(pos), str(EphysTableError(path, col, _line(int(pos)),
                                                            f"value {raw[col].iloc[pos]!r} is not a number")))
        X[:, j] = num.to_numpy(dtype=float)
    return X, errors


def _morph_values(path: Path, cell: str, line: int) -> np.ndarray:
    """The 77 morphometrics of the SWC file ``cell`` (relative to ``path``'s folder), as the chapter computes them.
    Raises ``ValueError`` whose message names the CSV file, line and the ``swc`` column (and, for a malformed file,
    the SWC file and its line)."""
    from ..morphology.io import SWCError
    from ..morphology.neurites import neurite_table

    swc = Path(cell).expanduser()
    swc = swc if swc.is_absolute() else path.parent / swc
    where = f"{path}, line {line}, column 'swc'"
    if not swc.is_file():
        raise ValueError(f"{where}: {swc} is a folder, not an SWC file" if swc.is_dir() else
                         f"{where}: no such SWC file {swc}")
    try:
        return neurite_table([swc], n_jobs=1, cache=False).to_numpy(dtype=float)[0]
    except SWCError as err:
        raise ValueError(f"{where}: {err}") from None


def read_inputs(paths, task: str) -> Inputs:
    """Read the CSV files ``paths`` for ``task`` (see the module docstring): one input per data row, ids
    ``"<file>:<line>[:<cell id>]"`` (``:modalities=...`` added for the valid rows); a file that cannot be used is one
    input, ``"<file>"``, with its error. Returns :class:`neuro_lib.predict.Inputs` whose ``X`` is a DataFrame (one row
    per valid input, indexed by its id; columns ``<ephys block>:<feature>`` and ``morph:<feature>``, float, NaN for
    a missing value or modality)."""
    from ..ephys import EphysTableError
    from ..morphology.neurites import NEURITE_FEATURES
    from .chapter import EPHYS_BLOCK

    _check_task(task)
    features = EPHYS_FEATURES[task]
    columns = [f"{EPHYS_BLOCK[task]}:{f}" for f in features] + [f"morph:{f}" for f in NEURITE_FEATURES]
    ids, rows, valid, errors = [], [], [], {}
    for path in map(Path, paths):
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, IsADirectoryError) as err:
            errors[len(ids)] = str(EphysTableError(path, None, None, f"not a readable CSV table ({err})"))
            ids.append(str(path))
            continue
        missing = [c for c in features if c not in raw.columns]
        if missing or raw.empty:
            reason = (f"missing column(s) {missing}; task {task} needs the {len(features)} ephys feature columns "
                      f"(blank values allowed) and an optional 'swc' column" if missing else
                      "no data rows under the header")
            errors[len(ids)] = str(EphysTableError(path, missing[0] if missing else None, 1 if missing else None,
                                                   reason))
            ids.append(str(path))
            continue
        id_col = next((c for c in _ID_COLUMNS if c in raw.columns), None)
        E, bad = _ephys_values(raw, path, features)
        swc = raw["swc"].str.strip() if "swc" in raw.columns else pd.Series([""] * len(raw))
        for i in range(len(raw)):
            row_id = f"{path}:{_line(i)}" + (f":{raw[id_col].iloc[i]}" if id_col else "")
            has_ephys = not np.isnan(E[i]).all()
            try:
                if i in bad:
                    raise ValueError(bad[i])
                if not has_ephys and not swc.iloc[i]:
                    raise ValueError(f"{path}, line {_line(i)}: no ephys feature value and no SWC file in this row")
                M = _morph_values(path, swc.iloc[i], _line(i)) if swc.iloc[i] else np.full(len(NEURITE_FEATURES),
                                                                                               np.nan)
            except ValueError as err:
                errors[len(ids)] = str(err)
                ids.append(row_id)
                continue
            mods = "+".join(m for m, ok in (("ephys", has_ephys), ("morph", bool(swc.iloc[i]))) if ok)
            valid.append(len(ids))
            ids.append(f"{row_id}:modalities={mods}")
            rows.append(np.r_[E[i], M])
    X = pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(columns))), columns=columns,
                     index=pd.Index([ids[v] for v in valid], name="input"))
    return Inputs(ids, X, valid, errors)
