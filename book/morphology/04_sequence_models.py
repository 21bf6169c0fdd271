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
# **What this page shows.** How well two models that read a neuron's branching structure, an LSTM on its nodes in
# order and a Tree-LSTM on its tree, tell principal cells from interneurons in rat S1 (task (a)), and what they are
# given to read. In this build:
#
# ```{glue:md} morph_seq_summary
# :format: myst
# ```
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
n_per_class = None  # cells per class (None: the profile default, all cells in cpu and gpu)
max_steps = None  # cap on each network fit's optimisation steps (None: none; the gpu_profile test uses 2)
n_splits = 5  # folds of the cross-validation by cell (the chapter's 5; the gpu_profile tests use 3)

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from neuro_lib import datasets, evaluation, pages, profiles, results
from neuro_lib.morphology import chapter, experiment
from neuro_lib.morphology import data as mdata
from neuro_lib.morphology.plots import plot_reduced_trees, plot_training_curves

cfg = chapter.settings(profile, tree_epochs=tree_epochs, lstm_epochs=lstm_epochs, max_len=max_len, threads=threads,
                       n_per_class=n_per_class, max_steps=max_steps)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
warnings.filterwarnings("ignore", category=UserWarning, module="torch")

# %% [markdown]
# ## The cells and their reduced trees
# Task (a) uses the rat somatosensory cortex cells of the Markram and Vasques archives with a principal/interneuron
# label (the 9 cells whose two sources disagree are dropped; malformed files are dropped and counted by the data
# layer). {glue:md}`morph_seq_cells`

# %%
inp = mdata.task_inputs("rat_s1_2class", image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed,
                        n_splits=n_splits)
df, trees, classes, y = inp.df, inp.trees, inp.classes, inp.y
sizes = pd.DataFrame({"label": df["label"], "SWC points": df["n_nodes"],
                      "tree nodes": [len(t) for t in trees], "tree height": [int(t.height[0]) for t in trees]})
display(sizes.groupby("label").agg(["count", "median", "max"]))
pages.markdown("morph_seq_cells", f"In this build: {len(df)} cells ("
               + ", ".join(f"{(df.label == c).sum()} {c}" for c in classes)
               + f"); {len(df.attrs.get('skipped', {}))} malformed files dropped. The reduction keeps "
               f"{sizes['tree nodes'].sum() / sizes['SWC points'].sum():.1%} of the sample points (table below).")

# %% [markdown]
# {numref}`fig-morph-seq-trees` shows what the models read.
#
# ```{glue:figure} morph_seq_trees
# :name: fig-morph-seq-trees
#
# One cell of each class of task (a) in the XY plane: all SWC sample points (grey) and the nodes of the reduced tree
# the models see (branch points orange, terminals blue); right, a histogram of the number of tree nodes per cell, by
# class (the cells of this build).
# ```

# %%
fig = plot_reduced_trees(df, trees, classes, mdata.load_swc)
pages.figure("morph_seq_trees", fig)

# %% [markdown]
# ## Cross-validated LSTM and Tree-LSTM
# Five folds by cell (the chapter's `splits`: one ninth of each training part held out for early stopping); both
# models use Adam (learning rate 1e-3), cross-entropy, 128 hidden units, and train until the validation loss has
# not improved for `patience` epochs (the best epoch's weights are kept). The LSTM reads the pre-order walk of the
# tree (at most `max_len` steps); the Tree-LSTM runs from the terminals to the soma, all nodes of equal height of a
# whole batch of neurons at once. Both are scikit-learn estimators run by the book's one cross-validation driver
# (split `j` seeded with `seed + j`); their fits are cached, so the fusion page reuses the same trained branches.

# %%
models = experiment.chapter_models(cfg, device=rt.device, names=["lstm", "tree_lstm"])
cv = evaluation.cross_validate(models, inp.views, y, inp.splits, seed=seed, keep=experiment.keep_history)
summary = {m: r.summary() for m, r in cv.items()}
has_apical = experiment.has_apical(trees)
table = pd.DataFrame(summary).T[["accuracy", "accuracy_sd", "auc", "auc_sd"]]
table

# %% [markdown]
# ```{glue:figure} morph_seq_cv
# :name: fig-morph-seq-cv
#
# Left and middle: out-of-fold confusion matrices of the LSTM and the Tree-LSTM on task (a), pooled over the five
# folds (each cell predicted by the model that did not train on it); rows normalised, counts in brackets. Right:
# training and validation loss of both models on the first fold, by epoch.
# ```
#
# In numbers ({numref}`fig-morph-seq-cv` shows where the errors fall):
#
# ```{glue:md} morph_seq_result
# :format: myst
# ```

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, (m, r) in zip(axes, cv.items()):
    evaluation.plot_confusion_matrix(*r.pooled(), classes, ax=ax, title=m)
for k, (m, r) in enumerate(cv.items()):
    plot_training_curves(r.extras["history"][:1], axes[2], label=m, color=f"C{k}")
axes[2].set_title("fold 1 training curves")
fig.tight_layout()
pages.figure("morph_seq_cv", fig)

# %%
hist_tree = cv["tree_lstm"].extras["history"]
pages.markdown("morph_seq_result",
    f"On {len(df)} cells the LSTM reaches {summary['lstm']['accuracy']:.3f} ± {summary['lstm']['accuracy_sd']:.3f} "
    f"accuracy (AUC {summary['lstm']['auc']:.3f}) and the Tree-LSTM {summary['tree_lstm']['accuracy']:.3f} ± "
    f"{summary['tree_lstm']['accuracy_sd']:.3f} (AUC {summary['tree_lstm']['auc']:.3f}), 5-fold means ± sd, "
    f"after at most {cfg['lstm_epochs']} (LSTM) and {cfg['tree_epochs']} (Tree-LSTM) epochs (the Tree-LSTM's "
    f"weights are those of epoch {', '.join(str(h.best_epoch + 1) for h in hist_tree)} of the five folds, "
    "the lowest validation loss). The paper reports its numbers on a different, 12-class NeuroMorpho set of "
    "about 35,000 cells (see the fusion page), so these are not directly comparable. Two things make task (a) "
    "easier here: all cells come from one region, and the SWC type of each node (axon, basal, apical dendrite) is a "
    "node feature: " + ", ".join(f"{has_apical[df.label == c].mean():.0%} of {c} cells" for c in classes)
    + " have nodes typed apical dendrite, a strong but imperfect cue.")
pages.markdown("morph_seq_summary", "\n".join(
    f"* {name}: accuracy {summary[m]['accuracy']:.3f} ± {summary[m]['accuracy_sd']:.3f}, AUC {summary[m]['auc']:.3f} "
    f"on {len(df)} cells (5-fold mean ± sd);" for m, name in (("lstm", "LSTM"), ("tree_lstm", "Tree-LSTM")))
    + "\n* the paper reports both only on its own 12-class set of ~35,000 cells; the comparison is on the fusion page.")

# %%
metrics = experiment.results_entries(cv, "rat_s1_2class")
results.write_results("morphology", "04_sequence_models", metrics,
                      parameters=dict(profile=profile, seed=seed, n_cells=len(df), threads=rt.threads,
                                      **{k: cfg[k] for k in ("tree_epochs", "lstm_epochs", "patience", "max_len",
                                                             "max_steps")}),
                      data=datasets.checksums(*mdata.data_keys("rat_s1_2class")))
