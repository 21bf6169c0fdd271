"""Training and evaluating the MEA CNN on a simulated dataset (Buccino et al. 2018, Sections II-D and III), through the
book's one protocol (:func:`neuro_lib.evaluation.cross_validate`, :class:`~neuro_lib.evaluation.Split`,
:class:`~neuro_lib.evaluation.CVResult`).

**Splits.** The paper draws its training and test spikes from the *same* 13 cells (each cell contributes spikes at
other positions and rotations to both sides): :func:`split_spikes` does that, a random split of the spikes
stratified by cell. A split *by cell* would leave the m-type task without its test classes (one cell per m-type), so
no question of this chapter asks for one; generalisation is tested instead on new positions
(:func:`split_by_position`), on noise and on other rotation regimes (``04_generalisation``). Repeats (``n_repeats``)
redraw the random part with ``seed + repeat``; :func:`neuro_lib.evaluation.cross_validate` trains split ``j`` with
``random_state = seed + j``, so repeat 0 is the single split of ``seed``.

**Per-cell scores** are the CV's test groups (``groups`` = each spike's m-type), which give the paper's Tables II and
III (:func:`per_cell_table`).

**Seeds and comparisons.** With ``n_seeds`` repeats every number is a mean over seeds with its sd; a comparison of
two networks on the same splits (the four-channel against the paper's two-channel CNN, :func:`paired_comparisons`)
is the paired difference over the seeds with the corrected resampled t-test's 95% interval
(:func:`neuro_lib.evaluation.paired_difference`; Nadeau & Bengio 2003: each repeat is a random 80/20 split of the
same spikes, the setting that test was made for).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .. import evaluation, results
from .cells import cell_mtype, is_excitatory
from .cnn import CHANNELS, CachedFit, MEACNNClassifier

__all__ = ["TASKS", "MODELS", "labels", "split_spikes", "split_by_position", "cnn_estimators",
           "cross_validate_dataset", "per_cell_table", "cv_metrics", "run_regimes", "accuracy_table",
           "paired_comparisons", "describe_difference", "within_class_errors",
           "training_step_memory", "cross_regime", "heldout_positions", "noise_experiment"]

TASKS = ("binary", "mtype")
MODELS = tuple(CHANNELS)


def labels(ds, task: str) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names: ``binary`` -> 0 inhibitory / 1 excitatory; ``mtype`` -> the cell's index
    among ``ds.cells`` (13 classes, names = m-types). Raises ``ValueError`` for another task."""
    if task == "binary":
        return ds.excitatory, ["inhibitory", "excitatory"]
    if task == "mtype":
        return ds.cell.copy(), [cell_mtype(c) for c in ds.cells]
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def split_spikes(ds, *, test: float = 0.2, val: float = 0.1, seed: int = 0, n_repeats: int = 1
                 ) -> list[evaluation.Split]:
    """Random train/val/test splits of the spikes, stratified by cell (the paper's setting: the same cells on both
    sides). ``ds`` is a dataset or its per-spike cell indices (n,). Repeat ``r`` uses ``seed + r``
    (:func:`neuro_lib.evaluation.stratified_split`). Returns ``n_repeats`` :class:`~neuro_lib.evaluation.Split`
    objects (``repeat = r``)."""
    cell = np.asarray(getattr(ds, "cell", ds))
    out = []
    for r in range(n_repeats):
        tr, va, te = evaluation.stratified_split(cell, [1 - test - val, val, test], seed=seed + r)
        out.append(evaluation.Split(tr, va, te, fold=0, repeat=r))
    return out


def split_by_position(ds, *, axis: int = 2, test_above: float = 35.0, val: float = 0.1, seed: int = 0,
                      n_repeats: int = 1) -> list[evaluation.Split]:
    """Held-out positions: spikes whose soma coordinate ``axis`` (0 x, 1 y, 2 z, um) exceeds ``test_above`` are the
    test set; the rest is split into train/val stratified by cell (seed ``seed + r`` for repeat ``r``). Raises
    ``ValueError`` if either side is empty."""
    test = np.flatnonzero(ds.positions[:, axis] > test_above)
    rest = np.flatnonzero(ds.positions[:, axis] <= test_above)
    if not len(test) or not len(rest):
        raise ValueError(f"split_by_position: {len(rest)} spikes at or below and {len(test)} above "
                         f"{test_above} um on axis {axis}; both sides need spikes")
    out = []
    for r in range(n_repeats):
        tr, va = evaluation.stratified_split(ds.cell[rest], [1 - val, val], seed=seed + r)
        out.append(evaluation.Split(rest[tr], rest[va], test, fold=0, repeat=r))
    return out


def cnn_estimators(models=("cnn",), *, epochs: int, patience: int | None, device: str = "auto",
                   progress: bool = True, tag: str = "mea", max_steps: int | None = None) -> dict[str, CachedFit]:
    """``{name: CachedFit(MEACNNClassifier(channels=CHANNELS[name], ...))}`` for the named models (``"cnn"``: the
    paper's amplitude + width network; ``"cnn_4ch"``: with the negative-peak and trough-delay images). ``tag`` names
    the cache files; ``max_steps`` caps each network's optimisation steps (a check that a configuration runs, the
    ``gpu_profile`` tests; part of the cache key). Raises ``ValueError`` for an unknown model."""
    bad = [m for m in models if m not in CHANNELS]
    if bad:
        raise ValueError(f"unknown MEA model(s) {bad}; expected some of {list(CHANNELS)}")
    return {m: CachedFit(MEACNNClassifier(channels=CHANNELS[m], epochs=epochs, patience=patience, device=device,
                                          progress=progress, max_steps=max_steps), name=f"{tag}-{m}")
            for m in models}


def _keep_model(est, split) -> dict:  # the fitted network inside CachedFit
    return {"model": est.estimator_}


def _cross_validate(estimators, X, y, splits, *, seed, groups=None, progress=True, desc="MEA CNN"):
    # a per-cell test group holds one class, which scikit-learn's metrics warn about for every group and split
    # (its AUC is NaN, its accuracy is what Tables II-III report)
    with warnings.catch_warnings():
        for msg in ("y_pred contains classes not in y_true", "A single label was found", "Only one class is present"):
            warnings.filterwarnings("ignore", message=msg)
        return evaluation.cross_validate(estimators, X, y, splits, seed=seed, groups=groups, keep=_keep_model,
                                         progress=progress, desc=desc)


def cross_validate_dataset(ds, task: str, splits, models=("cnn",), *, seed: int = 0, epochs: int = 30,
                           patience: int | None = 8, device: str = "auto", progress: bool = True,
                           max_steps: int | None = None) -> dict[str, evaluation.CVResult]:
    """Cross-validate the named CNNs (:func:`cnn_estimators`) on dataset ``ds`` for ``task`` over ``splits``.

    ``X`` is the four feature images (n, 4, 10, 10); test spikes are also scored per m-type (the cell: groups of the
    result); each split's fitted network is kept in ``extras["model"]``. Returns ``{model: CVResult}``.
    """
    y, _ = labels(ds, task)
    ests = cnn_estimators(models, epochs=epochs, patience=patience, device=device, progress=progress,
                          tag=f"{task}-{ds.regime}", max_steps=max_steps)
    return _cross_validate(ests, ds.images(range(ds.features.shape[1])), y, splits, seed=seed, groups=ds.mtype,
                           progress=progress, desc=f"{task} {ds.regime}")


def per_cell_table(cv: evaluation.CVResult, ds) -> tuple[pd.DataFrame, pd.Series]:
    """Accuracy of each cell's test spikes (the paper's Tables II-III; the mean over splits when there are several)
    and its summary over cells (mean, median, max, min, sd over cells). ``ds`` is the dataset ``cv`` was run on
    (its cells are the CV's test groups, by m-type). Returns ``(per-cell DataFrame, summary Series)``."""
    mtype = ds.mtype
    groups = set(cv.groups)
    rows = [{"cell": name, "m-type": cell_mtype(name),
             "test spikes": int(np.sum(mtype[cv.splits[0].test] == cell_mtype(name))),
             "accuracy": cv.summary(cell_mtype(name))["accuracy"]}
            for name in ds.cells if cell_mtype(name) in groups]
    df = pd.DataFrame(rows)
    acc = df["accuracy"]
    summary = pd.Series({"mean": acc.mean(), "median": acc.median(), "max": acc.max(), "min": acc.min(),
                         "sd": acc.std(ddof=1) if len(acc) > 1 else 0.0})
    return df, summary


def cv_metrics(cv: evaluation.CVResult, task: str, model: str, split: str, ds=None) -> dict[str, float]:
    """Results entries of one CV: ``<task>/<model>/split=<split>/accuracy`` (and ``accuracy_sd`` over splits when
    there are several); with ``ds``, also each cell's accuracy (``group=<m-type>``) and the summary over cells
    (``cell_accuracy_mean``, ``_median``, ``_max``, ``_min``, ``_sd``)."""
    summ = cv.summary()
    out = {results.key(task, model, "accuracy", split=split): summ["accuracy"]}
    if len(cv.splits) > 1:
        out[results.key(task, model, "accuracy_sd", split=split)] = summ["accuracy_sd"]
    if ds is not None:
        df, stats = per_cell_table(cv, ds)
        for _, row in df.iterrows():
            out[results.key(task, model, "accuracy", split=split, group=row["m-type"])] = row["accuracy"]
        for stat, v in stats.items():
            out[results.key(task, model, f"cell_accuracy_{stat}", split=split)] = float(v)
    return out


def run_regimes(datasets: dict, cfg: dict, *, seed: int = 0, device: str = "auto", progress: bool = True
                ) -> dict[tuple[str, str], dict[str, evaluation.CVResult]]:
    """``03_classify``'s experiment: for each task and regime, the paper's CNN (and, in ``cfg["extended"]``
    regimes, the four-channel one) on :func:`split_spikes` with ``cfg["n_seeds"]`` seeds. Returns
    ``{(task, regime): {model: CVResult}}``."""
    out = {}
    for task in TASKS:
        for r, ds in datasets.items():
            models = MODELS if r in cfg["extended"] else ("cnn",)
            splits = split_spikes(ds, seed=seed, n_repeats=int(cfg["n_seeds"]))
            out[(task, r)] = cross_validate_dataset(ds, task, splits, models, seed=seed, **_fit_kw(cfg, device),
                                                    progress=progress)
    return out


def _fit_kw(cfg: dict, device: str) -> dict:
    return dict(epochs=cfg["epochs"], patience=cfg["patience"], device=device, max_steps=cfg.get("max_steps"))


def paired_comparisons(cvs: dict, a: str = "cnn_4ch", b: str = "cnn") -> dict[tuple, evaluation.PairedDifference]:
    """``a - b`` in accuracy over the same seeds' splits, for every (task, regime) of :func:`run_regimes` where both
    were trained: ``{(task, regime): PairedDifference}`` (no interval with a single seed)."""
    return {k: evaluation.paired_difference(by[a], by[b], "accuracy") for k, by in cvs.items() if a in by and b in by}


def describe_difference(d: evaluation.PairedDifference) -> str:
    """``d`` in words: its mean and interval, then whether the interval shows ``a`` better, worse or neither."""
    if not np.isfinite(d.lo):
        verdict = "one seed: no interval, no claim"
    elif d.hi - d.lo < 1e-12:
        verdict = (f"every seed gave the same difference, so the interval has no width; {d.n_splits} seeds say "
                   "nothing about its spread")
    elif d.significant:
        verdict = f"{d.a} {'better' if d.mean > 0 else 'worse'}: the interval excludes 0"
    else:
        verdict = "no difference shown: the interval includes 0"
    return f"{d} ({verdict})."


def accuracy_table(cvs: dict, paper: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per (task, regime, model): test spikes (per split), accuracy (mean over splits), its sd, and the
    paper's accuracy where ``paper`` (``{results key: value}``, :func:`neuro_lib.results.paper_numbers`) has it."""
    rows = []
    for (task, r), by_model in cvs.items():
        for m, cv in by_model.items():
            s = cv.summary()
            k = results.key(task, m, "accuracy", split=r)
            rows.append({"task": task, "regime": r, "model": m, "test spikes": len(cv.splits[0].test),
                         "splits": len(cv.splits), "accuracy": s["accuracy"], "accuracy sd": s["accuracy_sd"],
                         "paper": (paper or {}).get(k, np.nan)})
    return pd.DataFrame(rows)


def within_class_errors(cv: evaluation.CVResult, cells) -> tuple[float, int]:
    """Of the m-type errors in ``cv``'s first repeat, the share that stay within the class (a pyramidal type taken
    for another pyramidal type, an interneuron for another interneuron), and the number of errors. NaN share
    without errors."""
    exc = np.array([is_excitatory(c) for c in cells])
    y, p = cv.pooled(0)
    wrong = y != p
    share = float((exc[y[wrong]] == exc[p[wrong]]).mean()) if wrong.any() else float("nan")
    return share, int(wrong.sum())


def cross_regime(cvs: dict, datasets: dict, task: str) -> pd.DataFrame:
    """Accuracy of the network trained on regime ``a`` (its :func:`run_regimes` fit of each seed) on regime ``b``'s
    test spikes of the same seed's split; the mean over seeds, and their sd in ``.attrs["sd"]`` (a DataFrame of the
    same shape). Rows: trained on; columns: tested on."""
    regs = list(datasets)
    M = pd.DataFrame(index=pd.Index(regs, name="trained on"), columns=pd.Index(regs, name="tested on"), dtype=float)
    sd = M.copy()
    for ra in regs:
        cv = cvs[(task, ra)]["cnn"]
        for rb in regs:
            dsb = datasets[rb]
            y, X = labels(dsb, task)[0], dsb.images(range(dsb.features.shape[1]))
            tests = [s.test for s in cvs[(task, rb)]["cnn"].splits]
            acc = [(model.predict(X[te]) == y[te]).mean() for model, te in zip(cv.extras["model"], tests)]
            M.loc[ra, rb], sd.loc[ra, rb] = float(np.mean(acc)), float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0
    M.attrs["sd"] = sd
    return M


def heldout_positions(datasets: dict, cfg: dict, regimes=("norot", "3drot"), *, seed: int = 0,
                      device: str = "auto", progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """``04_generalisation`` part 1: train on somata with z <= 35 um, test on z > 35 um (:func:`split_by_position`),
    beside the random split of ``03_classify`` (the same cached networks). Returns ``(table, {(task, regime):
    CVResult of the held-out split})``."""
    rows, cvs = [], {}
    n = int(cfg["n_seeds_generalisation"])
    kw = dict(seed=seed, progress=progress, **_fit_kw(cfg, device))
    for task in TASKS:
        for r in regimes:
            ds = datasets[r]
            held = cross_validate_dataset(ds, task, split_by_position(ds, seed=seed, n_repeats=n), **kw)["cnn"]
            rand = cross_validate_dataset(ds, task, split_spikes(ds, seed=seed, n_repeats=n), **kw)["cnn"]
            cvs[(task, r)] = held
            rows.append({"task": task, "regime": r, "train spikes": len(held.splits[0].train),
                         "test spikes": len(held.splits[0].test), "held-out positions": held.summary()["accuracy"],
                         "random split (03)": rand.summary()["accuracy"]})
    return pd.DataFrame(rows).set_index(["task", "regime"]), cvs


def noise_experiment(ds, levels, cfg: dict, *, seed: int = 0, device: str = "auto", progress: bool = True
                     ) -> tuple[pd.DataFrame, dict]:
    """``04_generalisation`` part 2: the EAPs of ``cfg["noise_per_cell"]`` spikes per cell of ``ds`` recomputed
    exactly (:func:`neuro_lib.mea.dataset.noisy_features`) with white Gaussian noise of each rms level in
    ``levels`` (uV; 0 is added: the clean features of the same spikes), the paper's CNN trained and tested at each
    level on a random split of those spikes. Returns ``(table with task, noise (uV rms), accuracy; {(task, level):
    CVResult})``."""
    from .dataset import noisy_features

    idx, noisy = noisy_features(ds, levels, n_per_cell=cfg["noise_per_cell"], seed=seed, progress=progress)
    side = int(round(np.sqrt(ds.features.shape[-1])))
    feats = {0.0: ds.features[idx]} | {float(k): v for k, v in noisy.items()}
    splits = split_spikes(ds.cell[idx], seed=seed, n_repeats=int(cfg["n_seeds_generalisation"]))
    rows, cvs = [], {}
    for task in TASKS:
        y = labels(ds, task)[0][idx]
        for lvl, F in feats.items():
            ests = cnn_estimators(("cnn",), progress=progress, tag=f"{task}-{ds.regime}-noise{lvl:g}",
                                  **_fit_kw(cfg, device))
            X = F.reshape(len(idx), F.shape[1], side, side)
            cv = _cross_validate(ests, X, y, splits, seed=seed, progress=progress, desc=f"{task} noise {lvl:g}")
            cvs[(task, lvl)] = cv["cnn"]
            rows.append({"task": task, "noise (uV rms)": lvl, "accuracy": cv["cnn"].summary()["accuracy"]})
    return pd.DataFrame(rows), cvs


def training_step_memory(channels: int = 2, n_classes: int = 13, batch_size: int = 128, *, repeats: int = 3) -> dict:
    """Parameters and memory of one training step (forward, cross-entropy, backward, Adam update) of the MEA CNN
    (:class:`neuro_lib.models.mea_cnn.MEACNN`) on a batch of ``batch_size`` images, measured on the CPU.

    Returns ``{"parameters", "persistent_bytes", "peak_bytes"}``: ``persistent_bytes`` counts the storages of the
    weights, buffers, gradients, Adam's two moment estimates and the batch after a first step (exact);
    ``peak_bytes`` is the largest total of live tensors over one further step in ``torch.profiler``'s memory
    timeline (``export_memory_timeline``, all categories), the largest over ``repeats`` steps (the profiler
    attributes tensors made before it started unevenly, so single readings differ by ~2 MB). On a GPU the CUDA
    context and cuDNN workspaces come on top.
    """
    import torch

    from ..models.mea_cnn import MEACNN
    from ..training import step_memory

    torch.manual_seed(0)
    model = MEACNN(n_classes, in_channels=channels)
    x, y = torch.randn(batch_size, channels, 10, 10), torch.randint(0, n_classes, (batch_size,))
    return step_memory(model, x, y, repeats=repeats)
