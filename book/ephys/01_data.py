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
# # The Allen Cell Types electrophysiology data
#
# **What this page shows.** The cells the chapter classifies and the features it reads: {glue:md}`ephys_counts`
# Their features differ between species ({numref}`fig-ephys-species`), which is what domain adaptation addresses on
# the next page.
#
# This chapter reproduces {cite}`ophir2023`, which classifies neurons from their intracellular electrophysiology:
# excitatory against inhibitory across species (mouse to human, with domain adaptation) and five mouse Cre classes
# (with a locally sparse network). This page loads the data and shows what is in it.
#
# **Data.** Two sources, both from the Allen Cell Types Database {cite}`allen2015celltypes`:
#
# * the paper authors' exact model inputs: 41 features per cell, 1,424 mouse and 299 human cells. 27 features are
#   copied from the Allen feature table; 14 are per-spike means from one noise sweep that exist only in their files;
# * the full ACTB tables (2,333 cells, 1,920 mouse and 413 human), joined on specimen id, used to check the
#   authors' labels and to show what their filters removed.
#
# Every file is fetched through `neuro_lib.datasets.fetch`, which checks its sha256.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from neuro_lib import datasets, pages, profiles
from neuro_lib.ephys import CRE_CLASSES, OPHIR_KEYS, chapter, load_actb, load_ophir
from neuro_lib.ephys.experiments import data_metrics
from neuro_lib.results import write_results

cfg = chapter.settings(profile)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
mouse, human = load_ophir("mouse"), load_ophir("human")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    actb = load_actb()

# %% [markdown]
# ## Cells per species and class (the paper's Figure 5)
#
# ```{glue:figure} ephys_counts_figure
# :name: fig-ephys-counts
#
# Mouse cells per Cre class (left; the paper's grouping of Cre lines) and excitatory (spiny) against inhibitory
# (aspiny) cells per species (right). The bars reproduce the paper's counts.
# ```

# %%
counts_cre = mouse.meta["cre_class"].value_counts().reindex(CRE_CLASSES)
counts_ei = pd.DataFrame({
    "mouse": mouse.meta["ei"].value_counts(),
    "human": human.meta["ei"].value_counts(),
}).reindex(["excitatory", "inhibitory"])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw=dict(width_ratios=[1.6, 1]))
counts_cre.plot.bar(ax=axes[0], color=sns.color_palette("tab10", 5))
axes[0].set(title="Mouse cells per Cre class", xlabel="Cre class (the paper's grouping of Cre lines)",
            ylabel="cells")
for i, v in enumerate(counts_cre):
    axes[0].text(i, v, str(v), ha="center", va="bottom")
counts_ei.T.plot.bar(ax=axes[1], color=["tab:red", "tab:blue"])
axes[1].set(title="Excitatory (spiny) / inhibitory (aspiny)", xlabel="species", ylabel="cells")
plt.setp(axes[0].get_xticklabels(), rotation=20)
plt.setp(axes[1].get_xticklabels(), rotation=0)
fig.tight_layout()
pages.figure("ephys_counts_figure", fig)

# %%
pages.markdown("ephys_counts", (
    f"mouse: **{len(mouse)}** cells ({', '.join(f'{k} {v}' for k, v in counts_cre.items())}); "
    f"human: **{len(human)}** cells ({counts_ei.loc['excitatory', 'human']} spiny, "
    f"{counts_ei.loc['inhibitory', 'human']} aspiny)."
))

# %% [markdown]
# Five Cre classes in mouse, and far fewer human cells, mostly spiny. The class imbalance (human inhibitory cells are
# 23% of the human set) is why the chapter reports F1 and recall beside accuracy.

# %% [markdown]
# ## What the authors' filters removed
#
# The full ACTB tables hold more cells than the paper used. Cross-tabulating species and dendrite type in the full
# table against the authors' files shows what their filters (a noise sweep with more than 10 spikes, a short-square
# sweep with exactly one spike, Cre line consistent with dendrite type, no sparsely spiny cells) removed.

# %%
full = actb.meta.assign(in_paper=actb.meta.index.isin(np.r_[mouse.features.index, human.features.index]))
table = pd.crosstab([full["species"], full["dendrite_type"]], full["in_paper"].map({True: "used", False: "not used"}))
display(table)
for w in caught:
    print("loader warning:", w.message)

# %% [markdown]
# ## Missing values
#
# Missing values are not dropped: the models impute them (median of the training cells of each fold) inside their
# pipelines. Here is how many there are.

# %%
missing = pd.DataFrame({"mouse": pd.Series(mouse.info["missing"]), "human": pd.Series(human.info["missing"])})
missing = missing.fillna(0).astype(int)
missing.loc["cells with any missing value"] = [int(mouse.features.isna().any(axis=1).sum()),
                                              int(human.features.isna().any(axis=1).sum())]
display(missing)

# %% [markdown]
# ## Feature distributions by class
#
# A few of the 41 features, per Cre class (mouse) and per E/I class and species. Spike width and the
# upstroke/downstroke ratio separate fast-spiking Pvalb cells from the rest, as in {cite}`gouwens2019`
# ({numref}`fig-ephys-cre-features`).
#
# ```{glue:figure} ephys_cre_features
# :name: fig-ephys-cre-features
#
# Six of the 41 features by Cre class, mouse cells (boxes: quartiles; whiskers 1.5 IQR).
# ```
#
# ```{glue:figure} ephys_species_features
# :name: fig-ephys-species
#
# Excitatory (red) and inhibitory (blue) cells in both species: the same class has different feature distributions
# in mouse and human (e.g. human spiny cells have a lower input resistance).
# ```

# %%
show = ["width", "upstroke_downstroke_ratio", "f_i_curve_slope", "input_resistance_mohm", "tau", "sag"]
units = {"width": "s", "upstroke_downstroke_ratio": "ratio", "f_i_curve_slope": "Hz/pA",
         "input_resistance_mohm": "MOhm", "tau": "ms", "sag": "ratio"}
df = mouse.features[show].join(mouse.meta["cre_class"])
fig, axes = plt.subplots(2, 3, figsize=(12, 6))
for ax, feat in zip(axes.flat, show):
    sns.boxplot(data=df, x="cre_class", y=feat, order=CRE_CLASSES, ax=ax, fliersize=1, hue="cre_class",
                palette="tab10", legend=False)
    ax.set(xlabel="", ylabel=f"{feat} ({units[feat]})")
    ax.tick_params(axis="x", rotation=30)
fig.suptitle("Mouse: six of the 41 features by Cre class")
fig.tight_layout()
pages.figure("ephys_cre_features", fig)

# %%
both = pd.concat([mouse.features[show].join(mouse.meta[["ei", "species"]]),
                  human.features[show].join(human.meta[["ei", "species"]])])
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for ax, feat in zip(axes, ["width", "upstroke_downstroke_ratio", "input_resistance_mohm"]):
    sns.violinplot(data=both, x="species", y=feat, hue="ei", split=True, ax=ax, inner="quart",
                   palette={"excitatory": "tab:red", "inhibitory": "tab:blue"}, cut=0)
    ax.set(ylabel=f"{feat} ({units[feat]})")
fig.suptitle("Excitatory and inhibitory cells in both species: the features shift between species")
fig.tight_layout()
pages.figure("ephys_species_features", fig)

# %%
path = write_results("ephys", "01_data", data_metrics(mouse, human, actb),
                     parameters=dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads),
                     data=datasets.checksums(*OPHIR_KEYS.values(), "allen_cell_types/ephys_features.csv",
                                             "allen_cell_types/cell_types_specimen_details.csv"))
print(f"results written to {path}")
