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
# # One cell, two modalities: the data
#
# **What this page shows.** The Allen cells that have both a reconstruction and an electrophysiology recording: how
# many of each class and reconstruction type, which feature blocks each has and how much of them is missing, a label
# the tracers wrote into the SWC files, and the recorded cells without a reconstruction that can help train the ephys
# models. In this build:
#
# ```{glue:md} multimodal_data_summary
# :format: myst
# ```
#
# Each of the book's papers reads one kind of measurement. The Allen Cell Types Database {cite}`allen2015celltypes`
# recorded *and* reconstructed the same mouse visual cortex cells, and {cite}`gouwens2019` paired their
# electrophysiological and morphological types. This chapter is ours (no paper to reproduce): on the same cells and
# the same folds, what does each modality know that the other does not?
#
# **Cells.** The {glue:text}`multimodal_n_cells` reconstructions of the morphology mirror's `mouse_allen_visp.tar.xz`
# (one SWC per cell; the `labels.csv` row's `neuron_name` is the specimen id). Every one of them has a row in the ACTB
# electrophysiology table, and {glue:text}`multimodal_n_ophir41` are in the 41-feature set of the ephys paper
# {cite}`ophir2023`, with its five Cre classes.
#
# **Tasks.** (a) `e_i`: excitatory (dendrite type spiny) against inhibitory (aspiny and sparsely spiny), all
# {glue:text}`multimodal_n_cells` cells; (b) `cre5`: the five Cre classes, the {glue:text}`multimodal_n_ophir41`
# cells of the authors' set.
#
# **Features.** Four blocks, named by a prefix: `ephys41:` the authors' 41 features (mV, pA, ms, MOhm), `actb:` the
# ACTB table's columns as the ephys chapter loads them, `morph:` the morphology chapter's 77 morphometrics per neurite
# type (um; `neuro_lib.morphology.neurites`), and `tmd:` the TMD persistence images {cite}`kanari2018topological` of
# the same SWC files (the morphology chapter's, `neuro_lib.morphology.persistence`: 768 typing-aware pixels, 256
# typing-free).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
max_steps = None  # unused here (no network is trained on this page); kept so every page takes the same parameters
max_cells = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from neuro_lib import datasets, pages, profiles, results
from neuro_lib.multimodal import chapter
from neuro_lib.multimodal import data as mm

cfg = chapter.settings(profile, max_steps=max_steps, max_cells=max_cells)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
cells = mm.cell_table()
blocks = mm.feature_blocks(cells)
pages.number("multimodal_n_cells", len(cells))
pages.number("multimodal_n_ophir41", int(cells["in_ophir41"].sum()))
print(f"{len(cells)} cells; blocks {({k: v.shape[1] for k, v in blocks.items()})}")

# %% [markdown]
# ## The joined table
#
# One row per cell: where its SWC is, its dendrite type and Cre line (from `labels.csv`), whether the tracers
# reconstructed the axon too (`full`) or only the dendrites (`dendrite-only`), and whether it is in the authors'
# 41-feature set. The dendrite type of `labels.csv` and of the ACTB table agree on {glue:md}`multimodal_agree` of
# the cells.

# %%
display(cells.drop(columns=["path"]).head(8))
pages.percent("multimodal_agree", (cells["dendrite_type"] == cells["actb_dendrite_type"]).mean())

# %% [markdown]
# ## What each cell has
#
# Every cell has its morphology and the ACTB ephys features; the authors' 41 features exist for a subset (counts in
# the table). Dendrite-only reconstructions have no axon: their axon morphometrics are missing (NaN), which the
# morphology models must live with. Most spiny cells were traced dendrites-only, most aspiny cells in full
# ({numref}`fig-multimodal-data-dendrite`): a morphology model's error on dendrite-only cells is therefore mostly an
# error on excitatory cells.
#
# ```{glue:figure} multimodal_data_dendrite
# :name: fig-multimodal-data-dendrite
#
# Number of cells of each dendrite type, by reconstruction type (orange: dendrite-only, blue: full), over all the
# cells with both modalities.
# ```

# %%
has = pd.crosstab([cells["reconstruction_type"], cells["in_ophir41"].map({True: "in 41-feature set",
                                                                          False: "ACTB only"})],
                  cells["dendrite_type"], margins=True)
display(has)
fig, ax = plt.subplots(figsize=(7, 3.2))
pd.crosstab(cells["dendrite_type"], cells["reconstruction_type"]).plot.barh(stacked=True, ax=ax,
                                                                            color=["tab:orange", "tab:blue"])
ax.set(xlabel="cells", ylabel="dendrite type", title=f"{len(cells)} cells: dendrite type by reconstruction type")
plt.tight_layout()
pages.figure("multimodal_data_dendrite", fig)

# %% [markdown]
# ## The five Cre classes of the 41-feature set
#
# Most Glutamatergic cells have dendrites only, most interneurons were traced with their axon
# ({numref}`fig-multimodal-data-cre`; counts in the table).
#
# ```{glue:figure} multimodal_data_cre
# :name: fig-multimodal-data-cre
#
# Class counts of task (b), the cells of the authors' 41-feature set, split by reconstruction type (orange:
# dendrite-only, blue: full).
# ```

# %%
cre = cells[cells["in_ophir41"]]
counts = pd.crosstab(cre["cre_class"], cre["reconstruction_type"]).reindex(
    ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"])
fig, ax = plt.subplots(figsize=(7, 3.2))
counts.plot.barh(stacked=True, ax=ax, color=["tab:orange", "tab:blue"])
ax.set(xlabel="cells", ylabel="Cre class", title=f"{len(cre)} cells of the 41-feature set")
ax.invert_yaxis()
plt.tight_layout()
pages.figure("multimodal_data_cre", fig)
display(counts.assign(total=counts.sum(axis=1)))

# %% [markdown]
# ## The feature blocks and their missing values
#
# Axon features are missing for every dendrite-only cell; the ephys blocks miss a few values per cell at most
# ({numref}`fig-multimodal-data-missing`). {glue:md}`multimodal_shared_features`
#
# ```{glue:figure} multimodal_data_missing
# :name: fig-multimodal-data-missing
#
# The fraction of missing values per feature block and reconstruction type (orange: dendrite-only, blue: full; the
# 41-feature block counted on its own cells, the others on all).
# ```

# %%
frac = pd.DataFrame({name: df.loc[cells["in_ophir41"] if name == "ephys41" else cells.index].isna()
                     .groupby(cells["reconstruction_type"]).mean().mean(axis=1) for name, df in blocks.items()})
fig, ax = plt.subplots(figsize=(6, 2.6))
frac.T.plot.barh(ax=ax, color=["tab:orange", "tab:blue"])
ax.set(xlabel="fraction of values missing", ylabel="feature block")
plt.tight_layout()
pages.figure("multimodal_data_missing", fig)
in_actb = [c for c in blocks["ephys41"].columns if c.replace("ephys41:", "actb:") in blocks["actb"].columns]
pages.markdown("multimodal_shared_features", f"{len(in_actb)} of the 41 features are ACTB columns too (same "
               f"values); the other {41 - len(in_actb)} exist only in the authors' file.")

# %% [markdown]
# ## A label the tracers wrote into the SWC files
#
# The SWC type of each sample (axon 2, basal dendrite 3, apical dendrite 4) is part of the reconstruction. The Allen
# tracers marked an apical dendrite only in spiny cells: the table shows that the mere presence of type-4 samples
# separates the E/I classes almost perfectly. A morphology model of task (a) can read that annotation; page 02 shows
# the morphology models with and without the apical/basal split.

# %%
apical = mm.apical_label_table(cells, blocks["morph"])
display(apical)

# %% [markdown]
# ## Cells with ephys only
#
# The same ephys tables hold many mouse cells that were recorded but not reconstructed. They can teach the models
# that read ephys (and the late fusion's ephys branch) without ever being test cells: every test cell of this chapter
# has both modalities. Their class counts per task:

# %%
extra = {task: mm.ephys_only_cells(task, cells.index)[0] for task in mm.TASKS}
display(pd.DataFrame({"e_i": extra["e_i"]["e_i"].value_counts(), "cre5": extra["cre5"]["cre_class"].value_counts()
                      }).fillna(0).astype(int))

# %%
m = mm.data_metrics(cells, blocks)
m.update({results.key("data", "ephys_only", "cells", group=task): len(c) for task, c in extra.items()})
m[results.key("data", "allen_visp", "cells", group="spiny_apical_labelled")] = \
    int(apical.loc["spiny"].get("apical labelled", pd.Series(dtype=int)).sum())
labelled = apical["apical labelled"].groupby(level=0).sum()
n_type = cells["dendrite_type"].value_counts()
pages.markdown("multimodal_data_summary", "\n".join([
    f"* **{len(cells)}** cells with both modalities, **{int((cells['reconstruction_type'] == 'dendrite-only').sum())}**"
    f" of them dendrite-only; **{int(cells['in_ophir41'].sum())}** with the authors' 41 features (task (b));",
    f"* an apical dendrite (SWC type 4) is marked in {int(labelled.get('spiny', 0))} of the {n_type.get('spiny', 0)} "
    f"spiny cells and in {int(labelled.drop('spiny', errors='ignore').sum())} of the others;",
    "* ephys-only cells, for training only: " + ", ".join(f"{len(c)} ({t})" for t, c in extra.items()) + "."]))
path = results.write_results("multimodal", "01_data", m, parameters=dict(profile=profile, seed=seed,
                             device=rt.device, threads=rt.threads), data=datasets.checksums(*mm.DATA_KEYS))
print(f"results written to {path}")
