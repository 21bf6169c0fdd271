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
device = "cpu"
epochs = None
lambda1 = 0.01

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import shap
import torch
from IPython.display import Markdown, display

from neuro_lib import datasets, profiles
from neuro_lib.ephys import CRE_CLASSES, FEATURES_41, OPHIR_KEYS, load_ophir
from neuro_lib.ephys.pipeline import (DANNParams, LSPINParams, ensemble_proba, fit_dann, fit_lspin, gate_matrix,
                                      paper_split_cre5, paper_split_ei, shap_explain)
from neuro_lib.evaluation import plot_embedding, tsne
from neuro_lib.results import write_results
from neuro_lib.training import predict

P = profiles.select(profile, smoke=dict(epochs=2, n_ensemble=1, n_shap=20, n_background=20),
                    cpu=dict(epochs=300, n_ensemble=3, n_shap=200, n_background=100),
                    gpu=dict(epochs=500, n_ensemble=5, n_shap=345, n_background=200))
epochs = epochs or P["epochs"]
torch.set_num_threads(1)  # small MLPs: one thread is fastest
mouse, human = load_ophir("mouse"), load_ophir("human")

# %% [markdown]
# ## The LSPIN gate matrix

# %%
Xm = mouse.features.to_numpy()
y5 = np.array([CRE_CLASSES.index(c) for c in mouse.meta["cre_class"]])
[(tr, te)] = paper_split_cre5(y5, ~np.isnan(Xm).any(axis=1), seed=seed)
models, prep = fit_lspin(Xm[tr], y5[tr], LSPINParams(lambda1=lambda1, epochs=epochs), seed=seed,
                         n_ensemble=P["n_ensemble"], device=device)
acc = float((ensemble_proba(models, prep.transform(Xm[te])).argmax(1) == y5[te]).mean())
G = pd.DataFrame(gate_matrix(models, prep, Xm[te]), columns=FEATURES_41)
classes = pd.Series([CRE_CLASSES[i] for i in y5[te]], name="Cre class")
palette = dict(zip(CRE_CLASSES, sns.color_palette("tab10", 5)))
order = np.argsort(y5[te], kind="stable")
g = sns.clustermap(G.iloc[order].reset_index(drop=True), row_cluster=False, col_cluster=True, cmap="viridis",
                   vmin=0, vmax=1, row_colors=classes.iloc[order].map(palette).reset_index(drop=True),
                   figsize=(12, 7), cbar_kws=dict(label="gate value z (0 = feature ignored)"),
                   dendrogram_ratio=(0.05, 0.15), xticklabels=True, yticklabels=False)
g.ax_heatmap.set(xlabel="feature (columns clustered, average linkage)", ylabel="test cells, sorted by Cre class")
plt.setp(g.ax_heatmap.get_xticklabels(), fontsize=7)
for name, color in palette.items():
    g.ax_col_dendrogram.bar(0, 0, color=color, label=name, linewidth=0)
g.ax_col_dendrogram.legend(ncol=5, loc="center", fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.2))

# %% [markdown]
# Each row is a test cell (rows grouped by Cre class, colour bar on the left), each column a feature; yellow means
# the gate is open. Features whose gates open together are clustered. Cells of the same class share gate patterns:
# the network selects features per cell, as LSPIN is designed to do.

# %%
per_class = G.groupby(classes.to_numpy()).mean().reindex(CRE_CLASSES)
top = per_class.mean().sort_values(ascending=False).index[:12]
ax = per_class[top].T.plot.bar(figsize=(11, 3.5), color=[palette[c] for c in CRE_CLASSES], width=0.8)
ax.set(ylabel="mean gate value", xlabel="feature (the 12 most open on average)",
       title=f"Mean gate per Cre class (LSPIN test accuracy on this split {100 * acc:.1f}%)")
plt.setp(ax.get_xticklabels(), rotation=35, ha="right", fontsize=8)
plt.tight_layout()

# %% [markdown]
# ## Shapley values of the E/I domain-adversarial network

# %%
X = np.vstack([Xm, human.features.to_numpy()])
y = np.r_[(mouse.meta["ei"] == "excitatory"), (human.meta["ei"] == "excitatory")].astype(int)
domain = np.r_[np.zeros(len(mouse), int), np.ones(len(human), int)]
[(tr2, te2)] = paper_split_ei(y, domain, seed=seed)
dann, dprep = fit_dann(X[tr2], y[tr2], domain[tr2], np.ones(len(tr2)), DANNParams(epochs=epochs), seed=seed,
                       device=device)


def p_excitatory(Z):
    return torch.softmax(torch.as_tensor(predict(dann, np.asarray(Z, dtype=np.float32))), 1)[:, 1].numpy()


rng = np.random.default_rng(seed)
Zall = dprep.transform(X)
background = Zall[rng.choice(tr2, P["n_background"], replace=False)]
explain_idx = te2[rng.permutation(len(te2))[: P["n_shap"]]]
sv = shap_explain(p_excitatory, background, Zall[explain_idx], FEATURES_41, seed=seed)
shap.plots.beeswarm(sv, max_display=15, show=False)
plt.gcf().set_size_inches(8, 6)
plt.xlabel("SHAP value (change in P(excitatory))")
plt.tight_layout()

# %% [markdown]
# Each dot is a held-out cell (mouse and human); its colour is the feature's value (z-scored after a Yeo-Johnson
# transform), its position how much that feature moved the DANN's probability of "excitatory". Spike-shape
# features (width, upstroke/downstroke ratio) are the classic markers of fast-spiking inhibitory cells
# {cite}`gouwens2019`; the table below says which features this model leans on most.

# %%
mean_abs = pd.Series(np.abs(sv.values).mean(0), index=FEATURES_41).sort_values(ascending=False)
display(mean_abs.head(10).rename("mean |SHAP|").to_frame().round(4))
display(Markdown(f"The three features with the largest mean |SHAP| are {', '.join(mean_abs.index[:3])}."))

# %% [markdown]
# ## t-SNE: raw features against the DANN's learned features

# %%
with torch.no_grad():
    learned = dann.features(torch.as_tensor(Zall[te2])).numpy()
species = np.where(domain[te2] == 0, "mouse", "human")
ei_names = np.where(y[te2] == 1, "excitatory", "inhibitory")
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
pal = {"excitatory": "tab:red", "inhibitory": "tab:blue"}
plot_embedding(tsne(Zall[te2], seed=seed), ei_names, markers=species, ax=axes[0], palette=pal,
               title="raw 41 features (test cells)")
plot_embedding(tsne(learned, seed=seed), ei_names, markers=species, ax=axes[1], palette=pal,
               title="DANN features (32-d, test cells)")
fig.tight_layout()

# %% [markdown]
# Circles are mouse cells, triangles human cells. How mixed are the species? For each test cell, the share of its
# 10 nearest neighbours (in the 41 features, or in the 32 learned ones) that belong to the other species and the
# same class: higher means the representation mixes species within a class.

# %%
from sklearn.neighbors import NearestNeighbors


def cross_species_share(F, k=10):
    nn_idx = NearestNeighbors(n_neighbors=k + 1).fit(F).kneighbors(F, return_distance=False)[:, 1:]
    other = (species[nn_idx] != species[:, None]) & (ei_names[nn_idx] == ei_names[:, None])
    return float(other[species == "human"].mean())


mix_raw, mix_learned = cross_species_share(Zall[te2]), cross_species_share(learned)
display(Markdown(f"Human test cells: {100 * mix_raw:.1f}% of their neighbours are same-class mouse cells in the raw "
                 f"features, {100 * mix_learned:.1f}% in the DANN's features."))

# %%
metrics = {"gates/lspin/paper_split_accuracy": acc,
           "gates/lspin/mean_open_fraction": float((G.to_numpy() > 0).mean()),
           "tsne/raw/human_cross_species_neighbours": mix_raw,
           "tsne/dann/human_cross_species_neighbours": mix_learned,
           **{f"shap/dann/{f}/mean_abs": float(v) for f, v in mean_abs.head(10).items()}}
path = write_results("ephys", "04_interpretation", metrics,
                     parameters=dict(profile=profile, seed=seed, epochs=epochs, lambda1=lambda1),
                     data=datasets.checksums(*OPHIR_KEYS.values()))
print(f"results written to {path}")
