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
# # Sequence models: an LSTM and a Tree-LSTM on the neuron's branching structure
#
# Zhang et al. (2021) read a neuron's reconstruction in two ways besides its images: as a *sequence* of nodes for a
# 2-layer LSTM, and as a *tree* for a Child-Sum Tree-LSTM (Tai et al. 2015), both with 128 hidden units (Table 2).
# This page builds the reduced tree of every rat S1 cell (soma, branch points and terminals; every other sample
# point lies on an unbranched stretch), trains both models with 5-fold cross-validation on task (a), principal cell
# against interneuron. The paper's virtual set (task d) has a page of its own, with every model.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
tree_epochs = None   # most Tree-LSTM epochs (None: the profile's default, neuro_lib.morphology.chapter)
lstm_epochs = None   # most LSTM epochs
max_len = None       # longest node sequence for the LSTM (the paper: 1,500)
threads = None       # torch CPU threads

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from neuro_lib import datasets, evaluation, results
from neuro_lib.models.fusion import branch_cache_key, cross_validate_branches
from neuro_lib.models.lstm import IndexedSequences
from neuro_lib.models.tree_lstm import IndexedTrees
from neuro_lib.morphology import chapter
from neuro_lib.morphology import data as mdata
from neuro_lib.morphology.tree import FEATURES, node_sequence

cfg = chapter.settings(profile, tree_epochs=tree_epochs, lstm_epochs=lstm_epochs, max_len=max_len, threads=threads)
epochs = {"lstm": cfg["lstm_epochs"], "tree_lstm": cfg["tree_epochs"]}
torch.set_num_threads(cfg["threads"])
dev = "cpu" if device == "auto" and profile != "gpu" else device
warnings.filterwarnings("ignore", category=UserWarning, module="torch")

# %% [markdown]
# ## The cells and their reduced trees
# Task (a) uses the rat somatosensory cortex cells of the Markram and Vasques archives with a principal/interneuron
# label (the 9 cells whose two sources disagree are dropped; malformed files are dropped and counted by the data
# layer).

# %%
inp = mdata.task_inputs("rat_s1_2class", image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed)
df, trees, classes, y = inp.df, inp.trees, inp.classes, inp.y
sizes = pd.DataFrame({"label": df["label"], "SWC points": df["n_nodes"],
                      "tree nodes": [len(t) for t in trees], "tree height": [int(t.height[0]) for t in trees]})
display(sizes.groupby("label").agg(["count", "median", "max"]))
display(Markdown(f"{len(df)} cells ({', '.join(f'{(df.label == c).sum()} {c}' for c in classes)}); "
                 f"{len(df.attrs.get('skipped', {}))} malformed files dropped. The reduction keeps "
                 f"{sizes['tree nodes'].sum() / sizes['SWC points'].sum():.1%} of the sample points."))

# %% [markdown]
# The figure shows one cell of each class: all SWC sample points (grey) and the nodes the models see (branch
# points orange, terminals blue), in the XY plane; the histogram compares the number of tree nodes per class.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, c in zip(axes[:2], classes):
    i = int(np.flatnonzero(df["label"].to_numpy() == c)[0])
    swc, t = mdata.load_swc(df["path"].iloc[i]), trees[i]
    ax.scatter(swc.xyz[:, 0], swc.xyz[:, 1], s=0.3, c="0.7")
    nchild = t.features[:, FEATURES.index("n_children")]
    pts = swc.xyz[t.rows]
    ax.scatter(*pts[nchild >= 2, :2].T, s=6, c="tab:orange", label="branch point")
    ax.scatter(*pts[nchild == 0, :2].T, s=6, c="tab:blue", label="terminal")
    ax.set(title=f"{c}: {df['neuron_name'].iloc[i]} ({len(t)} nodes)", xlabel="x (um)", ylabel="y (um)")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="lower right")
for c in classes:
    axes[2].hist(sizes.loc[sizes.label == c, "tree nodes"], bins=30, alpha=0.6, label=c)
axes[2].set(xlabel="reduced-tree nodes per cell", ylabel="cells", title="tree size by class")
axes[2].legend()
fig.tight_layout()

# %% [markdown]
# ## Cross-validated LSTM and Tree-LSTM
# Five folds by cell (the chapter's `splits`: one ninth of each training part held out for early stopping); both
# models use Adam (learning rate 1e-3), cross-entropy, 128 hidden units, and train until the validation loss has
# not improved for `patience` epochs (the best epoch's weights are kept). The LSTM reads the pre-order walk of the
# tree (at most `max_len` steps); the Tree-LSTM runs from the terminals to the soma, all nodes of equal height of a
# whole batch of neurons at once. The results are cached so that the fusion page reuses the same trained branches.

# %%
folds = inp.folds
banks = {"lstm": IndexedSequences([node_sequence(t, cfg["max_len"]) for t in trees]),
         "tree_lstm": IndexedTrees(trees)}
cv = cross_validate_branches(banks, y, folds, len(classes), in_features=len(FEATURES), epochs=epochs,
                             patience=cfg["patience"], seed=seed, device=dev,
                             cache_key=branch_cache_key(inp.cache_key, cfg["max_len"]))
summary = {m: evaluation.summarise(r.fold_metrics) for m, r in cv.items()}
has_apical = np.array([t.features[:, FEATURES.index("is_apical")].any() for t in trees])
table = pd.DataFrame(summary).T[["accuracy", "accuracy_sd", "auc", "auc_sd"]]
table

# %% [markdown]
# Confusion matrices of the out-of-fold predictions (each cell predicted by the model that did not train on it),
# row-normalised with counts, and the training curves of the first fold.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, (m, r) in zip(axes, cv.items()):
    evaluation.plot_confusion_matrix(y, r.proba.argmax(1), labels=range(len(classes)), display_labels=classes,
                                     ax=ax, title=m)
for m, r in cv.items():
    axes[2].plot(r.history[0]["train_loss"], label=f"{m} train")
    axes[2].plot(r.history[0]["val_loss"], "--", label=f"{m} validation")
axes[2].set(xlabel="epoch", ylabel="cross-entropy (nats)", title="fold 1 training curves")
axes[2].legend(fontsize=8)
fig.tight_layout()

# %%
display(Markdown(
    f"On {len(df)} cells the LSTM reaches {summary['lstm']['accuracy']:.3f} ± {summary['lstm']['accuracy_sd']:.3f} "
    f"accuracy (AUC {summary['lstm']['auc']:.3f}) and the Tree-LSTM {summary['tree_lstm']['accuracy']:.3f} ± "
    f"{summary['tree_lstm']['accuracy_sd']:.3f} (AUC {summary['tree_lstm']['auc']:.3f}), 5-fold means ± sd, "
    f"after at most {epochs['lstm']} (LSTM) and {epochs['tree_lstm']} (Tree-LSTM) epochs (the Tree-LSTM's weights "
    f"are those of epoch {', '.join(str(h['best_epoch'] + 1) for h in cv['tree_lstm'].history)} of the five folds, "
    "the lowest validation loss). The paper reports its numbers on a different, 12-class NeuroMorpho set of "
    "about 35,000 cells (see the fusion page), so these are not directly comparable. Two things make task (a) "
    "easier here: all cells come from one region, and the SWC type of each node (axon, basal, apical dendrite) is a "
    "node feature: " + ", ".join(f"{has_apical[df.label == c].mean():.0%} of {c} cells" for c in classes)
    + " have nodes typed apical dendrite, a strong but imperfect cue."))

# %%
metrics = {}
for m, s in summary.items():
    for k in ("accuracy", "accuracy_sd", "auc", "auc_sd"):
        metrics[f"rat_s1_2class/{m}/{k}"] = s[k]
results.write_results("morphology", "04_sequence_models", metrics,
                      parameters=dict(profile=profile, seed=seed, n_cells=len(df),
                                      **{k: cfg[k] for k in ("tree_epochs", "lstm_epochs", "patience", "max_len",
                                                             "threads")}),
                      data=datasets.checksums(*mdata.data_keys("rat_s1_2class")))
