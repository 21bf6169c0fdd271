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
# # What the models look at: gates, Shapley values and learned features
#
# **What this page shows.** Which features the trained networks use, per cell: LSPIN opens different gates for
# different Cre classes ({numref}`fig-ephys-gates`); the DANN leans most on {glue:md}`shap_top3`
# ({numref}`fig-ephys-shap`); and in the DANN's learned features {glue:md}`mix_sentence`
#
# Three views of the trained models, all on held-out cells of the paper's single splits:
#
# 1. the **LSPIN gate matrix**: for every test cell, which of the 41 features its gates keep open, clustered
#    (the paper's Figure 9);
# 2. **Shapley values** {cite}`lundberg2017shap` of the E/I DANN: how much each feature pushes a cell towards
#    excitatory;
# 3. **t-SNE** of the DANN's learned 32-d features against the raw 41 features, coloured by class and species: does
#    the adversary bring mouse and human cells of the same class together?

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
epochs = None  # None: the profile's interpretation_epochs, for both networks
lambda1 = None
max_steps = None  # a cap on optimisation steps per network (the gpu_profile tests)
max_cells = None  # a stratified subset of the cells (the gpu_profile tests)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import shap
from IPython.display import display

from neuro_lib import datasets, pages, profiles
from neuro_lib.ephys import CRE_CLASSES, OPHIR_KEYS, chapter, cre5_data, ei_data
from neuro_lib.ephys.experiments import paper_split_cre5, paper_split_ei, subsample
from neuro_lib.ephys.interpret import cross_species_share, explain_dann, fit_on_split, gate_frame
from neuro_lib.ephys.models import DANNClassifier, LSPINClassifier
from neuro_lib.evaluation import plot_embedding, tsne
from neuro_lib.results import key, write_results

cfg = chapter.settings(profile, interpretation_epochs=epochs, lambda1=lambda1, max_steps=max_steps,
                       max_cells=max_cells)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
net = dict(epochs=cfg["interpretation_epochs"], max_steps=cfg["max_steps"], device=rt.device)

# %% [markdown]
# ## The LSPIN gate matrix

# %%
cre = subsample(cre5_data(), cfg["max_cells"], seed=seed)
[split5] = paper_split_cre5(cre.y, cre.complete, seed=seed)
lspin, lspin_cv = fit_on_split(LSPINClassifier(lambda1=cfg["lambda1"], n_ensemble=cfg["n_ensemble"], **net),
                               cre.X, cre.y, [split5], seed=seed)
acc = lspin_cv.summary()["accuracy"]
G = gate_frame(lspin, cre.X[split5.test])
classes = pd.Series(cre.names[split5.test], name="Cre class")
palette = dict(zip(CRE_CLASSES, sns.color_palette("tab10", 5)))
order = np.argsort(cre.y[split5.test], kind="stable")
g = sns.clustermap(G.iloc[order].reset_index(drop=True), row_cluster=False, col_cluster=True, cmap="viridis",
                   vmin=0, vmax=1, row_colors=classes.iloc[order].map(palette).reset_index(drop=True),
                   figsize=(12, 7), cbar_kws=dict(label="gate value z (0 = feature ignored)"),
                   dendrogram_ratio=(0.05, 0.15), xticklabels=True, yticklabels=False)
g.ax_heatmap.set(xlabel="feature (columns clustered, average linkage)", ylabel="test cells, sorted by Cre class")
plt.setp(g.ax_heatmap.get_xticklabels(), fontsize=7)
for name, color in palette.items():
    g.ax_col_dendrogram.bar(0, 0, color=color, label=name, linewidth=0)
g.ax_col_dendrogram.legend(ncol=5, loc="center", fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.2))
pages.figure("ephys_gates", g.fig)

# %% [markdown]
# ```{glue:figure} ephys_gates
# :name: fig-ephys-gates
#
# The LSPIN gate matrix on the test cells of the paper's split (the paper's Figure 9). Each row is a test cell (rows
# grouped by Cre class, colour bar on the left), each column a feature; yellow means the gate is open. Features whose
# gates open together are clustered.
# ```
#
# Cells of the same class share gate patterns: the network selects features per cell, as LSPIN is designed to do.

# %%
per_class = G.groupby(classes.to_numpy()).mean().reindex(CRE_CLASSES)
top = per_class.mean().sort_values(ascending=False).index[:12]
ax = per_class[top].T.plot.bar(figsize=(11, 3.5), color=[palette[c] for c in CRE_CLASSES], width=0.8)
ax.set(ylabel="mean gate value", xlabel="feature (the 12 most open on average)",
       title=f"Mean gate per Cre class (LSPIN test accuracy on this split {100 * acc:.1f}%)")
plt.setp(ax.get_xticklabels(), rotation=35, ha="right", fontsize=8)
plt.tight_layout()
pages.figure("ephys_gates_per_class")

# %% [markdown]
# ```{glue:figure} ephys_gates_per_class
# :name: fig-ephys-gates-per-class
#
# Mean gate value per Cre class for the 12 features whose gates are most open on average.
# ```

# %% [markdown]
# ## Shapley values of the E/I domain-adversarial network

# %%
ei = subsample(ei_data(), cfg["max_cells"], seed=seed)
[split_ei] = paper_split_ei(ei.y, ei.domain, seed=seed)
dann, _ = fit_on_split(DANNClassifier(**net), ei.X, ei.y, [split_ei], seed=seed, fit_params={"domain": ei.domain})
sv, Z = explain_dann(dann, ei.X, split_ei, n_background=cfg["n_background"], n_shap=cfg["n_shap"], seed=seed)
shap.plots.beeswarm(sv, max_display=15, show=False)
plt.gcf().set_size_inches(8, 6)
plt.xlabel("SHAP value (change in P(excitatory))")
plt.tight_layout()
pages.figure("ephys_shap")

# %% [markdown]
# ```{glue:figure} ephys_shap
# :name: fig-ephys-shap
#
# Shapley values of the E/I DANN on held-out cells of the paper's split, the 15 features with the largest mean |SHAP|.
# ```
#
# Each dot is a held-out cell (mouse and human); its colour is the feature's value (z-scored after a Yeo-Johnson
# transform), its position how much that feature moved the DANN's probability of "excitatory". Spike-shape
# features (width, upstroke/downstroke ratio) are the classic markers of fast-spiking inhibitory cells
# {cite}`gouwens2019`; the table below says which features this model leans on most.

# %%
mean_abs = pd.Series(np.abs(sv.values).mean(0), index=sv.feature_names).sort_values(ascending=False)
display(mean_abs.head(10).rename("mean |SHAP|").to_frame().round(4))
pages.markdown("shap_top3", ", ".join(f"`{f}`" for f in mean_abs.index[:3]))

# %% [markdown]
# ## t-SNE: raw features against the DANN's learned features
#
# ```{glue:figure} ephys_tsne
# :name: fig-ephys-tsne
#
# t-SNE of the held-out cells of the paper's split in the raw 41 features (left) and in the DANN's learned features
# (right), coloured by class; circles are mouse cells, triangles human cells.
# ```

# %%
te = split_ei.test
learned = dann.features(ei.X[te])
species, ei_names = ei.species[te], ei.names[te]
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
pal = {"excitatory": "tab:red", "inhibitory": "tab:blue"}
plot_embedding(tsne(Z[te], seed=seed), ei_names, markers=species, ax=axes[0], palette=pal,
               title="raw 41 features (test cells)")
plot_embedding(tsne(learned, seed=seed), ei_names, markers=species, ax=axes[1], palette=pal,
               title=f"DANN features ({learned.shape[1]}-d, test cells)")
fig.tight_layout()
pages.figure("ephys_tsne", fig)

# %% [markdown]
# How mixed are the species? For each test cell, the share of its
# 10 nearest neighbours (in the 41 features, or in the 32 learned ones) that belong to the other species and the
# same class: higher means the representation mixes species within a class.

# %%
mix_raw = cross_species_share(Z[te], species, ei_names)
mix_learned = cross_species_share(learned, species, ei_names)
pages.markdown("mix_sentence", f"{100 * mix_learned:.1f}% of a human test cell's 10 nearest neighbours are "
                f"same-class mouse cells, against {100 * mix_raw:.1f}% in the raw features.")

# %% [markdown]
# {glue:md}`mix_sentence`

# %%
metrics = {key("gates", "lspin", "accuracy", split="paper"): acc,
           key("gates", "lspin", "mean_open_fraction", split="paper"): float((G.to_numpy() > 0).mean()),
           key("tsne", "raw_features", "cross_species_neighbours", split="paper", group="human"): mix_raw,
           key("tsne", "dann", "cross_species_neighbours", split="paper", group="human"): mix_learned,
           **{key("shap", "dann", f"mean_abs.{f}", split="paper"): float(v) for f, v in mean_abs.head(10).items()}}
path = write_results("ephys", "04_interpretation", metrics,
                     parameters=dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads,
                                     **{k: cfg[k] for k in ("interpretation_epochs", "lambda1", "n_ensemble",
                                                            "n_shap", "n_background", "max_steps", "max_cells")}),
                     data=datasets.checksums(*OPHIR_KEYS.values()))
print(f"results written to {path}")
