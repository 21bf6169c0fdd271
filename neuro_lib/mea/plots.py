"""Figures of the MEA chapter (Buccino et al. 2018, Figures 1, 2 and 4), as library functions the notebooks call."""
from __future__ import annotations

import numpy as np

from .cells import cell_class, cell_mtype
from .extracellular import REGIMES, EAPSimulator, rotation_matrices, sample_rotations

__all__ = ["CLASS_COLORS", "plot_intracellular", "plot_eaps_near_soma", "plot_amplitude_width",
           "plot_alignments", "plot_feature_images", "plot_class_mean_images", "mtype_label_colors",
           "plot_confusions", "plot_cross_regime"]

CLASS_COLORS = {"excitatory": "tab:red", "inhibitory": "tab:blue"}
# SqMEA-10-15 sites run from -67.5 to 67.5 um in y (first image axis) and z (second); images are drawn transposed,
# z upwards, as in Figure 2's side view
_EXTENT = (-75, 75, -75, 75)


def mtype_label_colors(cells) -> dict:
    """``{m-type: colour}`` for tick labels: excitatory red, inhibitory blue (the paper's Figure 4)."""
    return {cell_mtype(c): CLASS_COLORS[cell_class(c)] for c in cells}


def plot_intracellular(sims, axes=None):
    """Figure 1A: somatic membrane potential (mV) and somatic transmembrane current (nA) of one spike per cell."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for s in sims:
        col = CLASS_COLORS[cell_class(s.name)]
        axes[0].plot(s.t, s.vmem[0], color=col, lw=1, alpha=0.8)
        axes[1].plot(s.t, s.imem[0, 0], color=col, lw=1, alpha=0.8, label=cell_mtype(s.name))
    axes[0].set(xlabel="time from somatic peak (ms)", ylabel="somatic V$_m$ (mV)", title="intracellular spike")
    axes[1].set(xlabel="time from somatic peak (ms)", ylabel="somatic transmembrane current (nA)",
                title="somatic current (first soma segment)")
    axes[1].legend(fontsize=7, ncol=2, frameon=False)
    return axes


def plot_eaps_near_soma(sims, distance: float = 15.0, ax=None, probe: str = "SqMEA-10-15"):
    """Figure 1B: the EAP on the site closest to the soma, soma ``distance`` um in front of the probe centre,
    no rotation beyond the upright alignment; one trace per cell."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for s in sims:
        sim = EAPSimulator(s, probe)
        e = sim.eaps([[distance, 0.0, 0.0]], [[np.pi / 2, 0, 0]], 0)[0]
        site = np.argmin(e.min(axis=1))
        ax.plot(s.t, e[site], color=CLASS_COLORS[cell_class(s.name)], lw=1, alpha=0.85, label=cell_mtype(s.name))
    ax.set(xlabel="time from somatic peak (ms)", ylabel="extracellular potential (uV)",
           title=f"EAP on the largest site, soma {distance:g} um from the MEA")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return ax


def plot_amplitude_width(ds, ax=None, max_points: int = 6000, seed: int = 0):
    """Figure 1C: amplitude (uV) against width (ms) on each spike's largest site, excitatory vs inhibitory."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(ds))[:max_points]
    amp, width = ds.features[idx, 0], ds.features[idx, 1]
    best = np.argmax(amp, axis=1)
    a, w = amp[np.arange(len(idx)), best], width[np.arange(len(idx)), best]
    exc = ds.excitatory[idx].astype(bool)
    jitter = rng.uniform(-0.01, 0.01, len(idx))  # widths are multiples of 1/32 ms
    for name, sel in (("inhibitory", ~exc), ("excitatory", exc)):
        ax.scatter(w[sel] + jitter[sel], a[sel], s=3, alpha=0.35, color=CLASS_COLORS[name],
                   label=f"{name} ({sel.sum()} spikes)")
    ax.set(xlabel="width on the largest site (ms)", ylabel="amplitude on the largest site (uV)", yscale="log")
    ax.legend(markerscale=4, frameon=False)
    return ax


def _project(sim_cell, rot):
    soma = np.asarray(sim_cell.somapos, float)
    st = np.stack([sim_cell.x[:, 0], sim_cell.y[:, 0], sim_cell.z[:, 0]], -1) - soma
    en = np.stack([sim_cell.x[:, -1], sim_cell.y[:, -1], sim_cell.z[:, -1]], -1) - soma
    R = rotation_matrices(rot)
    return st @ R.T, en @ R.T


def plot_alignments(sim_cell, seed: int = 0, n: int = 3, axes=None, probe_half: float = 75.0):
    """Figure 2: the four rotation regimes for one cell; ``n`` random draws each, seen from the side (x: distance
    from the probe, z: along the probe), the probe plane drawn at x = 0."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(13, 3.8), sharey=True)
    rng = np.random.default_rng(seed)
    for ax, regime in zip(axes, REGIMES):
        rots = sample_rotations(regime, n, rng)
        for k, rot in enumerate(rots):
            st, en = _project(sim_cell, rot)
            off = 40.0
            segs = np.stack([st[:, [0, 2]], en[:, [0, 2]]], 1) + [off, 0]
            ax.add_collection(LineCollection(segs, colors=f"C{k}", linewidths=0.6, alpha=0.8))
        ax.plot([0, 0], [-probe_half, probe_half], color="k", lw=3, label="MEA (x = 0)")
        ax.set(xlim=(-400, 500), ylim=(-500, 900), title=regime, xlabel="x: distance from the MEA (um)")
        ax.set_aspect("equal")
    axes[0].set_ylabel("z: along the MEA (um)")
    axes[0].legend(frameon=False, fontsize=7, loc="lower left")
    return axes


def plot_feature_images(ds, index: int, axes=None):
    """The amplitude (uV) and width (ms) images of one spike (y across, z up: the apical axis is vertical)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3))
    img = ds.images()[index]
    for ax, im, lab, cmap in zip(axes, img, ("amplitude (uV)", "width (ms)"), ("viridis", "magma_r")):
        h = ax.imshow(im.T, cmap=cmap, origin="lower", extent=_EXTENT)
        ax.set(xlabel="y along the MEA (um)", ylabel="z along the MEA (um)")
        ax.figure.colorbar(h, ax=ax, fraction=0.046, label=lab)
    axes[0].set_title(f"{ds.cells[ds.cell[index]]}, {ds.regime}", fontsize=9)
    return axes


def plot_class_mean_images(datasets: dict, axes=None):
    """Mean amplitude and width images per class (rows: regime x feature, columns: inhibitory, excitatory)."""
    import matplotlib.pyplot as plt

    regs = list(datasets)
    if axes is None:
        _, axes = plt.subplots(len(regs), 4, figsize=(12, 2.8 * len(regs)), squeeze=False)
    for r, reg in enumerate(regs):
        ds = datasets[reg]
        img = ds.images()
        exc = ds.excitatory.astype(bool)
        for j, (feat, lab, cmap) in enumerate((("amplitude", "uV", "viridis"), ("width", "ms", "magma_r"))):
            vmax = max(img[~exc, j].mean(0).max(), img[exc, j].mean(0).max())
            for k, (name, sel) in enumerate((("inhibitory", ~exc), ("excitatory", exc))):
                ax = axes[r, 2 * j + k]
                h = ax.imshow(img[sel, j].mean(0).T, cmap=cmap, vmin=0, vmax=vmax, origin="lower", extent=_EXTENT)
                ax.set_title(f"{reg}: mean {feat}, {name}", fontsize=8, color=CLASS_COLORS[name])
                ax.set(xlabel="y (um)", ylabel="z (um)")
                ax.figure.colorbar(h, ax=ax, fraction=0.046, label=lab)
    return axes


def plot_confusions(cvs: dict, task: str, regimes, datasets: dict, *, model: str = "cnn", label_colors=None,
                    axes=None):
    """Figure 4: row-normalised confusion matrices (counts in brackets) of ``model`` for ``task`` in each regime,
    pooled over the test spikes of the first split (``cvs`` as from :func:`neuro_lib.mea.classify.run_regimes`).
    Binary: one row of panels; m-type: a 2x2 grid."""
    import matplotlib.pyplot as plt

    from ..evaluation import plot_confusion_matrix
    from .classify import labels

    if axes is None:
        shape, size = ((1, len(regimes)), (22, 5.2)) if task == "binary" else ((2, 2), (20, 17))
        _, axes = plt.subplots(*shape, figsize=size, squeeze=False)
    for ax, r in zip(np.ravel(axes), regimes):
        cv = cvs[(task, r)][model]
        names = labels(datasets[r], task)[1]
        y, p = cv.pooled(0)
        plot_confusion_matrix(y, p, list(range(len(names))), display_labels=names, ax=ax, title=f"{task}, {r}",
                              label_colors=label_colors)
    return axes


def plot_cross_regime(cross: dict, axes=None):
    """Test accuracy of a network trained on one regime (rows) on another regime's test spikes (columns), one panel
    per task (``cross``: ``{task: DataFrame}`` from :func:`neuro_lib.mea.classify.cross_regime`)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(cross), figsize=(5.5 * len(cross), 4.2), squeeze=False)
    for ax, (task, M) in zip(np.ravel(axes), cross.items()):
        v = M.values.astype(float)
        im = ax.imshow(v, vmin=0, vmax=1, cmap="viridis")
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                ax.text(j, i, f"{v[i, j]:.2f}", ha="center", va="center", color="white" if v[i, j] < 0.6 else "black")
        ax.set(xticks=range(v.shape[1]), yticks=range(v.shape[0]), xticklabels=M.columns, yticklabels=M.index,
               xlabel="tested on", ylabel="trained on", title=task)
        ax.figure.colorbar(im, ax=ax, fraction=0.046, label="test accuracy")
    return axes
