"""The ephys chapter's experiments: its splits (cross-validation and the paper's single splits), the runs of its two
tasks through :func:`neuro_lib.evaluation.cross_validate`, the paired comparisons its pages state, and their results
entries.

**Seeds.** A run with ``n_repeats`` = R repeats the stratified k-fold cross-validation R times; repeat r has its own
partition of the cells and its own training seeds (split j trains with ``seed + j``), so each repeat is one "seed"
of the whole experiment. The paper's single split is trained R times too, with seeds ``seed .. seed + R - 1``.

**Results keys** (:func:`ei_metrics`, :func:`cre5_metrics`), for each model and test group (E/I: ``group=mouse``,
``group=human`` and all cells; Cre: all cells)::

    <task>/<model>[/group=G]/<metric>                  mean over every split of every seed
    <task>/<model>[/group=G]/<metric>_sd               sd over the R seeds of each seed's cross-validated mean
    <task>/<model>/split=folds[/group=G]/<metric>_sd   sd over the single test folds (R x k of them)
    <task>/<model>/split=paper[/group=G]/<metric>      the paper's split: mean over the R training seeds (+ _sd)
    <task>/<a>[/group=G]/diff_vs_<b>/<metric>          a - b over the same splits (+ _lo, _hi: 95% interval of the
                                                       corrected resampled t-test, Nadeau & Bengio 2003; _p)

With one seed the seed sd is not defined (written as null).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import results as res
from ..evaluation import (CVResult, PairedDifference, Split, kfold_splits, paired_difference, say_difference,
                          stratified_split)
from .chapter import cre5_models, ei_models
from .data import TaskData

__all__ = ["cv_splits", "paper_split_ei", "paper_split_cre5", "subsample", "Experiment", "run_ei", "run_cre5",
           "seed_summary", "summary_frame", "ei_metrics", "cre5_metrics", "data_metrics", "say_rate", "say_difference",
           "plot_differences", "METRICS", "EI_COMPARISONS", "CRE5_COMPARISONS"]

#: The metrics written for every model (mean and sd over splits).
METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall")

#: The paper's single splits (Ophir et al. 2023, Section 4): E/I 285 mouse + 60 human test cells of 1,424 + 299;
#: Cre classes 277 test cells of the 1,382 without a missing feature.
_PAPER_EI = {"mouse": (285, 1424), "human": (60, 299)}
_PAPER_CRE5 = (277, 1382)

#: The E/I comparisons the page states, ``(a, b, group)``: what the adversary adds (DANN against the same network
#: with the same labels), what the human labels add, and what adaptation gives without them.
EI_COMPARISONS = [("dann", "pooled_network", "human"), ("dann", "source_only", "human"),
                  ("pooled_network", "source_only", "human"), ("dann_unsupervised", "source_only", "human")]
#: The Cre comparisons: LSPIN against its gate-less network and every baseline, on all cells.
CRE5_COMPARISONS = [("lspin", b, "all") for b in ("mlp_no_gates", "logistic_regression", "svc", "random_forest",
                                                   "xgboost")]


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
    """One task's runs: ``data``; ``cv`` ``{model: CVResult}`` over the repeated cross-validation; ``paper``
    ``{model: CVResult}`` on the paper's split, one split per seed; ``diffs`` ``[(group, PairedDifference)]`` of the
    task's comparisons in accuracy and macro F1 (those whose two models ran); ``settings``."""

    data: TaskData
    cv: dict
    paper: dict
    diffs: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def diff(self, a: str, b: str, group: str = "all", metric: str = "accuracy") -> PairedDifference | None:
        """The paired difference ``a - b`` on ``group`` in ``metric``, or None if it was not computed."""
        return next((d for g, d in self.diffs if (d.a, d.b, g, d.metric) == (a, b, group, metric)), None)


def _paired(cv: dict, comparisons) -> list:
    return [(g, paired_difference(cv[a], cv[b], m, group=g)) for a, b, g in comparisons if a in cv and b in cv
            for m in ("accuracy", "macro_f1")]


def _seeded_paper_split(split: list[Split], n_seeds: int) -> list[Split]:
    [s] = split
    return [Split(s.train, s.val, s.test, fold=0, repeat=r) for r in range(n_seeds)]


def run_ei(data: TaskData, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True) -> Experiment:
    """Cross-validate every E/I model of ``cfg`` (:func:`~neuro_lib.ephys.chapter.ei_models`) on
    :func:`cv_splits` of species x class (``cfg["n_repeats"]`` seeds) and on :func:`paper_split_ei` (one training per
    seed), with ``seed`` (split ``j`` trains with ``seed + j``) and the species as the domain; test cells scored per
    species; :data:`EI_COMPARISONS` paired over the same splits."""
    from ..evaluation import cross_validate

    models = ei_models(cfg, device)
    kw = dict(seed=seed, fit_params={"domain": data.domain}, groups=data.species, progress=progress)
    cv = cross_validate(models, data.X, data.y, cv_splits(2 * data.domain + data.y, cfg["n_splits"],
                                                          cfg["n_repeats"], seed=seed), desc="E/I CV", **kw)
    paper = cross_validate(models, data.X, data.y, _seeded_paper_split(paper_split_ei(data.y, data.domain, seed=seed),
                                                                       cfg["n_repeats"]), desc="E/I paper split", **kw)
    return Experiment(data, cv, paper, _paired(cv, EI_COMPARISONS), dict(cfg))


def run_cre5(data: TaskData, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True
             ) -> Experiment:
    """Cross-validate every Cre-class model of ``cfg`` (:func:`~neuro_lib.ephys.chapter.cre5_models`) on
    :func:`cv_splits` of the class (every cell; the models impute; ``cfg["n_repeats"]`` seeds) and on
    :func:`paper_split_cre5` (complete cells only, as the paper; one training per seed), with ``seed``;
    :data:`CRE5_COMPARISONS` paired over the same splits."""
    from ..evaluation import cross_validate

    models = cre5_models(cfg, device)
    cv = cross_validate(models, data.X, data.y, cv_splits(data.y, cfg["n_splits"], cfg["n_repeats"], seed=seed),
                        seed=seed, progress=progress, desc="Cre CV")
    paper = cross_validate(models, data.X, data.y, _seeded_paper_split(paper_split_cre5(data.y, data.complete,
                                                                                        seed=seed), cfg["n_repeats"]),
                           seed=seed, progress=progress, desc="Cre paper split")
    return Experiment(data, cv, paper, _paired(cv, CRE5_COMPARISONS), dict(cfg))


def seed_summary(cv: CVResult, group: str = "all", metrics=METRICS) -> dict:
    """``{metric: mean over every split, metric_sd: sd (ddof 1) over the repeats of each repeat's mean (NaN for one
    repeat), metric_fold_sd: sd over the single splits}`` of ``cv`` on test group ``group``."""
    s = cv.scores[cv.scores["group"] == group]
    out = {}
    for m in metrics:
        per_seed = s.groupby("repeat")[m].mean().to_numpy(dtype=float)
        v = s[m].to_numpy(dtype=float)
        out[m] = float(np.mean(v))
        out[f"{m}_sd"] = _sd(per_seed)
        out[f"{m}_fold_sd"] = _sd(v)
    return out


def _sd(v: np.ndarray) -> float:
    """Sample sd; NaN for fewer than two values, exactly 0 for equal values (not a rounding residue of the mean)."""
    if len(v) < 2:
        return float("nan")
    return 0.0 if np.all(v == v[0]) else float(np.std(v, ddof=1))


def summary_frame(cv: dict, groups=("all",), metrics=METRICS) -> pd.DataFrame:
    """A table of ``{model: CVResult}``: one row per (model, group), columns ``<metric>`` (mean over every split),
    ``<metric>_sd`` (over seeds) and ``<metric>_fold_sd`` (see :func:`seed_summary`)."""
    rows = [{"model": name, "group": g, **seed_summary(r, g, metrics)}
            for name, r in cv.items() for g in groups if g in r.groups]
    return pd.DataFrame(rows).set_index(["model", "group"])


def _entries(cv: dict, task: str, split: str | None = None, folds: bool = True) -> dict:
    k = res.key
    out = {}
    for name, r in cv.items():
        for g in r.groups:
            gg = None if g == "all" else g
            s = seed_summary(r, g)
            for m in METRICS:
                out[k(task, name, m, split=split, group=gg)] = s[m]
                out[k(task, name, f"{m}_sd", split=split, group=gg)] = s[f"{m}_sd"]
                if folds:
                    out[k(task, name, f"{m}_sd", split="folds", group=gg)] = s[f"{m}_fold_sd"]
    return out


def _diff_entries(exp: Experiment, task: str) -> dict:
    out = {}
    for g, d in exp.diffs:
        out.update(res.diff_metrics(d, task, group=None if g == "all" else g))
    return out


def ei_metrics(exp: Experiment) -> dict:
    """Results entries of :func:`run_ei` (the keys of the module docstring, groups ``mouse``/``human``)."""
    return {**_entries(exp.cv, "ei"), **_entries(exp.paper, "ei", split="paper", folds=False),
            **_diff_entries(exp, "ei")}


def cre5_metrics(exp: Experiment) -> dict:
    """Results entries of :func:`run_cre5` (the keys of the module docstring)."""
    return {**_entries(exp.cv, "cre5"), **_entries(exp.paper, "cre5", split="paper", folds=False),
            **_diff_entries(exp, "cre5")}


def say_rate(row, metric: str = "accuracy") -> str:
    """``"98.7% (sd 0.2 over seeds, 1.1 over folds)"`` from a row of :func:`summary_frame` (``"one seed"`` when the
    seed sd is not defined)."""
    seeds = (f"sd {100 * row[f'{metric}_sd']:.1f} over seeds" if np.isfinite(row[f"{metric}_sd"]) else "one seed")
    return f"{100 * row[metric]:.1f}% ({seeds}, {100 * row[f'{metric}_fold_sd']:.1f} over folds)"


def plot_differences(exp: Experiment, metric: str = "accuracy", *, ax=None, names: dict | None = None):
    """Forest plot of the experiment's paired differences in ``metric``: mean and 95% interval in percentage points,
    a line at 0. Returns the Axes."""
    import matplotlib.pyplot as plt

    ds = [(g, d) for g, d in exp.diffs if d.metric == metric]
    names = names or {}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * len(ds)))
    for i, (_, d) in enumerate(ds):
        color = "tab:green" if d.significant and d.mean > 0 else "tab:red" if d.significant else "tab:gray"
        ax.errorbar(100 * d.mean, i, xerr=[[100 * (d.mean - d.lo)], [100 * (d.hi - d.mean)]], fmt="o", color=color,
                    capsize=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(ds)), [f"{names.get(d.a, d.a)} - {names.get(d.b, d.b)}"
                                   + ("" if g == "all" else f" ({g})") for g, d in ds])
    ax.invert_yaxis()
    ax.set_xlabel(f"difference in {metric.replace('_', ' ')} (percentage points; 95% interval, corrected "
                  f"resampled t-test over the same splits)")
    return ax


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
