"""Figures of the morphology chapter that more than a line or two of a page would draw: feature distributions by
class, a cell's reduced tree over its samples, training curves per split."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_distributions", "plot_reduced_trees", "plot_training_curves"]

_UNITS = {"Length": "um", "Distance": "um", "Depth": "um", "Height": "um", "Width": "um", "Diameter": "um",
          "Surface": "um$^2$", "Volume": "um$^3$", "Angle": "deg"}


def plot_distributions(table, labels, features, *, ncols: int = 5):
    """Box plots (log scale where every value is positive) of ``features`` (columns of ``table``) by class
    ``labels`` (n,), one panel each, the unit on the axis (the paper's Figure 5d-h). Returns the Figure."""
    import matplotlib.pyplot as plt
    import pandas as pd

    labels = np.asarray(labels)
    classes = sorted(set(labels))
    nrows = int(np.ceil(len(features) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.8 * nrows), squeeze=False)
    for ax, f in zip(axes.ravel(), features):
        vals = [pd.to_numeric(table[f], errors="coerce").to_numpy()[labels == c] for c in classes]
        vals = [v[np.isfinite(v)] for v in vals]
        ax.boxplot(vals, showfliers=False)
        ax.set_xticks(range(1, len(classes) + 1), classes, rotation=30, ha="right", fontsize=8)
        unit = next((u for k, u in _UNITS.items() if k in f),
                    "count" if f.startswith("Number") or f.startswith("MaxBranch") else "")
        ax.set_ylabel(f"{f}" + (f" ({unit})" if unit else ""), fontsize=8)
        if np.nanmin([v.min() if len(v) else np.nan for v in vals]) > 0:
            ax.set_yscale("log")
    for ax in axes.ravel()[len(features):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_reduced_trees(df, trees, classes, read):
    """One cell of each of the first two ``classes``: every SWC sample (grey) and the reduced tree's branch points
    (orange) and terminals (blue) in the XY plane (um), and a histogram of reduced-tree sizes per class.

    ``df`` the cell table (``label``, ``path``, ``neuron_name``), ``trees`` its reduced trees (rows aligned),
    ``read(path)`` the SWC reader. Returns the Figure."""
    import matplotlib.pyplot as plt

    from .tree import FEATURES

    labels = df["label"].to_numpy()
    sizes = np.array([len(t) for t in trees])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, c in zip(axes[:2], classes):
        i = int(np.flatnonzero(labels == c)[0])
        swc, t = read(df["path"].iloc[i]), trees[i]
        ax.scatter(swc.xyz[:, 0], swc.xyz[:, 1], s=0.3, c="0.7")
        nchild = t.features[:, FEATURES.index("n_children")]
        pts = swc.xyz[t.rows]
        ax.scatter(*pts[nchild >= 2, :2].T, s=6, c="tab:orange", label="branch point")
        ax.scatter(*pts[nchild == 0, :2].T, s=6, c="tab:blue", label="terminal")
        ax.set(title=f"{c}: {df['neuron_name'].iloc[i]} ({len(t)} nodes)", xlabel="x (um)", ylabel="y (um)")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="lower right")
    for c in classes:
        axes[2].hist(sizes[labels == c], bins=30, alpha=0.6, label=c)
    axes[2].set(xlabel="reduced-tree nodes per cell", ylabel="cells", title="tree size by class")
    axes[2].legend()
    fig.tight_layout()
    return fig


def plot_training_curves(histories, ax, *, label: str = "", folds=None, color=None):
    """Training (solid) and validation (dashed) cross-entropy per epoch of the given
    :class:`~neuro_lib.training.History` objects (one per split, ``folds`` of them: default all) on ``ax``."""
    for k, h in enumerate(histories):
        if folds is not None and k not in folds:
            continue
        c = color or f"C{k}"
        name = f"{label} " if label else f"fold {k + 1} "
        ax.plot(np.arange(1, len(h.train_loss) + 1), h.train_loss, color=c, label=f"{name}train")
        if h.val_loss:
            ax.plot(np.arange(1, len(h.val_loss) + 1), h.val_loss, color=c, ls="--", label=f"{name}validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats; train solid, validation dashed)")
    ax.legend(fontsize=7)
    return ax
