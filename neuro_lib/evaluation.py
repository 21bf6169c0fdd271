"""Splits, cross-validation, metrics, confusion matrices and t-SNE, shared by every chapter.

Splits are made on cells (one row per cell, or ``groups`` naming the cell of each sample) before any augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, train_test_split

__all__ = [
    "paired_bootstrap",
    "say_difference",
    "stratified_split",
    "repeated_stratified_kfold",
    "confusion_matrix",
    "plot_confusion_matrix",
    "tsne",
    "plot_embedding",
    "cross_validate",
    "Split",
    "as_splits",
    "kfold_splits",
    "holdout_split",
    "metrics",
    "CVResult",
    "seed_estimator",
    "PairedDifference",
    "corrected_t_interval",
    "paired_difference",
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


# ---------------------------------------------------------------------------------------------------------------
# The one protocol: Split, CVResult, cross_validate, paired_difference
# ---------------------------------------------------------------------------------------------------------------

def _index_array(a, what: str) -> np.ndarray:
    arr = np.asarray(a if a is not None else [], dtype=np.int64).reshape(-1)
    if (arr < 0).any():
        raise ValueError(f"{what} indices must be non-negative positions, got {arr[arr < 0][:3].tolist()}")
    return arr


@dataclass(frozen=True)
class Split:
    """One train / validation / test partition of samples, as positional indices into the data.

    ``train`` fits the model; ``val`` (may be empty) is for early stopping or a model's own choices (never scored);
    ``test`` is scored. ``fold`` and ``repeat`` place it in a (repeated) k-fold scheme. The three parts must be
    disjoint: ``ValueError`` names the part and the first shared index otherwise. Made by cell (or by lab) before any
    augmentation; with ``groups`` every sample of a group lands in one part.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    fold: int = 0
    repeat: int = 0

    def __post_init__(self):
        for name in ("train", "val", "test"):
            object.__setattr__(self, name, _index_array(getattr(self, name), name))
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            both = np.intersect1d(getattr(self, a), getattr(self, b))
            if len(both):
                raise ValueError(f"split {self.fold} (repeat {self.repeat}): {len(both)} sample(s) in both {a} and "
                                 f"{b}, e.g. index {int(both[0])}")

    @property
    def fit(self) -> np.ndarray:
        """``train`` then ``val``: the samples an estimator without its own early stopping is fitted on."""
        return np.concatenate([self.train, self.val])

    def __eq__(self, other) -> bool:
        return (isinstance(other, Split) and self.fold == other.fold and self.repeat == other.repeat
                and all(np.array_equal(getattr(self, n), getattr(other, n)) for n in ("train", "val", "test")))

    def __hash__(self):  # frozen dataclass with arrays: hash by content
        return hash((self.fold, self.repeat, *(getattr(self, n).tobytes() for n in ("train", "val", "test"))))


def as_splits(folds) -> list[Split]:
    """Convert ``(train, test)`` / ``(train, val, test)`` tuples, objects with ``train``/``val``/``test`` attributes
    or :class:`Split` objects to a list of :class:`Split` (``fold`` = position; ``repeat`` counts restarts of the
    test coverage, i.e. a new repeat begins when a test index comes round again)."""
    out, seen, repeat, fold = [], set(), 0, 0
    for f in folds:
        if isinstance(f, Split):
            out.append(f)
            continue
        if hasattr(f, "train"):
            tr, va, te = f.train, getattr(f, "val", []), f.test
        elif len(f) == 2:
            (tr, te), va = f, []
        elif len(f) == 3:
            tr, va, te = f
        else:
            raise ValueError(f"a fold must be (train, test), (train, val, test) or have .train/.test, got {f!r:.80}")
        te = np.asarray(te)
        if seen & set(te.tolist()):
            repeat, fold, seen = repeat + 1, 0, set()
        seen |= set(te.tolist())
        out.append(Split(tr, va, te, fold=fold, repeat=repeat))
        fold += 1
    return out


def kfold_splits(y: Sequence, n_splits: int = 5, n_repeats: int = 1, *, seed: int = 0,
                 groups: Sequence | None = None, val_fraction: float = 0.0) -> list[Split]:
    """Repeated stratified k-fold on samples (``groups``: grouped, e.g. by cell or by lab), as :class:`Split` objects.

    The test folds are :func:`repeated_stratified_kfold`'s (scikit-learn ``RepeatedStratifiedKFold(random_state=
    seed)``, or ``StratifiedGroupKFold(shuffle=True, random_state=seed + repeat)`` with groups). With ``val_fraction``
    > 0 a stratified share of each training part is held out as ``val`` (seed ``seed + 100 + k`` for split ``k``).
    Raises ``ValueError`` (scikit-learn's) when a class has fewer members than ``n_splits``.
    """
    y = np.asarray(y)
    out = []
    for k, (tr, te) in enumerate(repeated_stratified_kfold(y, n_splits, n_repeats, seed=seed, groups=groups)):
        va = np.array([], int)
        if val_fraction > 0:
            g = None if groups is None else np.asarray(groups)[tr]
            a, b = stratified_split(y[tr], [1 - val_fraction, val_fraction], seed=seed + 100 + k, groups=g)
            tr, va = np.sort(tr[a]), np.sort(tr[b])
        out.append(Split(tr, va, te, fold=k % n_splits, repeat=k // n_splits))
    return out


def holdout_split(y: Sequence, *, test: float = 0.2, val: float = 0.0, seed: int = 0,
                  groups: Sequence | None = None) -> Split:
    """One stratified train / val / test :class:`Split` with the given fractions (:func:`stratified_split`)."""
    if val > 0:
        tr, va, te = stratified_split(y, [1 - test - val, val, test], seed=seed, groups=groups)
    else:
        tr, te = stratified_split(y, [1 - test, test], seed=seed, groups=groups)
        va = []
    return Split(tr, va, te)


def metrics(y_true, y_pred=None, *, proba=None, classes=None) -> dict[str, float]:
    """The book's one metrics function: ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``macro_precision``,
    ``macro_recall`` (scikit-learn, ``zero_division=0``) and, when ``proba`` (n, k) is given, ``auc``: the ROC AUC
    of the second class for two classes, macro one-vs-rest for more (NaN when a class is absent from ``y_true``).

    ``classes`` (k,) are the labels of ``proba``'s columns (default: ``np.unique(y_true)`` must then have k values
    or the labels are 0..k-1). ``y_pred`` defaults to ``classes[proba.argmax(1)]``. Raises ``ValueError`` if neither
    ``y_pred`` nor ``proba`` is given or their lengths differ from ``y_true``'s.
    """
    y_true = np.asarray(y_true)
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if classes is None:
            u = np.unique(y_true)
            classes = u if len(u) == proba.shape[1] else np.arange(proba.shape[1])
        classes = np.asarray(classes)
        if y_pred is None:
            y_pred = classes[proba.argmax(1)]
    if y_pred is None:
        raise ValueError("metrics() needs y_pred or proba")
    y_pred = np.asarray(y_pred)
    if len(y_pred) != len(y_true):
        raise ValueError(f"y_true has {len(y_true)} samples but the predictions {len(y_pred)}")
    out = {"accuracy": float(skm.accuracy_score(y_true, y_pred)),
           "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)) if len(y_true) else float("nan")}
    for name, score in (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)):
        out[f"macro_{name}"] = float(score(y_true, y_pred, average="macro", zero_division=0))
    if proba is not None:
        out["auc"] = _auc(y_true, proba, classes)
    return out


def _auc(y_true, proba, classes) -> float:
    try:
        if proba.shape[1] == 2:
            return float(skm.roc_auc_score(y_true == classes[1], proba[:, 1]))
        return float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes))
    except ValueError:  # a class missing from this test fold
        return float("nan")


@dataclass
class CVResult:
    """What :func:`cross_validate` returns for one model.

    ``classes`` (k,) labels in the column order of the probabilities; ``y`` (n,) all true labels; ``splits`` the
    :class:`Split` list; ``proba[j]`` (len(splits[j].test), k) the class probabilities of split ``j``'s test samples;
    ``scores`` one row per (split, group) with columns ``split``, ``fold``, ``repeat``, ``group`` (``"all"``, and one
    per value of the ``groups`` argument) and the :func:`metrics` keys; ``extras`` per-split lists of whatever the
    driver's ``keep`` returned (training curves, learnt features, gates...).
    """

    model: str
    classes: np.ndarray
    y: np.ndarray
    splits: list
    proba: list
    scores: pd.DataFrame
    extras: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def oof_proba(self, repeat: int = 0) -> np.ndarray:
        """(n, k) out-of-fold probabilities of one repeat; NaN rows for samples no split of that repeat tested."""
        out = np.full((len(self.y), self.n_classes), np.nan)
        for s, p in zip(self.splits, self.proba):
            if s.repeat == repeat:
                out[s.test] = p
        return out

    def pooled(self, repeat: int = 0, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(y_true, y_pred)`` of every sample tested in ``repeat`` (optionally only where ``mask``), for confusion
        matrices."""
        p = self.oof_proba(repeat)
        tested = ~np.isnan(p).any(1)
        if mask is not None:
            tested &= np.asarray(mask, bool)
        return self.y[tested], self.classes[p[tested].argmax(1)]

    def fold_values(self, metric: str = "accuracy", group: str = "all") -> np.ndarray:
        """(n_splits,) ``metric`` of each split on ``group``'s test samples, in split order."""
        s = self.scores[self.scores["group"] == group].sort_values("split")
        if metric not in s.columns:
            raise KeyError(f"{self.model}: no metric {metric!r}; have {[c for c in s.columns if c not in _META]}")
        return s[metric].to_numpy(dtype=float)

    def summary(self, group: str = "all", metrics_: Sequence[str] | None = None) -> dict[str, float]:
        """``{metric: mean over splits, metric_sd: sample sd}`` on ``group`` (``*_sd`` is 0 for a single split)."""
        s = self.scores[self.scores["group"] == group]
        cols = metrics_ or [c for c in s.columns if c not in _META]
        out = {}
        for c in cols:
            v = s[c].to_numpy(dtype=float)
            out[c] = float(np.nanmean(v)) if len(v) and not np.isnan(v).all() else float("nan")
            out[f"{c}_sd"] = float(np.nanstd(v, ddof=1)) if np.sum(~np.isnan(v)) > 1 else 0.0
        return out

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.scores["group"]))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The result as a flat mapping of arrays (for :func:`neuro_lib.cache.cached` with ``kind="npz"``); extras
        that are lists of arrays are kept, other extras dropped. Inverse: :meth:`from_arrays`."""
        out = {"model": np.array(self.model), "classes": np.asarray(self.classes), "y": np.asarray(self.y),
               "n_splits": np.array(len(self.splits))}
        for j, (s, p) in enumerate(zip(self.splits, self.proba)):
            for n in ("train", "val", "test"):
                out[f"split{j}/{n}"] = getattr(s, n)
            out[f"split{j}/meta"] = np.array([s.fold, s.repeat])
            out[f"split{j}/proba"] = np.asarray(p, float)
        for c in self.scores.columns:
            out[f"scores/{c}"] = self.scores[c].to_numpy()
        for name, vals in self.extras.items():
            if isinstance(vals, list) and all(isinstance(v, np.ndarray) and v.dtype != object for v in vals):
                for j, v in enumerate(vals):
                    out[f"extra/{name}/{j}"] = v
        return out

    @classmethod
    def from_arrays(cls, d: Mapping[str, np.ndarray]) -> CVResult:
        n = int(d["n_splits"])
        splits = [Split(d[f"split{j}/train"], d[f"split{j}/val"], d[f"split{j}/test"],
                        fold=int(d[f"split{j}/meta"][0]), repeat=int(d[f"split{j}/meta"][1])) for j in range(n)]
        proba = [np.asarray(d[f"split{j}/proba"]) for j in range(n)]
        scores = pd.DataFrame({k.split("/", 1)[1]: np.asarray(v) for k, v in d.items() if k.startswith("scores/")})
        if "group" in scores:
            scores["group"] = scores["group"].astype(str)
        extras: dict = {}
        extra_keys = (k for k in d if k.startswith("extra/"))
        for k in sorted(extra_keys, key=lambda k: (k.split("/")[1], int(k.split("/")[2]))):
            _, name, _ = k.split("/")
            extras.setdefault(name, []).append(np.asarray(d[k]))
        return cls(str(d["model"]), np.asarray(d["classes"]), np.asarray(d["y"]), splits, proba, scores, extras)


_META = ("split", "fold", "repeat", "group")


def _take(X, idx):
    """Rows ``idx`` of ``X``: NumPy arrays and tensors by fancy indexing, pandas by ``iloc``, lists and tuples by
    position, anything else by ``X[idx]`` (e.g. an index bank)."""
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)):
        return [X[int(i)] for i in idx]
    return X[idx]


def _fit_accepts(est, name: str) -> bool:
    """Whether ``est.fit`` names a parameter ``name`` (``**kwargs`` does not count: a scikit-learn ``Pipeline``
    would refuse an unrouted parameter)."""
    import inspect

    try:
        params = inspect.signature(est.fit).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def seed_estimator(estimator, seed: int):
    """A clone of ``estimator`` with every ``random_state`` parameter (top-level or nested, e.g. a pipeline's
    ``svc__random_state``) set to ``seed``. Returns the clone (the argument is not changed)."""
    from sklearn.base import clone

    est = clone(estimator)
    params = est.get_params(deep=True)
    seeds = {k: int(seed) for k in params if k == "random_state" or k.endswith("__random_state")}
    if seeds:
        est.set_params(**seeds)
    return est


def cross_validate(estimators, X, y, splits: Sequence[Split], *, seed: int = 0, fit_params: Mapping | None = None,
                   groups: Sequence | None = None, keep: Callable | None = None, progress: bool = True,
                   desc: str = "cross-validation") -> dict[str, CVResult]:
    """The book's one cross-validation driver: fit every estimator on every split, score its test samples.

    Parameters
    ----------
    estimators : ``{name: estimator}`` (or one estimator, named ``"model"``): scikit-learn estimators with ``fit``
        and ``predict_proba`` and ``classes_`` after fitting. For split ``j`` the estimator is cloned and every
        ``random_state`` in it is set to ``seed + j`` (:func:`seed_estimator`), so ``seed`` changes every model and a
        rerun with the same seed gives the same numbers.
    X : (n, ...) samples: an array, a DataFrame, a list (e.g. of trees) or any object indexable by an index array.
    y : (n,) labels (any type); ``CVResult.classes`` is ``np.unique(y)``.
    splits : :class:`Split` list (see :func:`kfold_splits`, :func:`as_splits`). When a split has validation samples,
        an estimator whose ``fit`` takes ``X_val``/``y_val`` gets them (early stopping); any other estimator is
        fitted on train and val together (``Split.fit``).
    fit_params : ``{name: (n,) array}`` of per-sample side information (e.g. ``{"domain": species}``), sliced to the
        fitted samples and passed to the ``fit`` of every estimator whose ``fit`` has a parameter of that name
        (``<name>_val`` too, if ``fit`` takes it); estimators without it are fitted without.
    groups : (n,) labels of test subgroups (e.g. species) scored separately besides ``"all"``.
    keep : ``keep(fitted_estimator, split) -> dict`` of extras to store per split (e.g. training curves).
    progress : a tqdm bar over splits x models.

    Returns ``{name: CVResult}``. Raises ``ValueError`` if ``X`` and ``y`` differ in length or a split indexes
    beyond them.
    """
    from tqdm.auto import tqdm

    if not isinstance(estimators, Mapping):
        estimators = {"model": estimators}
    y = np.asarray(y)
    n = len(y)
    if hasattr(X, "__len__") and len(X) != n:
        raise ValueError(f"X has {len(X)} samples but y has {n}")
    splits = as_splits(splits)
    for s in splits:
        top = max((int(a.max()) for a in (s.train, s.val, s.test) if len(a)), default=-1)
        if top >= n:
            raise ValueError(f"split {s.fold} (repeat {s.repeat}) indexes sample {top}, but there are {n}")
    classes = np.unique(y)
    fit_params = {k: np.asarray(v) for k, v in (fit_params or {}).items()}
    grp = None if groups is None else np.asarray(groups).astype(str)
    rows: dict[str, list] = {m: [] for m in estimators}
    probas: dict[str, list] = {m: [] for m in estimators}
    extras: dict[str, dict] = {m: {} for m in estimators}
    with tqdm(total=len(splits) * len(estimators), desc=desc, disable=not progress) as bar:
        for j, s in enumerate(splits):
            for name, base in estimators.items():
                bar.set_postfix(split=j, model=name)
                est = seed_estimator(base, seed + j)
                use_val = len(s.val) > 0 and _fit_accepts(est, "X_val")
                idx = s.train if use_val else s.fit
                kw = {k: v[idx] for k, v in fit_params.items() if _fit_accepts(est, k)}
                if use_val:
                    kw.update(X_val=_take(X, s.val), y_val=y[s.val])
                    kw.update({f"{k}_val": v[s.val] for k, v in fit_params.items() if _fit_accepts(est, f"{k}_val")})
                est.fit(_take(X, idx), y[idx], **kw)
                p_est = np.asarray(est.predict_proba(_take(X, s.test)), dtype=float)
                p = np.zeros((len(s.test), len(classes)))
                p[:, np.searchsorted(classes, np.asarray(est.classes_))] = p_est
                probas[name].append(p)
                yt = y[s.test]
                parts = [("all", np.ones(len(s.test), bool))]
                if grp is not None:
                    parts += [(str(g), grp[s.test] == g) for g in dict.fromkeys(grp[s.test])]
                for g, sel in parts:
                    rows[name].append({"split": j, "fold": s.fold, "repeat": s.repeat, "group": g,
                                       **metrics(yt[sel], proba=p[sel], classes=classes)})
                if keep is not None:
                    for k, v in (keep(est, s) or {}).items():
                        extras[name].setdefault(k, []).append(v)
                bar.update()
    return {m: CVResult(m, classes, y, splits, probas[m], pd.DataFrame(rows[m]), extras[m]) for m in estimators}


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` of a metric over the same splits: ``mean``, the ``confidence`` interval ``[lo, hi]`` and the
    two-sided ``p`` of the corrected resampled t-test (Nadeau & Bengio 2003), over ``n_splits`` splits. With one
    split there is no interval (``lo``, ``hi``, ``p`` NaN)."""

    a: str
    b: str
    metric: str
    mean: float
    lo: float
    hi: float
    p: float
    n_splits: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return bool(np.isfinite(self.lo) and (self.lo > 0 or self.hi < 0))

    def __str__(self) -> str:
        if not np.isfinite(self.lo):
            return f"{self.a} - {self.b} = {self.mean:+.3f} {self.metric} (one split: no interval)"
        return (f"{self.a} - {self.b} = {self.mean:+.3f} {self.metric} ({100 * self.confidence:.0f}% interval "
                f"{self.lo:+.3f} to {self.hi:+.3f}, corrected resampled t-test over {self.n_splits} splits)")


def corrected_t_interval(diffs: Sequence[float], test_train_ratio: float, *, confidence: float = 0.95
                         ) -> tuple[float, float, float, float]:
    """Mean, interval and p-value of per-split differences ``diffs`` (J,) by the corrected resampled t-test
    (Nadeau & Bengio 2003, Machine Learning 52:239, eq. for the "corrected resampled t"; Bouckaert & Frank 2004):
    variance ``(1/J + n_test/n_train) s^2`` instead of ``s^2 / J`` because the training sets overlap; Student t with
    J - 1 degrees of freedom. Returns ``(mean, lo, hi, p)``; NaN interval and p for J < 2. A zero variance gives a
    zero-width interval and p = 0 (or 1 for a zero mean)."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    J = len(d)
    if J == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    m = float(d.mean())
    if J < 2:
        return m, float("nan"), float("nan"), float("nan")
    var = (1.0 / J + test_train_ratio) * d.var(ddof=1)
    if var == 0:
        return m, m, m, (1.0 if m == 0 else 0.0)
    se = float(np.sqrt(var))
    t = stats.t.ppf(0.5 + confidence / 2, J - 1)
    p = float(2 * stats.t.sf(abs(m) / se, J - 1))
    return m, m - t * se, m + t * se, p


def paired_difference(a: CVResult, b: CVResult, metric: str = "accuracy", *, group: str = "all",
                      confidence: float = 0.95) -> PairedDifference:
    """``a - b`` in ``metric`` over the splits both were scored on, with the corrected resampled t-test interval
    (:func:`corrected_t_interval`; ``n_test/n_train`` is the mean over splits of test size / fitted size).

    Raises ``ValueError`` if ``a`` and ``b`` were not cross-validated on the same splits (a paired comparison needs
    the same test cells in every split).
    """
    if len(a.splits) != len(b.splits) or any(sa != sb for sa, sb in zip(a.splits, b.splits)):
        raise ValueError(f"{a.model} and {b.model} were not evaluated on the same splits: no paired comparison")
    diffs = a.fold_values(metric, group) - b.fold_values(metric, group)
    ratio = float(np.mean([len(s.test) / max(len(s.fit), 1) for s in a.splits]))
    m, lo, hi, p = corrected_t_interval(diffs, ratio, confidence=confidence)
    return PairedDifference(a.model, b.model, metric, m, lo, hi, p, int(np.sum(~np.isnan(diffs))), confidence)


def paired_bootstrap(a, b, mask: np.ndarray | None = None, *, metric: str = "balanced_accuracy",
                     n_boot: int = 2000, seed: int = 0, confidence: float = 0.95):
    """``a - b`` in ``metric`` on the test cells of a single split (an external test), with a paired bootstrap
    interval: the test cells (optionally only ``mask`` (n,) bool, e.g. one reconstruction type) resampled with
    replacement within each class, both models scored on the same resample. The corrected resampled t-test of
    :func:`paired_difference` needs two or more splits; one external split has one, hence this.
    ``a``, ``b``: :class:`CVResult` of one split, the same split. Returns a :class:`PairedDifference` (``p``: the
    two-sided bootstrap share of differences on the other side of 0, ``n_splits`` 1). Raises ``ValueError`` if the
    splits differ or hold more than one split, or for a metric other than balanced accuracy or accuracy."""
    if metric not in ("balanced_accuracy", "accuracy"):
        raise ValueError(f"paired_bootstrap: metric must be 'balanced_accuracy' or 'accuracy', got {metric!r}")
    if len(a.splits) != 1 or a.splits != b.splits:
        raise ValueError(f"{a.model}, {b.model}: paired_bootstrap needs the same single split")
    test = a.splits[0].test
    sel = np.ones(len(test), bool) if mask is None else np.asarray(mask, bool)[test]
    y = a.y[test][sel]
    pa, pb = a.proba[0][sel], b.proba[0][sel]
    ya, yb = a.classes[pa.argmax(1)], b.classes[pb.argmax(1)]

    classes = np.unique(y)

    def score(idx):  # NumPy, not sklearn's metrics: thousands of resamples
        ca, cb, yy = ya[idx] == y[idx], yb[idx] == y[idx], y[idx]
        if metric == "accuracy":
            return ca.mean() - cb.mean()
        return np.mean([ca[yy == c].mean() - cb[yy == c].mean() for c in classes])

    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in classes]
    diffs = np.array([score(np.concatenate([rng.choice(ix, len(ix)) for ix in by_class])) for _ in range(n_boot)])
    m = score(np.arange(len(y)))
    lo, hi = np.quantile(diffs, [(1 - confidence) / 2, (1 + confidence) / 2])
    p = float(min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())))
    return PairedDifference(a.model, b.model, metric, float(m), float(lo), float(hi), p, 1, confidence)


def say_difference(d: PairedDifference | None, names: dict | None = None) -> str:
    """One sentence for a paired difference: the mean in percentage points with its 95% interval, and what it allows
    one to claim (an interval that includes 0 supports no "better" either way)."""
    if d is None:
        return "not run"
    names = names or {}
    a, b = names.get(d.a, d.a), names.get(d.b, d.b)
    metric = d.metric.replace("_", " ")
    if not np.isfinite(d.lo):
        return f"{a} - {b}: {100 * d.mean:+.1f} points of {metric} (one split: no interval, no claim)"
    txt = (f"{a} - {b}: {100 * d.mean:+.1f} points of {metric} (95% interval {100 * d.lo:+.1f} to "
           f"{100 * d.hi:+.1f}, p = {d.p:.2g}, {d.n_splits} paired splits)")
    if not d.significant:
        return txt + ": the interval includes 0, so neither is shown to be better"
    return txt + f": {a} is {'better' if d.mean > 0 else 'worse'}"
