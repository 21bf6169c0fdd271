"""Splits, cross-validation, metrics, confusion matrices and t-SNE, shared by every chapter.

Splits are made on cells (one row per cell, or ``groups`` naming the cell of each sample) before any augmentation.
"""
from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, train_test_split

__all__ = [
    "stratified_split",
    "repeated_stratified_kfold",
    "classification_metrics",
    "summarise",
    "confusion_matrix",
    "plot_confusion_matrix",
    "tsne",
    "plot_embedding",
    "cross_validate",
    "summarise_scores",
]


def stratified_split(y: Sequence, sizes: Sequence[float] | Sequence[int], *, seed: int = 0,
                     groups: Sequence | None = None) -> list[np.ndarray]:
    """Split sample indices into parts of the given ``sizes`` (fractions summing to 1, or counts), stratified by ``y``.

    With ``groups`` (e.g. the cell id of every spike or augmented copy), whole groups go to one part, so no copy of
    a test cell is ever trained on; the split is then stratified by each group's first label.
    Returns one index array per part. Raises ``ValueError`` if sizes do not fit the number of samples/groups.
    """
    y = np.asarray(y)
    if groups is not None:
        groups = np.asarray(groups)
        uniq, first = np.unique(groups, return_index=True)
        parts = stratified_split(y[first], sizes, seed=seed)
        return [np.flatnonzero(np.isin(groups, uniq[p])) for p in parts]
    n = len(y)
    sizes = list(sizes)
    if all(float(s) <= 1 for s in sizes):
        if not np.isclose(sum(sizes), 1.0):
            raise ValueError(f"fractional sizes must sum to 1, got {sizes}")
        counts = [int(round(s * n)) for s in sizes[:-1]]
        counts.append(n - sum(counts))
    else:
        counts = [int(s) for s in sizes]
        if sum(counts) != n:
            raise ValueError(f"sizes {counts} sum to {sum(counts)}, but there are {n} samples")
    idx = np.arange(n)
    parts, rest, rest_y = [], idx, y
    for i, c in enumerate(counts[:-1]):
        remaining = sum(counts[i:])
        if c == remaining:
            parts.append(rest)
            rest = np.array([], dtype=int)
            break
        take, rest = train_test_split(rest, train_size=c, stratify=rest_y, random_state=seed + i)
        parts.append(np.sort(take))
        rest_y = y[rest]
    parts.append(np.sort(rest))
    return parts


def repeated_stratified_kfold(y: Sequence, n_splits: int = 5, n_repeats: int = 1, *, seed: int = 0,
                              groups: Sequence | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, test_idx)`` for repeated stratified k-fold CV (grouped when ``groups`` is given)."""
    y = np.asarray(y)
    if groups is None:
        cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
        yield from cv.split(np.zeros(len(y)), y)
        return
    for r in range(n_repeats):
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        yield from cv.split(np.zeros(len(y)), y, groups)


def classification_metrics(y_true, y_pred, *, average: str = "macro", prefix: str = "") -> dict[str, float]:
    """Accuracy and ``average``-averaged F1, precision and recall (scikit-learn, ``zero_division=0``).

    Keys: ``accuracy``, ``macro_f1``, ``macro_precision``, ``macro_recall`` (with ``average="binary"``:
    ``f1``, ``precision``, ``recall``), each prefixed by ``prefix``.
    """
    tag = "" if average == "binary" else f"{average}_"
    out = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        f"{tag}f1": skm.f1_score(y_true, y_pred, average=average, zero_division=0),
        f"{tag}precision": skm.precision_score(y_true, y_pred, average=average, zero_division=0),
        f"{tag}recall": skm.recall_score(y_true, y_pred, average=average, zero_division=0),
    }
    return {prefix + k: float(v) for k, v in out.items()}


def summarise(per_fold: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean and sample sd over folds: ``{"accuracy": m, "accuracy_sd": s, ...}`` for each key of the first fold."""
    out = {}
    for k in per_fold[0]:
        vals = np.array([f[k] for f in per_fold], dtype=float)
        out[k] = float(vals.mean())
        out[f"{k}_sd"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return out


def confusion_matrix(y_true, y_pred, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Counts (rows = true class, columns = predicted) and the row-normalised matrix (rows sum to 1; empty rows 0)."""
    counts = skm.confusion_matrix(y_true, y_pred, labels=list(labels))
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = counts / counts.sum(axis=1, keepdims=True)
    return counts, np.nan_to_num(norm)


def plot_confusion_matrix(y_true, y_pred, labels: Sequence, *, display_labels: Sequence[str] | None = None,
                          ax=None, title: str | None = None, cmap: str = "Blues",
                          label_colors: Mapping[str, str] | None = None):
    """Row-normalised confusion matrix with the counts written in each cell; returns the matplotlib Axes.

    Each cell shows the row fraction and, below it, the count. ``label_colors`` colours tick labels (e.g.
    excitatory red, inhibitory blue).
    """
    import matplotlib.pyplot as plt

    counts, norm = confusion_matrix(y_true, y_pred, labels)
    names = [str(x) for x in (display_labels if display_labels is not None else labels)]
    k = len(names)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.8 + 0.65 * k))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap=cmap)
    for i in range(k):
        for j in range(k):
            if counts[i, j] == 0 and k > 6:
                continue
            ax.text(j, i, f"{norm[i, j]:.2f}\n({counts[i, j]})", ha="center", va="center", fontsize=7 if k > 6 else 9,
                    color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (row-normalised; counts in brackets)")
    if label_colors:
        for tick in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
            c = label_colors.get(tick.get_text())
            if c:
                tick.set_color(c)
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    return ax


def tsne(features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0, standardise: bool = True) -> np.ndarray:
    """2-D t-SNE embedding (scikit-learn, PCA initialisation) of ``features`` (n_samples, n_features).

    Features are z-scored first when ``standardise``; perplexity is capped at (n_samples - 1) / 3.
    """
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(features, dtype=float)
    if standardise:
        X = StandardScaler().fit_transform(X)
    perp = min(perplexity, max(2.0, (len(X) - 1) / 3))
    return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed).fit_transform(X)


def plot_embedding(emb: np.ndarray, labels: Sequence, *, ax=None, title: str = "", markers: Sequence | None = None,
                   palette: Mapping | None = None):
    """Scatter a 2-D embedding coloured by ``labels`` (and shaped by ``markers``, e.g. species)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    labels = np.asarray(labels)
    marks = np.asarray(markers) if markers is not None else np.full(len(labels), "")
    shapes = dict(zip(sorted(set(marks)), "o^sPDv*"))
    cmap = plt.get_cmap("tab10")
    for i, lab in enumerate(sorted(set(labels), key=str)):
        for m in sorted(set(marks)):
            sel = (labels == lab) & (marks == m)
            if sel.any():
                color = palette.get(lab) if palette else cmap(i % 10)
                ax.scatter(emb[sel, 0], emb[sel, 1], s=8, alpha=0.7, color=color, marker=shapes[m],
                           label=f"{lab} {m}".strip())
    ax.set_xlabel("t-SNE 1 (a.u.)")
    ax.set_ylabel("t-SNE 2 (a.u.)")
    ax.legend(markerscale=2, fontsize=7, frameon=False, loc="best")
    if title:
        ax.set_title(title)
    return ax


def cross_validate(X, y, fitters: dict, folds, *, side: dict | None = None, by=None, progress: bool = True
                   ) -> tuple[pd.DataFrame, dict]:
    """Fit every fitter on every fold; return ``(scores, predictions)``.

    ``folds``: list of ``(train_idx, test_idx)``; ``fitters``: name -> ``fitter(X_train, y_train, seed, **side_train)``
    returning a ``predict(X)`` callable, where ``side_train`` holds the training rows of each array in ``side`` (e.g.
    ``{"domain": species_code}``). ``by`` (optional array, e.g. species) splits the test cells into groups scored
    separately. ``scores`` has one row per (model, fold[, group]) with accuracy and macro F1/precision/recall;
    ``predictions[name][group]`` = ``(y_true, y_pred)`` pooled over the folds of the first repeat (for confusion
    matrices; ``group`` is ``"all"`` without ``by``).
    """
    from tqdm.auto import tqdm

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    side = {k: np.asarray(v) for k, v in (side or {}).items()}
    by = np.asarray(by) if by is not None else np.full(len(y), "all")
    rows, preds = [], {}
    seen = np.zeros(len(y), bool)
    first_repeat = True
    with tqdm(total=len(folds) * len(fitters), desc="cross-validation", disable=not progress) as bar:
        for k, (tr, te) in enumerate(folds):
            if seen[te].any():
                first_repeat = False
            seen[te] = True
            for name, fitter in fitters.items():
                bar.set_postfix(fold=k, model=name)
                predict_fn = fitter(X[tr], y[tr], k, **{n: a[tr] for n, a in side.items()})
                yp = np.asarray(predict_fn(X[te]))
                for g in np.unique(by[te]):
                    sel = by[te] == g
                    rows.append({"model": name, "fold": k, "group": g,
                                 **classification_metrics(y[te][sel], yp[sel])})
                    if first_repeat:
                        yt0, yp0 = preds.setdefault(name, {}).get(g, (np.empty(0, y.dtype), np.empty(0, yp.dtype)))
                        preds[name][g] = (np.r_[yt0, y[te][sel]], np.r_[yp0, yp[sel]])
                bar.update()
    return pd.DataFrame(rows), preds


def summarise_scores(scores: pd.DataFrame, metrics=("accuracy", "macro_f1", "macro_precision", "macro_recall")
                     ) -> pd.DataFrame:
    """Mean and sd over folds per (model, group): columns ``<metric>`` and ``<metric>_sd``."""
    g = scores.groupby(["model", "group"], sort=False)[list(metrics)]
    mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
    out = mean.copy()
    for m in metrics:
        out[f"{m}_sd"] = sd[m]
    return out
