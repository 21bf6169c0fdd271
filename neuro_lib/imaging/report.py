"""Figures and tables of the imaging pages (the work behind a page's cells, so that the pages tell the story).

Every figure function takes an optional ``ax``/returns its matplotlib figure, labels its axes with units, and draws
nothing it does not say in its docstring.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .detection import centers_metric, in_region, match_centers

__all__ = ["plot_images", "plot_heldout", "plot_calibration", "plot_curves", "plot_candidates", "plot_seed_scores",
           "detector_table", "seed_table", "seed_metrics", "roi_activity", "visibility_table", "activity_table",
           "chance_recall", "hits", "chapter_times"]


def plot_images(panels, *, cmap="gray", colorbar_label: str | None = None, size: float = 4.0):
    """One row of images: ``panels`` is a list of ``(image (rows, cols), title)`` or ``(image, title, cmap, vmin,
    vmax)``. Axes in pixels; a colour bar beside the last panel when ``colorbar_label``. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size * 0.95), squeeze=False)
    im = None
    for ax, p in zip(axes[0], panels):
        img, title, cm, vmin, vmax = (*p, cmap, None, None)[:5] if len(p) == 2 else p
        im = ax.imshow(img, cmap=cm, vmin=vmin, vmax=vmax)
        ax.set_title(title)
        ax.set_xlabel("column (pixels)")
        ax.set_ylabel("row (pixels)")
    if colorbar_label and im is not None:
        fig.colorbar(im, ax=axes[0][-1], fraction=0.046, label=colorbar_label)
    fig.tight_layout()
    return fig


def plot_heldout(prob: np.ndarray, mask: np.ndarray, found: np.ndarray, *, zoom=(slice(128, 256), slice(128, 256)),
                 title: str = "held-out probability (4 networks), ROIs cyan, found cells red"):
    """The stitched held-out probability map with the manual ROIs' outlines (cyan) and the found cells (red dots),
    whole field (quadrant borders in white) and a zoom. Returns the figure."""
    import matplotlib.pyplot as plt

    H, W = prob.shape
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.2))
    im = None
    for ax, zz in [(axes[0], (slice(0, H), slice(0, W))), (axes[1], zoom)]:
        im = ax.imshow(prob[zz], cmap="magma", vmin=0, vmax=1,
                       extent=(zz[1].start, zz[1].stop, zz[0].stop, zz[0].start))
        ax.contour(np.arange(zz[1].start, zz[1].stop) + 0.5, np.arange(zz[0].start, zz[0].stop) + 0.5, mask[zz],
                   levels=[0.5], colors="cyan", linewidths=0.4 if ax is axes[0] else 0.8)
        sel = in_region(found, zz)
        ax.scatter(found[sel, 1] + 0.5, found[sel, 0] + 0.5, s=12 if ax is axes[0] else 30, c="red")
        ax.set_xlabel("column (pixels)")
        ax.set_ylabel("row (pixels)")
    axes[0].axhline(H / 2, color="w", lw=0.8)
    axes[0].axvline(W / 2, color="w", lw=0.8)
    axes[0].set_title(title)
    axes[1].set_title("zoom")
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="cell probability")
    fig.tight_layout()
    return fig


def plot_calibration(prob: np.ndarray, mask: np.ndarray, *, n_bins: int = 10, ax=None):
    """Held-out pixels binned by predicted probability against the fraction of each bin inside an ROI (a
    calibrated map lies on the diagonal), with the pixel count of each bin. Returns the Axes."""
    import matplotlib.pyplot as plt

    bins = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(prob.ravel(), bins) - 1, 0, n_bins - 1)
    m = np.asarray(mask, bool).ravel()
    frac = np.array([m[idx == b].mean() if (idx == b).any() else np.nan for b in range(n_bins)])
    count = np.bincount(idx, minlength=n_bins)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    ax.plot((bins[:-1] + bins[1:]) / 2, frac, marker="o")
    for b in range(n_bins):
        if count[b]:
            ax.annotate(f"{count[b]}", ((bins[b] + bins[b + 1]) / 2, frac[b]), fontsize=7, xytext=(2, -9),
                        textcoords="offset points")
    ax.set_xlabel("predicted probability (bin centre)")
    ax.set_ylabel("fraction of pixels inside an ROI")
    ax.set_title("held-out calibration (numbers: pixels per bin)", fontsize=9)
    ax.figure.tight_layout()
    return ax


def plot_curves(curves: dict, *, xlabel: str = "epoch", ylabel: str = "training loss", ax=None):
    """Line plot of ``{label: per-epoch values}`` (epochs from 1). Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, v in curves.items():
        ax.plot(np.arange(1, len(v) + 1), v, marker="o", ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    ax.figure.tight_layout()
    return ax


def plot_candidates(image: np.ndarray, candidates, kept: np.ndarray, truth: np.ndarray, *, split: int = 0, ax=None):
    """The held-out candidates of region split ``split`` (a :class:`~.pipeline.Candidates`) over ``image`` (rows,
    cols), cropped to that quadrant: kept and a cell (green dots), kept but not a cell (red), rejected but a cell
    (orange rings), rejected and not a cell (grey); manual ROI centres ``truth`` as small cyan dots. Returns the
    Axes."""
    import matplotlib.pyplot as plt

    sel = (candidates.split == split) & candidates.held_out
    test = candidates.splits[split].test
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    c, y, k = candidates.centres[sel], candidates.y[sel], np.asarray(kept, bool)[sel]
    ax.imshow(image, cmap="gray")
    t = truth[in_region(truth, _bbox(c, image.shape))] if len(c) else truth[:0]
    ax.scatter(t[:, 1], t[:, 0], s=6, c="cyan", label="manual ROI centre")
    for m, style in [((y == 1) & k, dict(c="limegreen", s=22, label="kept, a cell")),
                     ((y == 0) & k, dict(c="red", s=22, label="kept, not a cell")),
                     ((y == 1) & ~k, dict(facecolors="none", edgecolors="orange", s=40, label="rejected, a cell")),
                     ((y == 0) & ~k, dict(c="0.6", s=10, label="rejected, not a cell"))]:
        ax.scatter(c[m, 1], c[m, 0], **style)
    if len(c):
        (r0, r1), (c0, c1) = ((b.start, b.stop) for b in _bbox(c, image.shape))
        ax.set_xlim(c0, c1)
        ax.set_ylim(r1, r0)
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    ax.set_title(f"held-out candidates, split {split} ({len(test)} candidates)")
    ax.legend(frameon=True, fontsize=7, loc="lower right")
    ax.figure.tight_layout()
    return ax


def _bbox(points: np.ndarray, shape) -> tuple[slice, slice]:
    """The quadrant-sized box (row slice, col slice) holding ``points``: the quadrant of their mean."""
    H, W = shape
    r, c = np.asarray(points, float).reshape(-1, 2).mean(0)
    rs = slice(0, H // 2) if r < H // 2 else slice(H // 2, H)
    cs = slice(0, W // 2) if c < W // 2 else slice(W // 2, W)
    return rs, cs


def detector_table(truth: np.ndarray, detectors: dict, *, mask: np.ndarray | None = None) -> pd.DataFrame:
    """One row per detector: ``detectors`` maps a name to ``(centres (n, 2), pixel accuracy or NaN)``; columns
    pixel accuracy and Neurofinder's precision, recall, F1, ROI / found / matched counts (pooled over the field)."""
    rows = {}
    for name, (cents, pix) in detectors.items():
        rows[name] = dict(pixel_accuracy=pix, **centers_metric(truth, cents))
    cols = ["pixel_accuracy", "precision", "recall", "f1", "n_true", "n_found", "n_matched"]
    return pd.DataFrame(rows).T[cols]


def seed_table(rows: dict) -> pd.DataFrame:
    """The spread of a page's headline numbers over seeds (issue 14): ``rows`` maps each seed to ``{metric:
    value}``. Returns one row per seed (index ``seed <s>``), then ``mean`` and ``sd`` (the sample sd, ``ddof=1``;
    0 for a single seed). Raises ``ValueError`` when ``rows`` is empty or the seeds report different metrics."""
    if not rows:
        raise ValueError("seed_table needs at least one seed")
    cols = list(next(iter(rows.values())))
    if any(list(r) != cols for r in rows.values()):
        raise ValueError(f"every seed must report the same metrics {cols}")
    t = pd.DataFrame([[float(r[c]) for c in cols] for r in rows.values()], columns=cols,
                     index=[f"seed {s}" for s in rows])
    sd = t.std(ddof=1) if len(t) > 1 else t.iloc[0] * 0.0
    return pd.concat([t, t.mean().to_frame("mean").T, sd.to_frame("sd").T])


def seed_metrics(table: pd.DataFrame, task: str, model: str, metrics, *, column: str = "{}") -> dict[str, float]:
    """Results entries of a :func:`seed_table`: ``<task>/<model>/<metric>`` (the mean over seeds),
    ``.../<metric>_sd`` and, for each seed ``s``, ``<task>/<model>/split=seed_<s>/<metric>``, for each of
    ``metrics``; ``column`` names the table's column of a metric (``"{}"``: the metric itself; e.g.
    ``"pipeline_{}"``). Raises ``KeyError`` for a metric the table lacks."""
    from .. import results

    out = {}
    for m in metrics:
        c = column.format(m)
        out[results.key(task, model, m)] = float(table.loc["mean", c])
        out[results.key(task, model, f"{m}_sd")] = float(table.loc["sd", c])
        out.update({results.key(task, model, m, split=f"seed_{row.split(' ', 1)[1]}"): float(table.loc[row, c])
                    for row in table.index if row.startswith("seed ")})
    return out


def plot_seed_scores(per_quadrant: dict, pooled: dict, *, reference: tuple[str, float] | None = None,
                     ylabel: str = "held-out Neurofinder F1", ax=None):
    """The spread over seeds of a held-out score: ``per_quadrant`` maps each seed to its (4,) per-quadrant scores
    (dots, one colour per seed, at quadrants 0-3), ``pooled`` each seed to its score pooled over the quadrants (a bar
    at "pooled": the mean over seeds, with the sd as an error bar, and each seed as a dot). ``reference``: a
    ``(name, value)`` drawn as a dashed line (e.g. the best peer). Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.2))
    seeds = list(per_quadrant)
    for i, s in enumerate(seeds):
        v = np.asarray(per_quadrant[s], float)
        off = (i - (len(seeds) - 1) / 2) * 0.08
        ax.scatter(np.arange(len(v)) + off, v, s=18, color=f"C{i}", label=f"seed {s}")
        ax.scatter([len(v) + off], [pooled[s]], s=18, color=f"C{i}")
    n_q = len(np.asarray(per_quadrant[seeds[0]]))
    vals = np.array([pooled[s] for s in seeds], float)
    ax.bar([n_q], [vals.mean()], width=0.5, color="0.85", zorder=0,
           yerr=[vals.std(ddof=1) if len(vals) > 1 else 0.0], capsize=4)
    if reference is not None:
        ax.axhline(reference[1], color="0.3", ls="--", lw=1, label=reference[0])
    ax.set_xticks(range(n_q + 1), [f"quadrant {q}" for q in range(n_q)] + ["pooled"])
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.figure.tight_layout()
    return ax.figure


def chance_recall(n_found: int, shape: tuple[int, int], radius: float = 5.0) -> float:
    """The recall that ``n_found`` points placed uniformly at random would have: the chance that one lies within
    ``radius`` pixels of a given ROI centre, ``1 - exp(-n pi r^2 / area)`` (Poisson approximation)."""
    return float(1 - np.exp(-n_found * np.pi * radius ** 2 / (shape[0] * shape[1])))


def roi_activity(movie: np.ndarray, labels: np.ndarray, *, percentile: float = 99.0) -> dict:
    """Which ROIs fired: :func:`~.summary.roi_transient_snr` (not smoothed further: each frame of the book's movie is
    already a mean of 3 source frames), and ``active`` = an upward peak above the ``percentile`` of all downward
    excursions (how far noise alone reaches). Returns ``{"peak", "trough", "null", "active"}`` ((n,) arrays and the
    cut)."""
    from .summary import roi_transient_snr

    peak, trough = roi_transient_snr(movie, labels, smooth=1)
    null = float(np.nanpercentile(trough, percentile))
    return {"peak": peak, "trough": trough, "null": null, "active": peak > null}


def visibility_table(contrast: np.ndarray, hits: dict, edges=(0, 0.5, 1, 2, np.inf)) -> pd.DataFrame:
    """ROIs per band of largest absolute contrast (ring sd) and each detector's recall in the band (``hits``:
    ``{name: (n,) bool, ROI matched}``)."""
    edges = list(edges)
    band = np.digitize(contrast, edges[1:-1])
    k = len(edges) - 1
    t = pd.DataFrame({"ROIs": np.bincount(band, minlength=k),
                      **{f"{n} recall": [h[band == b].mean() if (band == b).any() else np.nan for b in range(k)]
                         for n, h in hits.items()}},
                     index=[f"{lo} to {hi}" for lo, hi in zip(edges[:-1], edges[1:])])
    t.index.name = "largest |contrast| (ring sd)"
    return t


def activity_table(active: np.ndarray, hits: dict) -> pd.DataFrame:
    """ROIs that fired and did not, and each detector's recall among them (``hits`` as in :func:`visibility_table`)."""
    return pd.DataFrame({"ROIs": [int(active.sum()), int((~active).sum())],
                         **{f"{n} recall": [h[active].mean(), h[~active].mean()] for n, h in hits.items()}},
                        index=["active (fired)", "silent"])


def hits(truth: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(n,) bool: which ROI centres ``truth`` a detection in ``found`` matches (:func:`match_centers`)."""
    return match_centers(truth, found) >= 0


def chapter_times(pages, current: dict | None = None, *, chapter: str = "imaging") -> pd.DataFrame:
    """The run time of each page of ``pages`` (notebook names, e.g. ``"01_data"``) from its results file under
    :func:`neuro_lib.results.results_root` (the same build): wall seconds (the runner's ``execution.seconds``, else
    the page's own ``runtime/<page>/seconds``), CPU seconds (``runtime/<page>/cpu_seconds``, NaN where the page does
    not record it) and the load average the page saw. ``current`` gives the running page's own figures
    (``{"page", "seconds", "cpu_seconds", "load_average"}``), whose results file is not written yet. A page without a
    results file gets a row of NaN and ``found=False`` (its time is then not in the total). Returns one row per
    page (index: page) with columns ``seconds``, ``cpu_seconds``, ``load_average``, ``found``."""
    from .. import results

    rows = {}
    for page in pages:
        if current is not None and page == current["page"]:
            rows[page] = {k: float(current[k]) for k in ("seconds", "cpu_seconds", "load_average")} | {"found": True}
            continue
        try:
            doc = results.read_results(chapter, page)
        except FileNotFoundError:
            rows[page] = {"seconds": np.nan, "cpu_seconds": np.nan, "load_average": np.nan, "found": False}
            continue
        m = doc.get("metrics", {})
        wall = doc.get("execution", {}).get("seconds", m.get(results.key("runtime", page, "seconds"), np.nan))
        rows[page] = {"seconds": float(wall),
                      "cpu_seconds": float(m.get(results.key("runtime", page, "cpu_seconds"), np.nan)),
                      "load_average": float(m.get(results.key("runtime", page, "load_average"), np.nan)),
                      "found": True}
    return pd.DataFrame.from_dict(rows, orient="index")
