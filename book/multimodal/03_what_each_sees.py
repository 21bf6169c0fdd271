# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What each modality sees
#
# **What this page shows.** Where fusing morphology and electrophysiology helps: the gain in recall class by class,
# how much of each modality the joint network opens its gates to, and how far the classes separate in each
# modality's features and in the fused representation. In this build:
#
# ```{glue:md} multimodal_sees_summary
# :format: myst
# ```
#
# Page 02 asked *whether* fusing morphology and electrophysiology helps; this page asks *where*. Three views of the
# same cross-validation runs (read back from the cache page 02 wrote; the same splits):
#
# 1. the gain from fusion per class, paired over the splits;
# 2. the joint LSPIN's gates: per test cell, how much of its ephys and of its morphometric input the network opened
#    (mean deterministic gate per block, out-of-fold), by class and reconstruction type;
# 3. t-SNE of each modality's features and of the fused representation (the joint LSPIN's gated inputs), coloured by
#    class.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
n_splits = None  # None: the profile's value; keep these as on page 02 to reuse its runs
n_repeats = None
epochs = None
n_ensemble = None
max_steps = None
max_cells = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from neuro_lib import datasets, pages, profiles, results
from neuro_lib.evaluation import plot_embedding, tsne
from neuro_lib.multimodal import chapter
from neuro_lib.multimodal import data as mm
from neuro_lib.multimodal import experiment as ex
from neuro_lib.multimodal.chapter import MODEL_NAMES

cfg = chapter.settings(profile, n_splits=n_splits, n_repeats=n_repeats, lspin_epochs=epochs, n_ensemble=n_ensemble,
                       max_steps=max_steps, max_cells=max_cells)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
exps = {task: ex.experiment(task, cfg, seed=seed, device=rt.device) for task in mm.TASKS}
metrics = {}

# %% [markdown]
# ## The gain from fusion, class by class
#
# Recall of each class for the fused model and for the better single modality, and their difference with its 95%
# interval over the same splits (corrected resampled t-test; {numref}`fig-multimodal-class-gain`), the fused model
# compared with:
#
# ```{glue:md} multimodal_gain_against
# :format: myst
# ```

# %%
gains = {task: ex.per_class_gain(exp) for task, exp in exps.items()}
for task, exp in exps.items():
    metrics.update(ex.per_class_entries(exp, gains[task]))
pages.markdown("multimodal_gain_against", "\n".join(f"* **{task}**: {MODEL_NAMES[exp.better_single]}"
                                                     for task, exp in exps.items()))
display(pd.concat(gains, names=["task", "class"]).round(3))

# %% [markdown]
# ```{glue:figure} multimodal_class_gain
# :name: fig-multimodal-class-gain
#
# Per-class recall gain of the fused model over the better single modality (percentage points; bars: 95% intervals
# over the same splits), task (a) left, task (b) right. A class whose interval lies right of 0 is one the added
# modality identifies better.
# ```

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
for ax, (task, exp) in zip(axes, exps.items()):
    gain = gains[task]
    err = np.nan_to_num(np.vstack([gain["gain"] - gain["gain_lo"], gain["gain_hi"] - gain["gain"]]))
    ax.barh(range(len(gain)), 100 * gain["gain"], xerr=100 * err, color="tab:purple", capsize=3)
    ax.set_yticks(range(len(gain)), gain.index)
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set(xlabel=f"recall gain, fused - {exp.better_single} (percentage points, 95% interval)", title=task)
fig.tight_layout()
pages.figure("multimodal_class_gain", fig)

# %% [markdown]
# ## Which modality the joint network reads
#
# The joint LSPIN gates each input feature per cell. The mean open gate over a block's features says how much of that
# modality the network used for that cell; each test cell's gates come from the model that did not train on it
# ({numref}`fig-multimodal-gates`, and cell by cell for task (b) in {numref}`fig-multimodal-gate-matrix`).
#
# ```{glue:figure} multimodal_gates
# :name: fig-multimodal-gates
#
# Mean open gate of the joint LSPIN per modality (green: ephys, orange: morphology) for each class and
# reconstruction type, over the test cells (out-of-fold); task (a) left, task (b) right.
# ```

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for ax, (task, exp) in zip(axes, exps.items()):
    table = ex.gate_table(exp)
    metrics.update(ex.gate_entries(exp))
    table.plot.barh(ax=ax, color=["tab:green", "tab:orange"])
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.invert_yaxis()
    ax.set(xlabel="mean open gate over the block's features (0 closed, 1 open)", ylabel="class, reconstruction",
           title=f"{task}: joint LSPIN gates")
fig.tight_layout()
pages.figure("multimodal_gates", fig)

# %% [markdown]
# ```{glue:figure} multimodal_gate_matrix
# :name: fig-multimodal-gate-matrix
#
# The gate matrix of task (b): one column per test cell (out-of-fold), one row per modality, the colour its mean
# gate (0 closed, 1 open); cells grouped by Cre class and, within a class, sorted by their morphology gate.
# ```

# %%
exp = exps["cre5"]
gates, y = exp.gates[exp.data.tested], exp.data.y[exp.data.tested]
order = np.lexsort((gates["morphology"].to_numpy(), y))
fig, ax = plt.subplots(figsize=(10, 2.4))
im = ax.imshow(gates.to_numpy()[order].T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="none")
ax.set_yticks([0, 1], ["ephys", "morphology"])
bounds = np.cumsum(np.bincount(y))
ax.set_xticks((bounds - np.bincount(y) / 2), exp.data.class_names)
for b in bounds[:-1]:
    ax.axvline(b - 0.5, color="w", lw=1)
ax.set(xlabel="test cells, grouped by Cre class", title="cre5: mean gate per modality, every cell")
fig.colorbar(im, ax=ax, label="mean gate")
plt.tight_layout()
pages.figure("multimodal_gate_matrix", fig)

# %% [markdown]
# ## t-SNE of each modality and of the fused representation
#
# Ephys: the task's ephys block (median-imputed, z-scored); morphology: the 77 morphometrics (same); fused: the joint
# LSPIN's gated inputs `z * x` (out-of-fold). Colour: class. Below each panel the 5-nearest-neighbour accuracy in the
# embedding (cross-validated) and the silhouette ({numref}`fig-multimodal-tsne`).
#
# ```{glue:figure} multimodal_tsne
# :name: fig-multimodal-tsne
#
# t-SNE of each modality's features (left: ephys, middle: morphology) and of the fused representation (right),
# task (a) on top and task (b) below, coloured by class: how far the classes separate in what each model reads. The
# axes of a t-SNE have no units; compare the neighbour accuracies and silhouettes under each panel, not the shapes.
# ```
#
# ```{glue:md} multimodal_tsne_best
# :format: myst
# ```

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 9.5))
for row, (task, exp) in zip(axes, exps.items()):
    for ax, (name, feats) in zip(row, ex.representations(exp).items()):
        emb = tsne(feats, seed=seed, perplexity=cfg["perplexity"])
        sep = ex.separation(emb, exp.data.y[exp.data.tested])
        metrics.update({results.key(task, f"tsne_{name}", k): v for k, v in sep.items()})
        plot_embedding(emb, exp.data.names[exp.data.tested], ax=ax, title=f"{task}: {name}")
        ax.set(xlabel=f"t-SNE 1 (a.u.); kNN acc. {sep['tsne_knn_accuracy']:.2f}, "
                      f"silhouette {sep['tsne_silhouette']:.2f}", ylabel="t-SNE 2 (a.u.)")
fig.tight_layout()
pages.figure("multimodal_tsne", fig)

# %%
best = {t: max(("ephys", "morphology", "fused"), key=lambda n: metrics[results.key(t, f"tsne_{n}",
                                                                                   "tsne_knn_accuracy")])
        for t in exps}
knn = {t: metrics[results.key(t, f"tsne_{n}", "tsne_knn_accuracy")] for t, n in best.items()}
pages.markdown("multimodal_tsne_best", "\n".join(f"* **{t}**: the classes separate best in the {n} representation "
                                                  f"(kNN accuracy {knn[t]:.2f})." for t, n in best.items()))


def headline(task, exp):
    g = gains[task].dropna(subset=["gain"]).sort_values("gain").iloc[-1]
    claim = "" if g["gain_lo"] > 0 else ", below 0" if g["gain_hi"] < 0 else ", which includes 0: no claim"
    open_gate = exp.gates[exp.data.tested].mean()
    return (f"* **{task}**: the largest per-class gain from fusion is for {g.name}, {100 * g['gain']:+.1f} points of "
            f"recall (95% interval {100 * g['gain_lo']:+.1f} to {100 * g['gain_hi']:+.1f}{claim}); the joint LSPIN's "
            f"mean gate is {open_gate['ephys']:.2f} on ephys and {open_gate['morphology']:.2f} on morphology; the "
            f"classes separate best in the {best[task]} representation (t-SNE kNN accuracy {knn[task]:.2f}).")


pages.markdown("multimodal_sees_summary", "\n".join(headline(t, e) for t, e in exps.items()))

# %%
params = dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads,
              **{k: cfg[k] for k in ("n_splits", "n_repeats", "lspin_epochs", "n_ensemble", "max_steps", "max_cells",
                                     "perplexity")})
path = results.write_results("multimodal", "03_what_each_sees", metrics, parameters=params,
                             data=datasets.checksums(*mm.DATA_KEYS))
print(f"results written to {path}")
