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
# # What the networks learned: t-SNE of the fused features against the 19 hand features
#
# **What this page shows.** Whether the features the CNN and the Tree-LSTM learned separate principal cells from
# interneurons more cleanly than the hand-designed features do, in two t-SNE maps
# ({numref}`fig-morph-tsne-maps`) and in numbers. In this build:
#
# ```{glue:md} morph_tsne_summary
# :format: myst
# ```
#
# Zhang et al. (2021, Figures 4f-g and 5b-c) embed their cells with t-SNE twice: once from the 640-d feature of the
# fusion model (512-d CNN + 128-d Tree-LSTM) and once from the 19 hand-designed L-Measure features, and show that
# the learned features separate the classes more cleanly. This page does the same for task (a), principal cell
# against interneuron in rat S1. Each cell's learned feature comes from the fold whose networks did **not** train
# on it, so the picture is not a memory of the training labels. A 5-nearest-neighbour vote in each 2-D map and the
# silhouette in each feature space put a number on "separates more cleanly".

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
tree_epochs = None     # the branches' settings (None: the profile's default; the same as the fusion page)
cnn_epochs = None
image_size = None
perplexity = 30.0
n_per_class = None  # cells per class (None: the profile default, all cells in cpu and gpu)
max_steps = None  # cap on each network fit's optimisation steps (None: none; the gpu_profile test uses 2)
n_splits = 5  # folds of the cross-validation by cell (the chapter's 5; the gpu_profile tests use 3)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer

from neuro_lib import datasets, evaluation, pages, profiles, results
from neuro_lib.morphology import chapter, experiment
from neuro_lib.morphology import data as mdata
from neuro_lib.morphology.svm import signed_log

cfg = chapter.settings(profile, tree_epochs=tree_epochs, cnn_epochs=cnn_epochs, image_size=image_size,
                       threads=threads, n_per_class=n_per_class, max_steps=max_steps)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
warnings.filterwarnings("ignore", category=UserWarning)

# %% [markdown]
# ## Features
# The same cells, folds and trained branches as the fusion page (the fits are read from the cache when that page
# ran with the same settings, trained otherwise). For every split, the driver's `keep` extra computes the 512-d CNN
# and the 128-d Tree-LSTM feature of all cells with that split's networks and keeps its test cells'.
# {glue:md}`morph_tsne_features`

# %%
inp = mdata.task_inputs("rat_s1_2class", image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed,
                        n_splits=n_splits)
df, y = inp.df, inp.y
branches = experiment.chapter_models(cfg, device=rt.device, names=["cnn", "tree_lstm"])
cvs = evaluation.cross_validate(branches, inp.views, y, inp.splits, seed=seed,
                                keep=experiment.keep_features(inp.views))
fused = np.concatenate([experiment.out_of_fold(cvs[m]) for m in ("cnn", "tree_lstm")], axis=1)  # (n, 640)
hand = signed_log(SimpleImputer(strategy="median").fit_transform(inp.views["features"]))  # (n, 19), as the SVM sees
pages.markdown("morph_tsne_features", f"In this build: {len(df)} cells; fused features {fused.shape[1]}-d, hand "
               f"features {hand.shape[1]}-d.")

# %% [markdown]
# ## Two maps
# Both maps are of the same cells ({numref}`fig-morph-tsne-maps`); both feature sets are z-scored first, and t-SNE
# runs with perplexity `perplexity`, PCA initialisation, seeded, with `threads` OpenMP threads (the map depends on
# their number).
#
# ```{glue:figure} morph_tsne_maps
# :name: fig-morph-tsne-maps
#
# t-SNE maps of the task (a) cells of this build. Left: from the 640-d fused features (512-d CNN and 128-d
# Tree-LSTM, each cell's from the fold that did not train on it); right: from the 19 hand features (20 columns, as
# the SVM sees them). Colour: the cell's class; marker: its source archive. The axes of a t-SNE map have no unit.
# ```

# %%
emb = {"fused 640-d": experiment.embed(fused, seed=seed, perplexity=perplexity, threads=rt.threads),
       "hand 19-d": experiment.embed(hand, seed=seed, perplexity=perplexity, threads=rt.threads)}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (name, e) in zip(axes, emb.items()):
    evaluation.plot_embedding(e, df["label"].to_numpy(), markers=df["archive"].str.replace(".tar.xz", "").to_numpy(),
                              ax=ax, title=f"t-SNE of the {name} features")
fig.tight_layout()
pages.figure("morph_tsne_maps", fig)

# %% [markdown]
# ## How well the classes separate
# The 5-nearest-neighbour accuracy in each 2-D map (5-fold cross-validated) and the silhouette of the classes in
# each (z-scored) feature space: higher is cleaner.
#
# ```{glue:md} morph_tsne_claim
# :format: myst
# ```

# %%
sep = {"fused640": experiment.separation(fused, emb["fused 640-d"], y),
       "hand19": experiment.separation(hand, emb["hand 19-d"], y)}
sep_table = pd.DataFrame(sep).T
sep_table

# %%
better = sep["fused640"]["tsne_knn_accuracy"] >= sep["hand19"]["tsne_knn_accuracy"]
pages.markdown("morph_tsne_claim",
    f"In the map of the fused features a cell's 5 nearest neighbours name its class correctly for "
    f"{sep['fused640']['tsne_knn_accuracy']:.1%} of cells, against {sep['hand19']['tsne_knn_accuracy']:.1%} in the "
    f"map of the hand features (silhouette in feature space {sep['fused640']['silhouette']:.2f} against "
    f"{sep['hand19']['silhouette']:.2f}). The learned features "
    + ("separate the two classes more cleanly, as in the paper's Figures 4f-g and 5b-c."
       if better else "do **not** separate the classes more cleanly here than the hand features do."))
pages.markdown("morph_tsne_summary", "\n".join(
    f"* {name}: 5-nearest-neighbour accuracy in the map {sep[k]['tsne_knn_accuracy']:.1%}, silhouette in feature "
    f"space {sep[k]['silhouette']:.2f};" for k, name in (("fused640", "fused 640-d features"),
                                                       ("hand19", f"{hand.shape[1]} hand features")))
    + f"\n* on {len(df)} cells, the learned features " + ("separate the classes more cleanly (as in the paper)."
                                                          if better else "do **not** separate them more cleanly."))

# %%
metrics = {results.key("rat_s1_2class", name, k): v for name, d in sep.items() for k, v in d.items()}
results.write_results("morphology", "06_tsne", metrics,
                      parameters=dict(profile=profile, seed=seed, perplexity=perplexity, n_cells=len(df),
                                      threads=rt.threads, **{k: v for k, v in cfg.items()
                                                             if k in chapter.MODEL_SETTINGS}),
                      data=datasets.checksums(*mdata.data_keys("rat_s1_2class")))
