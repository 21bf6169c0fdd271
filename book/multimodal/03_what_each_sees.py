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
from IPython.display import Markdown, display

from neuro_lib import datasets, profiles, results
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
# interval over the same splits (corrected resampled t-test).

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
for ax, (task, exp) in zip(axes, exps.items()):
    gain = ex.per_class_gain(exp)
    metrics.update(ex.per_class_entries(exp, gain))
    display(Markdown(f"**{task}**: fused against {MODEL_NAMES[exp.better_single]}"))
    display(gain.round(3))
    err = np.nan_to_num(np.vstack([gain["gain"] - gain["gain_lo"], gain["gain_hi"] - gain["gain"]]))
    ax.barh(range(len(gain)), 100 * gain["gain"], xerr=100 * err, color="tab:purple", capsize=3)
    ax.set_yticks(range(len(gain)), gain.index)
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set(xlabel=f"recall gain, fused - {exp.better_single} (percentage points, 95% interval)", title=task)
fig.tight_layout()

# %% [markdown]
# Per-class recall gain of the fused model over the better single modality (bars: 95% intervals). A class whose
# interval lies right of 0 is one the added modality identifies better.

# %% [markdown]
# ## Which modality the joint network reads
#
# The joint LSPIN gates each input feature per cell. The mean open gate over a block's features says how much of that
# modality the network used for that cell; each test cell's gates come from the model that did not train on it.

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

# %% [markdown]
# Mean gate per modality (green: ephys, orange: morphology) for each class and reconstruction type.

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

# %% [markdown]
# The gate matrix of task (b): one column per cell (out-of-fold), one row per modality; within a class the cells are
# sorted by their morphology gate.

# %% [markdown]
# ## t-SNE of each modality and of the fused representation
#
# Ephys: the task's ephys block (median-imputed, z-scored); morphology: the 77 morphometrics (same); fused: the joint
# LSPIN's gated inputs `z * x` (out-of-fold). Colour: class. Below each panel the 5-nearest-neighbour accuracy in the
# embedding (cross-validated) and the silhouette.

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

# %% [markdown]
# Each modality's and the fused representation's t-SNE, coloured by class: how far the classes separate in what each
# model reads (the axes of a t-SNE have no units; compare the neighbour accuracies, not the shapes).

# %%
best = {t: max(("ephys", "morphology", "fused"), key=lambda n: metrics[results.key(t, f"tsne_{n}",
                                                                                   "tsne_knn_accuracy")])
        for t in exps}
display(Markdown("\n".join(f"* **{t}**: the classes separate best in the {n} representation (kNN accuracy "
                           f"{metrics[results.key(t, f'tsne_{n}', 'tsne_knn_accuracy')]:.2f})."
                           for t, n in best.items())))
params = dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads,
              **{k: cfg[k] for k in ("n_splits", "n_repeats", "lspin_epochs", "n_ensemble", "max_steps", "max_cells",
                                     "perplexity")})
path = results.write_results("multimodal", "03_what_each_sees", metrics, parameters=params,
                             data=datasets.checksums(*mm.DATA_KEYS))
print(f"results written to {path}")
