"""The ephys chapter's experiments: its splits (cross-validation and the paper's single splits), the runs of its two
tasks through :func:`neuro_lib.evaluation.cross_validate`, and their results entries.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import results as res
from ..evaluation import CVResult, Split, kfold_splits, stratified_split
from .chapter import cre5_models, ei_models
from .data import TaskData

__all__ = ["cv_splits", "paper_split_ei", "paper_split_cre5", "subsample", "Experiment", "run_ei", "run_cre5",
           "summary_frame", "ei_metrics", "cre5_metrics", "data_metrics", "METRICS"]

#: The metrics written for every model (mean and sd over splits).
METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall")

#: The paper's single splits (Ophir et al. 2023, Section 4): E/I 285 mouse + 60 human test cells of 1,424 + 299;
#: Cre classes 277 test cells of the 1,382 without a missing feature.
_PAPER_EI = {"mouse": (285, 1424), "human": (60, 299)}
_PAPER_CRE5 = (277, 1382)


def cv_splits(strata, n_splits: int, n_repeats: int, *, seed: int = 0) -> list[Split]:
    """Repeated stratified k-fold :class:`~neuro_lib.evaluation.Split` list on ``strata`` (n,) (E/I: species x class,
    ``2 * domain + y``, so every fold has the same share of human inhibitory cells; Cre: the class)."""
    return kfold_splits(np.asarray(strata), n_splits, n_repeats, seed=seed)


def _scaled(n_paper: int, n_total_paper: int, n_here: int) -> int:
    """The paper's test count, or the same share of a subsample (``max_cells``)."""
    return n_paper if n_here == n_total_paper else max(2, int(round(n_paper * n_here / n_total_paper)))


def paper_split_ei(y, domain, *, seed: int = 0) -> list[Split]:
    """The paper's single E/I split (Ophir et al. 2023, Section 4.1): 285 mouse + 60 human test cells, stratified by
    class within species (seed ``seed``); the other 1,378 cells train (each network holds out 15% of them, 207, for
    early stopping: the paper's 1,171 / 207). On a subsample the same shares. Returns ``[Split]``."""
    y, domain = np.asarray(y), np.asarray(domain)
    test = []
    for dom, (n, total) in enumerate(_PAPER_EI.values()):
        idx = np.flatnonzero(domain == dom)
        n = _scaled(n, total, len(idx))
        _, te = stratified_split(y[idx], [len(idx) - n, n], seed=seed)
        test.append(idx[te])
    test = np.sort(np.concatenate(test))
    return [Split(np.setdiff1d(np.arange(len(y)), test), [], test)]


def paper_split_cre5(y, complete, *, seed: int = 0) -> list[Split]:
    """The paper's single Cre-class split: the cells with a missing feature dropped (1,424 - 42 = 1,382), then 1,105
    train / 277 test, stratified (seed ``seed``). ``complete``: (n,) bool, the cells without a missing value. On a
    subsample the same share. Returns ``[Split]``."""
    idx = np.flatnonzero(np.asarray(complete))
    n = _scaled(*_PAPER_CRE5, len(idx))
    tr, te = stratified_split(np.asarray(y)[idx], [len(idx) - n, n], seed=seed)
    return [Split(idx[tr], [], idx[te])]


def subsample(data: TaskData, max_cells: int | None, *, seed: int = 0) -> TaskData:
    """At most ``max_cells`` cells of ``data``, stratified by species x class (``None`` or a larger number: all).
    For the ``gpu_profile`` tests, which run the gpu configuration on a few hundred cells."""
    if max_cells is None or max_cells >= len(data):
        return data
    strata = data.domain * 100 + data.y
    keep, _ = stratified_split(strata, [int(max_cells), len(data) - int(max_cells)], seed=seed)
    return TaskData(data.task, data.X[keep], data.y[keep], data.class_names, data.species[keep], data.domain[keep],
                    data.specimen_id[keep])


@dataclass
class Experiment:
    """One task's runs: ``data``, ``cv`` ``{model: CVResult}`` over the cross-validation splits, ``paper``
    ``{model: CVResult}`` on the paper's single split, and ``settings``."""

    data: TaskData
    cv: dict
    paper: dict
    settings: dict = field(default_factory=dict)


def run_ei(data: TaskData, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True) -> Experiment:
    """Cross-validate every E/I model of ``cfg`` (:func:`~neuro_lib.ephys.chapter.ei_models`) on
    :func:`cv_splits` of species x class and on :func:`paper_split_ei`, with ``seed`` (split ``j`` of a run trains
    with ``seed + j``) and the species as the domain; test cells scored per species."""
    from ..evaluation import cross_validate

    models = ei_models(cfg, device)
    kw = dict(seed=seed, fit_params={"domain": data.domain}, groups=data.species, progress=progress)
    cv = cross_validate(models, data.X, data.y, cv_splits(2 * data.domain + data.y, cfg["n_splits"],
                                                          cfg["n_repeats"], seed=seed), desc="E/I CV", **kw)
    paper = cross_validate(models, data.X, data.y, paper_split_ei(data.y, data.domain, seed=seed),
                           desc="E/I paper split", **kw)
    return Experiment(data, cv, paper, dict(cfg))


def run_cre5(data: TaskData, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True
             ) -> Experiment:
    """Cross-validate every Cre-class model of ``cfg`` (:func:`~neuro_lib.ephys.chapter.cre5_models`) on
    :func:`cv_splits` of the class (every cell; the models impute) and on :func:`paper_split_cre5` (complete cells
    only, as the paper), with ``seed``."""
    from ..evaluation import cross_validate

    models = cre5_models(cfg, device)
    cv = cross_validate(models, data.X, data.y, cv_splits(data.y, cfg["n_splits"], cfg["n_repeats"], seed=seed),
                        seed=seed, progress=progress, desc="Cre CV")
    paper = cross_validate(models, data.X, data.y, paper_split_cre5(data.y, data.complete, seed=seed), seed=seed,
                           progress=progress, desc="Cre paper split")
    return Experiment(data, cv, paper, dict(cfg))


def summary_frame(cv: dict, groups=("all",), metrics=METRICS) -> pd.DataFrame:
    """A table of ``{model: CVResult}``: one row per (model, group), columns ``<metric>`` (mean over splits) and
    ``<metric>_sd``."""
    rows = []
    for name, r in cv.items():
        for g in groups:
            if g in r.groups:
                s = r.summary(g)
                rows.append({"model": name, "group": g, **{k: s[k] for m in metrics for k in (m, f"{m}_sd")}})
    return pd.DataFrame(rows).set_index(["model", "group"])


def _entries(cv: dict, task: str, **kw) -> dict:
    out = {}
    for name, r in cv.items():
        out.update(res.cv_metrics(r, task, name, metrics=METRICS, **kw))
    return out


def ei_metrics(exp: Experiment) -> dict:
    """Results entries of :func:`run_ei`: ``ei/<model>[/group=<species>]/<metric>`` (+ ``_sd`` over the CV splits)
    and ``ei/<model>/split=paper[/group=<species>]/<metric>`` for the paper's split."""
    return {**_entries(exp.cv, "ei"), **_entries(exp.paper, "ei", split="paper", sd=False)}


def cre5_metrics(exp: Experiment) -> dict:
    """Results entries of :func:`run_cre5`: ``cre5/<model>/<metric>`` (+ ``_sd``) and
    ``cre5/<model>/split=paper/<metric>``."""
    return {**_entries(exp.cv, "cre5"), **_entries(exp.paper, "cre5", split="paper", sd=False)}


def data_metrics(mouse, human, actb) -> dict:
    """Results entries of the data page: cell counts of the authors' files (``data/ophir2023/group=<species or Cre
    class or species_E/I>/cells``), missing values per species, and the full ACTB table's cells and sparsely spiny
    cells (``data/actb/...``)."""
    from .data import CRE_CLASSES

    k = res.key
    out = {k("data", "ophir2023", "cells", group="mouse"): len(mouse),
           k("data", "ophir2023", "cells", group="human"): len(human)}
    counts = mouse.meta["cre_class"].value_counts()
    out.update({k("data", "ophir2023", "cells", group=c): int(counts.get(c, 0)) for c in CRE_CLASSES})
    ei = human.meta["ei"].value_counts()
    out.update({k("data", "ophir2023", "cells", group=f"human_{c}"): int(ei.get(c, 0))
                for c in ("excitatory", "inhibitory")})
    out.update({k("data", "ophir2023", "missing_values", group=sp): int(t.features.isna().sum().sum())
                for sp, t in (("mouse", mouse), ("human", human))})
    out[k("data", "actb", "cells")] = len(actb)
    out[k("data", "actb", "cells", group="sparsely_spiny")] = actb.info["sparsely_spiny"]
    return out
