"""The chapter's experiment: every model of a task cross-validated on the same splits, the headline rows, the
paired differences, the missing-modality check and what the pages plot.

Estimators reused from the other chapters: :class:`neuro_lib.ephys.LSPINClassifier` and
:func:`neuro_lib.ephys.baselines` (its SVC), :func:`neuro_lib.morphology.neurites.neurite_gb` (gradient boosting
on the neurite morphometrics). Added here (:mod:`neuro_lib.multimodal.models`): :class:`OnBlocks`,
:class:`LateFusion`, the gate summary per modality.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import results
from ..evaluation import (
    CVResult,
    PairedDifference,
    Split,
    corrected_t_interval,
    cross_validate,
    kfold_splits,
    metrics,
    paired_difference,
)
from .chapter import EPHYS_BLOCK, HEADLINE, HEADLINE_ROWS
from .data import MODALITY_BLOCKS, TaskData, slug
from .models import LateFusion, OnBlocks, block_gates

__all__ = ["models", "Experiment", "task_splits", "run", "experiment", "comparisons", "task_metrics",
           "per_class_recall", "per_class_gain", "per_class_entries", "MISSING", "summary_frame", "plot_scores",
           "plot_differences", "say", "targets", "representations", "gate_table", "gate_entries", "separation"]

#: feature-name prefixes that carry the tracers' apical/basal annotation (left out by the ``*_no_apical`` models)
NO_APICAL = ("morph:apical_", "morph:basal_")

#: missing-modality rows: name -> (fused model, block set to NaN at test time, single-modality model it stands for)
MISSING = {"late_fusion_without_morph": ("late_fusion", "morph", "ephys_svc"),
           "late_fusion_without_ephys": ("late_fusion", "ephys", "morphology_rf"),
           "joint_lspin_without_morph": ("joint_lspin", "morph", "ephys_lspin"),
           "joint_lspin_without_ephys": ("joint_lspin", "ephys", "morphology_rf")}


def _rf(cfg):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(SimpleImputer(strategy="median"),
                         RandomForestClassifier(n_estimators=cfg["rf_trees"], n_jobs=1, random_state=0))


def models(task: str, cfg: dict, device: str = "cpu") -> dict:
    """``{name: estimator}`` for ``task`` (``"e_i"`` or ``"cre5"``), each reading its blocks of
    :func:`~neuro_lib.multimodal.data.task_data`'s ``X``:

    * ``ephys_svc``: the ephys chapter's best baseline (SVC, RBF, behind median imputation and z-scoring);
    * ``ephys_lspin``: the ephys chapter's LSPIN (``cfg``'s epochs, ensemble size, ``lambda1``);
    * ``ephys_svc_actb`` (``cre5`` only): the SVC on the 41 features plus the ACTB table's;
    * ``morphology_gb``: the morphology chapter's gradient boosting on the 77 neurite morphometrics;
    * ``morphology_rf``: a random forest on the same (median-imputed) features;
    * ``late_fusion``: :class:`LateFusion` of ``ephys_svc`` and both morphology models, ``morphology_rf`` and
      ``morphology_gb`` (logistic regression on their inner-fold probabilities, ``cfg["inner_cv"]`` folds of the
      training cells, so the stacker learns how far to trust each);
    * ``morphology_tmd``: the morphology chapter's TMD peer (:func:`neuro_lib.morphology.across_labs.image_model`:
      an L2 logistic regression on the typing-aware persistence image, block ``tmd``);
    * ``joint_lspin``: one LSPIN over the concatenated ephys and morphometric features (its gates show per cell
      which modality it read), trained with modality dropout (:class:`OnBlocks` ``modality_dropout``: each training
      cell with both modalities also once without each), so that asked with one modality missing it does not fall
      to the majority class;
    * ``morphology_rf_no_apical``, ``morphology_gb_no_apical``, ``late_fusion_no_apical`` (``e_i`` only, its
      headline rows: :data:`~neuro_lib.multimodal.chapter.HEADLINE`): the two morphology models without the
      features of SWC types 3 and 4 taken apart (:data:`NO_APICAL`: the Allen tracers labelled apical dendrites only
      in spiny cells, so those features carry the annotation), alone and in late fusion with ``ephys_svc``; and
      ``morphology_tmd_no_apical``, TMD on the typing-free image (axon removed, the dendrites one type).
    """
    from sklearn.linear_model import LogisticRegression

    from ..ephys import LSPINClassifier, baselines
    from ..morphology.across_labs import image_model
    from ..morphology.neurites import neurite_gb

    eb = EPHYS_BLOCK[task]
    svc = baselines()["svc"]

    def lspin():
        return LSPINClassifier(lambda1=cfg["lambda1"], epochs=cfg["lspin_epochs"], n_ensemble=cfg["n_ensemble"],
                               max_steps=cfg.get("max_steps"), device=device)

    def gb(exclude=()):
        return OnBlocks(neurite_gb(max_iter=cfg["gb_iter"], learning_rate=6.0 / cfg["gb_iter"]), ("morph",),
                        exclude=exclude)

    def rf(exclude=()):
        return OnBlocks(_rf(cfg), ("morph",), exclude=exclude)

    def tmd(image):  # the TMD peer on one of the two persistence images ("aware" or "free")
        return OnBlocks(image_model(), ("tmd",), exclude=("tmd:free_" if image == "aware" else "tmd:aware_",))

    def late(exclude=()):
        return LateFusion([("ephys", OnBlocks(svc, (eb,))), ("morph_rf", rf(exclude)), ("morph_gb", gb(exclude))],
                          final_estimator=LogisticRegression(max_iter=5000), cv=cfg["inner_cv"], random_state=0)

    out = {"ephys_svc": OnBlocks(svc, (eb,)), "ephys_lspin": OnBlocks(lspin(), (eb,))}
    if task == "cre5":
        out["ephys_svc_actb"] = OnBlocks(svc, (eb, "actb"))
    out.update({"morphology_gb": gb(), "morphology_rf": rf(),
                "morphology_tmd": tmd("aware"),
                "late_fusion": late(),
                "joint_lspin": OnBlocks(lspin(), (eb, "morph"), modality_dropout=(eb, "morph"))})
    if task == "e_i":
        out.update({"morphology_rf_no_apical": rf(NO_APICAL), "morphology_gb_no_apical": gb(NO_APICAL),
                    "morphology_tmd_no_apical": tmd("free"),
                    "late_fusion_no_apical": late(NO_APICAL)})
    return out


@dataclass
class Experiment:
    """One task's cross-validation: ``cv`` ``{model: CVResult}`` (the models of :func:`models`, the missing-modality
    rows of :data:`MISSING` and the headline rows ``ephys``, ``morphology``, ``fused``), ``chosen`` ``{headline:
    specific model}``, ``gates`` (n, 2) out-of-fold mean gate per modality of the joint LSPIN (first repeat),
    ``gated`` (n, n_features) its gated inputs (first repeat), ``data`` the task's cells."""

    task: str
    data: TaskData
    cv: dict
    chosen: dict = field(default_factory=dict)
    gates: pd.DataFrame | None = None
    gated: np.ndarray | None = None

    def diff(self, a: str, b: str, metric: str = "accuracy", group: str = "all") -> PairedDifference:
        return paired_difference(self.cv[a], self.cv[b], metric, group=group)

    @property
    def better_single(self) -> str:
        """The single-modality headline row with the higher mean accuracy."""
        return max(("ephys", "morphology"), key=lambda m: self.cv[m].summary()["accuracy"])


def _masked(X: pd.DataFrame, modality: str) -> pd.DataFrame:
    """``X`` with every block of ``modality`` (``"ephys"`` or ``"morph"``, :data:`MODALITY_BLOCKS`) set to NaN."""
    X = X.copy()
    cols = [c for c in X.columns if c.split(":", 1)[0] in MODALITY_BLOCKS[modality]]
    X[cols] = np.nan
    return X


def _rescored(name: str, base: CVResult, probas: list, groups) -> CVResult:
    rows = []
    grp = None if groups is None else np.asarray(groups).astype(str)
    for j, (s, p) in enumerate(zip(base.splits, probas)):
        yt = base.y[s.test]
        parts = [("all", np.ones(len(s.test), bool))]
        if grp is not None:
            parts += [(str(g), grp[s.test] == g) for g in dict.fromkeys(grp[s.test])]
        for g, sel in parts:
            rows.append({"split": j, "fold": s.fold, "repeat": s.repeat, "group": g,
                         **metrics(yt[sel], proba=p[sel], classes=base.classes)})
    return CVResult(name, base.classes, base.y, base.splits, list(probas), pd.DataFrame(rows))


def task_splits(data: TaskData, n_splits: int, n_repeats: int, *, seed: int = 0) -> list[Split]:
    """Repeated stratified k-fold (:func:`neuro_lib.evaluation.kfold_splits`) over the cells with both modalities
    (``data.tested``); the ephys-only cells, if any, are added to every split's training part (never tested)."""
    tested = np.flatnonzero(data.tested)
    extra = np.flatnonzero(~data.tested)
    out = []
    for s in kfold_splits(data.y[tested], n_splits, n_repeats, seed=seed):
        out.append(Split(np.sort(np.r_[tested[s.train], extra]), tested[s.val], tested[s.test], fold=s.fold,
                         repeat=s.repeat))
    return out


def run(data: TaskData, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True) -> Experiment:
    """Cross-validate every model of :func:`models` on ``data`` with the same repeated stratified splits
    (:func:`neuro_lib.evaluation.kfold_splits`, ``cfg["n_splits"]`` x ``cfg["n_repeats"]``, seed ``seed``); test
    cells are also scored per reconstruction type (``group=full`` / ``group=dendrite-only``). The fused models'
    fitted copies are asked again on each test fold with one modality set to NaN (:data:`MISSING`)."""
    y, X = data.y, data.X
    splits = task_splits(data, cfg["n_splits"], cfg["n_repeats"], seed=seed)
    ests = models(data.task, cfg, device)
    eb = EPHYS_BLOCK[data.task]
    recon = data.cells["reconstruction_type"].to_numpy()

    def keep(est, s):
        out = {}
        Xt = X.iloc[s.test]
        for name, (fused, block, _) in MISSING.items():
            if isinstance(est, LateFusion if fused == "late_fusion" else OnBlocks) and \
                    (fused == "late_fusion" or est.blocks == (eb, "morph")):
                out[name] = est.predict_proba(_masked(Xt, block))
        if isinstance(est, OnBlocks) and est.blocks == (eb, "morph"):
            out["gates"] = block_gates(est, Xt).to_numpy()
            inner = est.estimator_
            out["gated"] = inner.prep_.transform(est._X(Xt)) * inner.gates(est._X(Xt))
        return out

    cv = cross_validate(ests, X, y, splits, seed=seed, groups=recon, keep=keep, progress=progress,
                        desc=f"multimodal {data.task}")
    for name, (fused, _, _) in MISSING.items():
        cv[name] = _rescored(name, cv[fused], cv[fused].extras[name], recon)
    exp = Experiment(data.task, data, cv)
    for head, options in HEADLINE[data.task].items():
        exp.chosen[head] = max(options, key=lambda m: cv[m].summary()["accuracy"])
        c = cv[exp.chosen[head]]
        cv[head] = CVResult(head, c.classes, c.y, c.splits, c.proba, c.scores)
    ex = cv["joint_lspin"].extras
    first = [j for j, s in enumerate(splits) if s.repeat == 0]
    g = np.full((len(y), 2), np.nan)
    gated = np.full((len(y), ex["gated"][0].shape[1]), np.nan)
    for j in first:
        g[splits[j].test] = ex["gates"][j]
        gated[splits[j].test] = ex["gated"][j]
    exp.gates = pd.DataFrame(g, index=data.X.index, columns=["ephys", "morphology"])
    exp.gated = gated
    return exp


def comparisons(exp: Experiment) -> list[tuple[str, str, str]]:
    """``(a, b, group)`` pairs the page states: the fused rows against the better single modality (all cells and per
    reconstruction type), every specific model against the ``fused`` row, and the missing-modality rows against the
    single-modality model they stand in for."""
    best = exp.better_single
    out = [(f, best, g) for f in ("fused", "joint_lspin") for g in ("all", "full", "dendrite-only")]
    out += [("fused", "ephys", "all"), ("fused", "morphology", "all")]
    out += [(name, single, "all") for name, (_, _, single) in MISSING.items()]
    if "late_fusion_no_apical" in exp.cv:
        out += [("late_fusion_no_apical", "ephys", "all"), ("late_fusion_no_apical", "morphology_rf_no_apical", "all"),
                ("late_fusion", "morphology_rf", "all")]
    if "ephys_svc_actb" in exp.cv:
        out.append(("ephys_svc_actb", "ephys_svc", "all"))
    return list(dict.fromkeys(out))  # each pair once (the better single modality is one of the two)


def task_metrics(exp: Experiment) -> dict:
    """The results entries of a task: every model's CV metrics (all cells and per reconstruction type; ``_sd`` over
    splits) and every comparison of :func:`comparisons` (``diff_vs_<b>`` with ``_lo``, ``_hi``, ``_p``)."""
    out = {}
    for name, cv in exp.cv.items():
        out.update(results.cv_metrics(cv, exp.task, name, metrics=("accuracy", "balanced_accuracy", "macro_f1")))
    for a, b, g in comparisons(exp):
        for m in ("accuracy", "macro_f1"):
            d = exp.diff(a, b, m, g)
            out.update(results.diff_metrics(d, exp.task, group=None if g == "all" else g))
    out[results.key(exp.task, "data", "cells")] = int(exp.data.tested.sum())
    out[results.key(exp.task, "data", "ephys_only_cells")] = int((~exp.data.tested).sum())
    out[results.key(exp.task, "data", "splits")] = len(exp.cv["fused"].splits)
    return out


def per_class_recall(cv: CVResult) -> pd.DataFrame:
    """(n_splits, n_classes) recall of each class on each split's test cells (classes as columns, codes)."""
    rows = []
    for s, p in zip(cv.splits, cv.proba):
        yt, yp = cv.y[s.test], cv.classes[p.argmax(1)]
        rows.append({c: float(np.mean(yp[yt == c] == c)) if np.any(yt == c) else np.nan for c in cv.classes})
    return pd.DataFrame(rows)


def per_class_gain(exp: Experiment, a: str = "fused", b: str | None = None) -> pd.DataFrame:
    """Per class: recall of ``a`` and ``b`` (default: the better single modality), their mean paired difference
    over splits and its 95% interval (corrected resampled t-test, :func:`neuro_lib.evaluation.corrected_t_interval`).
    Index: class names."""
    b = b or exp.better_single
    ra, rb = per_class_recall(exp.cv[a]), per_class_recall(exp.cv[b])
    s0 = exp.cv[a].splits[0]
    ratio = len(s0.test) / len(s0.fit)
    rows = []
    for c in ra.columns:
        d = (ra[c] - rb[c]).to_numpy()
        mean, lo, hi, p = corrected_t_interval(d, ratio)
        rows.append({"class": exp.data.class_names[int(c)], f"{a}_recall": ra[c].mean(), f"{b}_recall": rb[c].mean(),
                     "gain": mean, "gain_lo": lo, "gain_hi": hi,
                     "cells": int(np.sum(exp.data.y[exp.data.tested] == c))})
    return pd.DataFrame(rows).set_index("class")


def per_class_entries(exp: Experiment, table: pd.DataFrame, a: str = "fused") -> dict:
    """Results entries of :func:`per_class_gain`: ``<task>/<a>/group=<class>/diff_vs_<b>/recall`` (+ ``_lo``,
    ``_hi``) and each model's ``group=<class>/recall``."""
    b = exp.better_single
    out = {}
    for cls, r in table.iterrows():
        g = slug(cls)
        out[results.key(exp.task, a, "recall", group=g)] = r[f"{a}_recall"]
        out[results.key(exp.task, b, "recall", group=g)] = r[f"{b}_recall"]
        for k in ("", "_lo", "_hi"):
            out[results.key(exp.task, a, f"recall{k}", group=g, vs=b)] = r[f"gain{k}"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Cached runs (page 02 runs them, page 03 reads them back)
# ---------------------------------------------------------------------------------------------------------------

def _to_arrays(exp: Experiment) -> dict:
    out = {"chosen": np.array([f"{k}={v}" for k, v in exp.chosen.items()]), "gates": exp.gates.to_numpy(),
           "gated": exp.gated}
    for name, cv in exp.cv.items():
        if name in HEADLINE_ROWS:
            continue
        out.update({f"{name}|{k}": (v.astype(str) if np.asarray(v).dtype == object else v)
                    for k, v in cv.to_arrays().items()})
    return out


def _from_arrays(d: dict, data: TaskData) -> Experiment:
    names = sorted({k.split("|", 1)[0] for k in d if "|" in k})
    cv = {n: CVResult.from_arrays({k.split("|", 1)[1]: v for k, v in d.items() if k.startswith(f"{n}|")})
          for n in names}
    exp = Experiment(data.task, data, cv, gates=pd.DataFrame(np.asarray(d["gates"]), index=data.X.index,
                                                            columns=["ephys", "morphology"]),
                     gated=np.asarray(d["gated"]))
    for item in np.asarray(d["chosen"]).tolist():
        head, model = str(item).split("=", 1)
        exp.chosen[head] = model
        c = cv[model]
        cv[head] = CVResult(head, c.classes, c.y, c.splits, c.proba, c.scores)
    return exp


def experiment(task: str, cfg: dict, *, seed: int = 0, device: str = "cpu", progress: bool = True,
               refresh: bool = False) -> Experiment:
    """:func:`run` on :func:`~neuro_lib.multimodal.data.task_data` (``cfg["max_cells"]``), kept in
    :func:`neuro_lib.cache.cached` (npz) keyed by the task, every setting but ``threads``, the seed, the device
    and the cells, and by the source of the modules the models come from (a rerun with the same inputs reads it)."""
    from .. import cache
    from .data import task_data

    data = task_data(task, max_cells=cfg.get("max_cells"), seed=seed,
                     ephys_only=task in (cfg.get("ephys_only_cells") or ()))
    key = {"task": task, "seed": int(seed), "device": str(device),
           "cfg": {k: cfg[k] for k in sorted(cfg) if k != "threads"},
           "cells": [int(i) for i in data.X.index]}
    arrays = cache.cached("multimodal/cv", key, lambda: _to_arrays(run(data, cfg, seed=seed, device=device,
                                                                         progress=progress)),
                          kind="npz", name=task, refresh=refresh, packages=("torch", "sklearn"),
                          code=("neuro_lib.multimodal.experiment", "neuro_lib.multimodal.models",
                                "neuro_lib.multimodal.data", "neuro_lib.multimodal.chapter", "neuro_lib.ephys.models",
                                "neuro_lib.models.lspin", "neuro_lib.morphology.neurites", "neuro_lib.evaluation",
                                "neuro_lib.training", "neuro_lib.estimators"))
    return _from_arrays(arrays, data)


# ---------------------------------------------------------------------------------------------------------------
# What the pages show
# ---------------------------------------------------------------------------------------------------------------

def summary_frame(exp: Experiment, names: dict | None = None) -> pd.DataFrame:
    """One row per model: accuracy and macro F1 (mean and sd over splits) on all test cells, and accuracy on the
    full and the dendrite-only reconstructions."""
    rows = {}
    for name, cv in exp.cv.items():
        s = cv.summary()
        row = {"accuracy": s["accuracy"], "accuracy_sd": s["accuracy_sd"], "macro_f1": s["macro_f1"],
               "macro_f1_sd": s["macro_f1_sd"]}
        for g in ("full", "dendrite-only"):
            row[f"accuracy ({g})"] = cv.summary(g)["accuracy"] if g in cv.groups else np.nan
        rows[(names or {}).get(name, name)] = row
    return pd.DataFrame(rows).T


def plot_scores(exp: Experiment, *, ax=None, names: dict | None = None, models=None):
    """Horizontal bars of mean accuracy (error bars: sd over splits) for ``models`` (default: every specific and
    missing-modality model). Returns the Axes."""
    import matplotlib.pyplot as plt

    models = models or [m for m in exp.cv if m not in HEADLINE_ROWS]
    acc = [exp.cv[m].summary() for m in models]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.35 * len(models)))
    color = ["tab:purple" if m.startswith(("late_fusion", "joint")) else "tab:orange" if m.startswith("morph")
             else "tab:green" for m in models]
    ax.barh(range(len(models)), [a["accuracy"] for a in acc], xerr=[a["accuracy_sd"] for a in acc], color=color,
            capsize=2)
    ax.set_yticks(range(len(models)), [(names or {}).get(m, m) for m in models])
    ax.invert_yaxis()
    lo = min(a["accuracy"] for a in acc)
    ax.set(xlim=(max(0.0, lo - 0.1), 1.0), xlabel="accuracy (mean over splits; bars: sd over splits)",
           title=exp.task)
    return ax


def plot_differences(exp: Experiment, pairs, metric: str = "accuracy", *, ax=None, names: dict | None = None):
    """Forest plot of paired differences ``a - b`` (mean and 95% interval, percentage points) for ``pairs`` of
    ``(a, b, group)``; green above 0, red below, grey spanning 0. Returns the Axes."""
    import matplotlib.pyplot as plt

    names = names or {}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(pairs)))
    for i, (a, b, g) in enumerate(pairs):
        d = exp.diff(a, b, metric, g)
        sig = np.isfinite(d.lo) and (d.lo > 0 or d.hi < 0)
        color = "tab:green" if sig and d.mean > 0 else "tab:red" if sig else "tab:gray"
        err = [[100 * (d.mean - d.lo)], [100 * (d.hi - d.mean)]] if np.isfinite(d.lo) else None
        ax.errorbar(100 * d.mean, i, xerr=err, fmt="o", color=color, capsize=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(pairs)), [f"{names.get(a, a)} - {names.get(b, b)}" + ("" if g == "all" else f" ({g})")
                                      for a, b, g in pairs])
    ax.invert_yaxis()
    ax.set(xlabel=f"difference in {metric.replace('_', ' ')} (percentage points, 95% interval)", title=exp.task)
    return ax


def say(exp: Experiment, a: str, b: str, group: str = "all", metric: str = "accuracy",
        names: dict | None = None) -> str:
    """One sentence for ``a - b`` (:func:`neuro_lib.evaluation.say_difference`)."""
    from ..evaluation import say_difference

    return say_difference(exp.diff(a, b, metric, group), names) + ("" if group == "all" else f" ({group} cells)")


def targets(exps: dict) -> pd.DataFrame:
    """The chapter's targets, one row each, with the values and whether they are reached: per task fused accuracy
    above both single modalities, for ``cre5`` the paired interval against the better one above 0 and accuracy at
    least 0.90."""
    rows = []
    for task, exp in exps.items():
        f, e, m = (exp.cv[k].summary()["accuracy"] for k in ("fused", "ephys", "morphology"))
        rows.append({"task": task, "target": "fused above ephys and morphology",
                     "value": f"fused {f:.3f}, ephys {e:.3f}, morphology {m:.3f}", "reached": f > max(e, m)})
        if task == "cre5":
            d = exp.diff("fused", exp.better_single)
            rows.append({"task": task, "target": f"95% interval of fused - {exp.better_single} above 0",
                         "value": f"{d.mean:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}]", "reached": bool(d.lo > 0)})
            rows.append({"task": task, "target": "fused accuracy at least 0.90", "value": f"{f:.3f}",
                         "reached": f >= 0.90})
    return pd.DataFrame(rows)


def representations(exp: Experiment) -> dict:
    """``{name: (n, d) array}`` for t-SNE: ``ephys`` and ``morphology`` (the task's block, median-imputed; the
    t-SNE z-scores them) and ``fused`` (the joint LSPIN's gated inputs ``z * x`` of each cell, out-of-fold from the
    first repeat: what the network read of each cell)."""
    from sklearn.impute import SimpleImputer

    t = exp.data.tested
    X = exp.data.X[t]
    eb = EPHYS_BLOCK[exp.task]
    out = {}
    for name, block in (("ephys", eb), ("morphology", "morph")):
        cols = [c for c in X.columns if c.startswith(f"{block}:")]
        vals = X[cols].to_numpy(float)
        vals = vals[:, ~np.isnan(vals).all(0)]
        out[name] = SimpleImputer(strategy="median").fit_transform(vals)
    out["fused"] = exp.gated[t]
    return out


def gate_table(exp: Experiment) -> pd.DataFrame:
    """Mean out-of-fold gate per modality (columns) for each class and reconstruction type (rows), from the joint
    LSPIN (first repeat)."""
    t = exp.data.tested
    g = exp.gates[t].copy()
    g["class"] = exp.data.names[t]
    g["reconstruction"] = exp.data.cells["reconstruction_type"].to_numpy()[t]
    return g.groupby(["class", "reconstruction"]).mean().reindex(exp.data.class_names, level=0)


def gate_entries(exp: Experiment) -> dict:
    """``<task>/joint_lspin/group=<class>/gate_<modality>`` (mean open gate) and the all-cell means."""
    out = {}
    t = exp.data.tested
    g = exp.gates[t].assign(cls=exp.data.names[t])
    for mod in ("ephys", "morphology"):
        out[results.key(exp.task, "joint_lspin", f"gate_{mod}")] = float(g[mod].mean())
        for cls, v in g.groupby("cls")[mod].mean().items():
            out[results.key(exp.task, "joint_lspin", f"gate_{mod}", group=slug(cls))] = float(v)
    return out


def separation(embedding: np.ndarray, y) -> dict:
    """How cleanly classes ``y`` (n,) separate in a 2-D ``embedding`` (n, 2): ``tsne_knn_accuracy`` (5-fold
    cross-validated 5-nearest-neighbour vote, fewer neighbours for tiny sets) and ``tsne_silhouette`` (in [-1, 1]);
    scikit-learn."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    y = np.asarray(y)
    k = min(5, max(1, len(y) // 5 - 1))
    pred = cross_val_predict(KNeighborsClassifier(k), embedding, y, cv=max(2, min(5, int(np.bincount(y).min()))))
    return {"tsne_knn_accuracy": float((pred == y).mean()), "tsne_silhouette": float(silhouette_score(embedding, y))}
