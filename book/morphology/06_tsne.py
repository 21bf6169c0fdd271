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
tree_epochs = None     # the models' settings (None: the profile's default; the same as the fusion page)
lstm_epochs = None
cnn_epochs = None
image_size = None
max_len = None
fusion_head = None
threads = None
perplexity = 30.0

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.model_selection import cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from neuro_lib import datasets, evaluation, results
from neuro_lib.models.fusion import cross_validate_all, out_of_fold
from neuro_lib.morphology import chapter
from neuro_lib.morphology import data as mdata
from neuro_lib.morphology.features import signed_log

cfg = chapter.settings(profile, tree_epochs=tree_epochs, lstm_epochs=lstm_epochs, cnn_epochs=cnn_epochs,
                       image_size=image_size, max_len=max_len, fusion_head=fusion_head, threads=threads)
torch.set_num_threads(cfg["threads"])
dev = "cpu" if device == "auto" and profile != "gpu" else device
warnings.filterwarnings("ignore", category=UserWarning)

# %% [markdown]
# ## Features
# The same cells, folds and trained models as the fusion page (reused from the cache when that page ran with the
# same settings, recomputed otherwise).

# %%
inp = mdata.task_inputs("rat_s1_2class", image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed)
df, y, folds, X19 = inp.df, inp.y, inp.folds, inp.X19
cvs = cross_validate_all(X19.to_numpy(), inp.images, inp.trees, y, folds, len(inp.classes), seed=seed, device=dev,
                         cache_key=inp.cache_key, **chapter.model_kwargs(cfg))
# the fusion's input: each cell's 512-d CNN and 128-d Tree-LSTM features from the fold that tested it
fused = np.concatenate([out_of_fold(cvs[m].features, folds) for m in ("cnn", "tree_lstm")], axis=1)  # (n, 640)
hand = signed_log(SimpleImputer(strategy="median").fit_transform(X19.to_numpy()))   # (n, 19), as the SVM sees them
display(Markdown(f"{len(df)} cells; fused features {fused.shape[1]}-d, hand features {hand.shape[1]}-d."))

# %% [markdown]
# ## Two maps
# Left: t-SNE of the 640-d fused features; right: of the 19 hand features (both z-scored first, perplexity
# `perplexity`, PCA initialisation, seeded). Colour: the cell's class; marker: its source archive.

# %%
emb = {"fused 640-d": evaluation.tsne(fused, seed=seed, perplexity=perplexity),
       "hand 19-d": evaluation.tsne(hand, seed=seed, perplexity=perplexity)}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (name, e) in zip(axes, emb.items()):
    evaluation.plot_embedding(e, df["label"].to_numpy(), markers=df["archive"].str.replace(".tar.xz", "").to_numpy(),
                              ax=ax, title=f"t-SNE of the {name} features")
fig.tight_layout()

# %% [markdown]
# ## How well the classes separate
# The 5-nearest-neighbour accuracy in each 2-D map (5-fold cross-validated) and the silhouette of the classes in
# each (z-scored) feature space: higher is cleaner.

# %%
spaces = {"fused640": (fused, emb["fused 640-d"]), "hand19": (hand, emb["hand 19-d"])}
sep = {}
for name, (X, e) in spaces.items():
    k = min(5, max(1, len(y) // 5 - 1))
    pred = cross_val_predict(KNeighborsClassifier(k), e, y, cv=5)
    sep[name] = {"tsne_knn_accuracy": float((pred == y).mean()),
                 "silhouette": float(silhouette_score(StandardScaler().fit_transform(X), y)),
                 "tsne_silhouette": float(silhouette_score(e, y))}
sep_table = pd.DataFrame(sep).T
sep_table

# %%
better = sep["fused640"]["tsne_knn_accuracy"] >= sep["hand19"]["tsne_knn_accuracy"]
display(Markdown(
    f"In the map of the fused features a cell's 5 nearest neighbours name its class correctly for "
    f"{sep['fused640']['tsne_knn_accuracy']:.1%} of cells, against {sep['hand19']['tsne_knn_accuracy']:.1%} in the "
    f"map of the hand features (silhouette in feature space {sep['fused640']['silhouette']:.2f} against "
    f"{sep['hand19']['silhouette']:.2f}). The learned features "
    + ("separate the two classes more cleanly, as in the paper's Figures 4f-g and 5b-c."
       if better else "do **not** separate the classes more cleanly here than the hand features do.")))

# %%
metrics = {f"rat_s1_2class/{name}/{k}": v for name, d in sep.items() for k, v in d.items()}
results.write_results("morphology", "06_tsne", metrics,
                      parameters=dict(profile=profile, seed=seed, perplexity=perplexity, n_cells=len(df),
                                      **chapter.model_kwargs(cfg)),
                      data=datasets.checksums(*mdata.data_keys("rat_s1_2class")))
