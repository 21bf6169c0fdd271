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
# # A virtual two-class set: basket against pyramidal cells
#
# **What this page shows.** Whether every model of the paper's Table 3 can learn morphology at all, on virtual
# basket and pyramidal cells grown by a wiring rule, where the paper's models got every cell right. In this build:
#
# ```{glue:md} morph_virtual_summary
# :format: myst
# ```
#
# To check that their models can learn morphology at all, Zhang et al. {cite}`zhang2021neuron` generated 500
# virtual basket and 500 virtual pyramidal cells with the Trees toolbox and reported that every model classified
# every virtual cell correctly (the paper's numbers are in the table below).
# We grow ours with the toolbox's principle, the minimum-spanning-tree rule of Cuntz et al. {cite}`cuntz2010one`:
# carrier points are scattered where a neurite should go and joined greedily, each new point to the tree node that
# minimises wiring plus a balancing factor times the path length to the soma. Pyramidal cells get basal dendrites, an
# apical dendrite with a tuft and a descending axon; basket cells short multipolar dendrites and a dense, wide axon.
# {glue:md}`morph_virtual_cells`

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
n_per_class = None  # cells per class (None: the profile default; the paper used 500)
epochs = None  # most epochs of the CNN, the LSTM and the Tree-LSTM (None: the profile's, per model)
image_size = None  # CNN image side in pixels
threads = None  # torch CPU threads (None: the chapter's default for the profile)
max_steps = None  # cap on each network fit's optimisation steps (None: none; the gpu_profile test uses 2)
n_splits = 5  # folds of the cross-validation by cell (the chapter's 5; the gpu_profile tests use 3)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuro_lib import evaluation, pages, profiles, results
from neuro_lib.morphology import chapter, data, experiment
from neuro_lib.morphology.features import feature_table
from neuro_lib.morphology.plots import plot_distributions
from neuro_lib.morphology.projections import example_grid, project_many
from neuro_lib.morphology.synthetic import virtual_dataset_cached
from neuro_lib.morphology.tree import reduce_tree
from neuro_lib.morphology.views import Views

# the real-cell pages' settings (neuro_lib.morphology.chapter), with this page's cells, epochs and image size
cfg = chapter.virtual_settings(profile, n_per_class=n_per_class, epochs=epochs, image_size=image_size,
                               threads=threads, max_steps=max_steps)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
paper = results.paper_numbers("morphology")
n, size = cfg["n_per_class"], cfg["image_size"]

# %%
cells, labels = virtual_dataset_cached(n, seed)
df = pd.DataFrame({"cell_id": [f"virtual/{i}" for i in range(len(cells))], "label": labels})
feats = feature_table(cells)
images = project_many(cells, size)
pages.markdown("morph_virtual_cells", f"In this build: {len(cells)} virtual cells ({n} per class), "
               f"{int(np.median([len(c) for c in cells]))} samples per cell (median).")
fig = example_grid(project_many(cells[:8], 96), labels[:8], per_class=2, seed=seed)
pages.figure("morph_virtual_examples", fig)

# %% [markdown]
# ```{glue:figure} morph_virtual_examples
# :name: fig-morph-virtual-examples
#
# Two virtual cells of each class in their XY, XZ and YZ projections (96 pixels a side), one row per cell.
# ```
#
# The classes differ in the features the paper's Figure 5 shows ({numref}`fig-morph-virtual-distributions`):
# pyramidal cells are taller (apical dendrite) with fewer, longer branches; basket cells have far more axonal length
# around the soma.
#
# ```{glue:figure} morph_virtual_distributions
# :name: fig-morph-virtual-distributions
#
# Five hand features of the virtual cells of this build, by class. Boxes: quartiles; whiskers: 1.5 times the
# interquartile range; log scale where all values are positive.
# ```

# %%
fig = plot_distributions(feats, labels, ["TotalLength", "NumberBifurcations", "OverallHeight", "MaxPathDistance",
                                         "AverageContraction"])
pages.figure("morph_virtual_distributions", fig)

# %% [markdown]
# ## Every model of Table 3 on the same five folds
# Splits by cell: 5-fold cross-validation, each fold's training cells split again for early stopping. The SVM on the
# 20 features, the ResNet18 on the three projections, the LSTM and the Tree-LSTM on the reduced trees, and the
# fusion of the CNN and the Tree-LSTM (as on the fusion page: late fusion of their logits, and the paper's 3-layer
# head on their 640-d features), with the real-cell pages' settings (`neuro_lib.morphology.chapter`) except the
# image size and the most epochs of each network (this page's profile table; the LSTM gets the most). Trained models
# are cached.

# %%
views = Views(features=feats.to_numpy(), images=images,
              trees=[reduce_tree(c.xyz, c.radius, c.parent, c.types) for c in cells])
cvs = evaluation.cross_validate(experiment.chapter_models(cfg, device=rt.device, names=[
    "svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion"]), views, labels,
    data.splits(df, seed=seed, n_splits=n_splits), seed=seed)
names = dict(experiment.MODEL_NAMES, svm="SVM (20 features)", fusion_mlp="Multi, 3-layer head",
             fusion="Multi, late fusion")
summary = {m: r.summary() for m, r in cvs.items()}
table = pd.DataFrame({"accuracy": [summary[m]["accuracy"] for m in cvs],
                      "accuracy_sd": [summary[m]["accuracy_sd"] for m in cvs],
                      "AUC": [summary[m]["auc"] for m in cvs],
                      "paper accuracy (Trees toolbox set)": [paper.get(results.key("virtual", m, "accuracy"))
                                                             for m in cvs]}, index=[names[m] for m in cvs])
table.round(3)

# %% [markdown]
# Where the models err, if they do, is in {numref}`fig-morph-virtual-confusion`.
#
# ```{glue:figure} morph_virtual_confusion
# :name: fig-morph-virtual-confusion
#
# Out-of-fold confusion matrices of every model on the virtual set, pooled over the five folds; rows normalised,
# counts in brackets. The paper's models classified every virtual cell correctly.
# ```
#
# ```{glue:md} morph_virtual_claim
# :format: myst
# ```

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 7))
for ax, (m, r) in zip(axes.flat, cvs.items()):
    evaluation.plot_confusion_matrix(*r.pooled(), r.classes, ax=ax, title=names[m])
fig.tight_layout()
pages.figure("morph_virtual_confusion", fig)
perfect = [names[m] for m in cvs if summary[m]["accuracy"] == 1.0]
worst = min(summary, key=lambda m: summary[m]["accuracy"])
paper_acc = table["paper accuracy (Trees toolbox set)"].dropna().astype(float)
said = (f"All {len(cvs)} models classify every virtual cell correctly, as the paper's did."
        if len(perfect) == len(cvs) else
        f"{len(perfect)} of the {len(cvs)} models classify every virtual cell correctly"
        + (f" ({', '.join(perfect)})" if perfect else "")
        + f"; the lowest 5-fold accuracy is {summary[worst]['accuracy']:.3f} ({names[worst]}); the paper's "
        + (f"models: {paper_acc.min():.3f} each." if paper_acc.min() == paper_acc.max()
           else f"models: {paper_acc.min():.3f} to {paper_acc.max():.3f}."))
pages.markdown("morph_virtual_claim", said)
pages.markdown("morph_virtual_summary", f"* {len(cells)} virtual cells, 5-fold cross-validation by cell; {said}")

# %%
metrics = experiment.results_entries(cvs, "virtual")
results.write_results("morphology", "07_virtual", metrics,
                      parameters=dict(profile=profile, seed=seed, n_per_class=n, image_size=size, threads=rt.threads,
                                      **{k: v for k, v in cfg.items() if k in chapter.MODEL_SETTINGS}), data={})
