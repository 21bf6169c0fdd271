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
# To check that their models can learn morphology at all, Zhang et al. {cite}`zhang2021neuron` generated 500
# virtual basket and 500 virtual pyramidal cells with the Trees toolbox and reported 1.00 accuracy for every model.
# We grow ours with the toolbox's principle, the minimum-spanning-tree rule of Cuntz et al. {cite}`cuntz2010one`:
# carrier points are scattered where a neurite should go and joined greedily, each new point to the tree node that
# minimises wiring plus a balancing factor times the path length to the soma. Pyramidal cells get basal dendrites, an
# apical dendrite with a tuft and a descending axon; basket cells short multipolar dendrites and a dense, wide axon.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
n_per_class = None  # cells per class (None: the profile default; the paper used 500)
epochs = None  # most epochs of the CNN, the LSTM and the Tree-LSTM (None: the profile's, per model)
image_size = None  # CNN image side in pixels
threads = None  # torch CPU threads (None: the chapter's default for the profile)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from neuro_lib import evaluation, profiles, results
from neuro_lib.models.fusion import cross_validate_all
from neuro_lib.morphology import chapter, data
from neuro_lib.morphology.features import feature_table, plot_distributions
from neuro_lib.morphology.projections import example_grid, project_many
from neuro_lib.morphology.synthetic import virtual_dataset_cached
from neuro_lib.morphology.tree import reduce_tree

vcfg = profiles.select(profile, smoke=dict(n=12, size=32, epochs=dict(cnn=1, tree=1, lstm=1)),
                       cpu=dict(n=500, size=32, epochs=dict(cnn=3, tree=3, lstm=6)),
                       gpu=dict(n=500, size=224, epochs=dict(cnn=20, tree=20, lstm=20)))
n = n_per_class or vcfg["n"]
ep = {k: epochs or v for k, v in vcfg["epochs"].items()}  # the LSTM learns slowest: more epochs
size = image_size or vcfg["size"]
# the real-cell pages' settings (neuro_lib.morphology.chapter), with this page's epochs and image size
cfg = chapter.settings(profile, tree_epochs=ep["tree"], lstm_epochs=ep["lstm"], cnn_epochs=ep["cnn"],
                       image_size=size, threads=threads)
torch.set_num_threads(cfg["threads"])
dev = "cpu" if device == "auto" and profile != "gpu" else device

# %%
cells, labels = virtual_dataset_cached(n, seed)
df = pd.DataFrame({"cell_id": [f"virtual/{i}" for i in range(len(cells))], "label": labels})
feats = feature_table(cells)
images = project_many(cells, size)
display(Markdown(f"{len(cells)} virtual cells ({n} per class), {int(np.median([len(c) for c in cells]))} samples "
                 "per cell (median)."))
fig = example_grid(project_many(cells[:8], 96), labels[:8], per_class=2, seed=seed)
plt.show()

# %% [markdown]
# *Figure: two virtual cells of each class in the three projections.* The classes differ in the features the paper's
# Figure 5 shows: pyramidal cells are taller (apical dendrite) with fewer, longer branches; basket cells have far more
# axonal length around the soma.

# %%
fig = plot_distributions(feats, labels, ["TotalLength", "NumberBifurcations", "OverallHeight", "MaxPathDistance",
                                         "AverageContraction"])
plt.show()

# %% [markdown]
# ## Every model of Table 3 on the same five folds
# Splits by cell: 5-fold cross-validation, each fold's training cells split again for early stopping. The SVM on the
# 20 features, the ResNet18 on the three projections, the LSTM and the Tree-LSTM on the reduced trees, and the
# fusion of the CNN and the Tree-LSTM (as on the fusion page: late fusion of their logits, and the paper's 3-layer
# head on their 640-d features), with the real-cell pages' settings (`neuro_lib.morphology.chapter`) except the
# image size and the most epochs of each network (this page's profile table; the LSTM gets the most). Trained models
# are cached.

# %%
trees = [reduce_tree(c.xyz, c.radius, c.parent, c.types) for c in cells]
classes = sorted(set(labels))
y = np.array([classes.index(v) for v in labels])
folds = data.splits(df, seed=seed).cv
cvs = cross_validate_all(feats.to_numpy(), images, trees, y, folds, len(classes), seed=seed, device=dev,
                         cache_key=dict(task="virtual", n_per_class=n, seed=seed), progress=False,
                         **chapter.model_kwargs(cfg))
names = {"svm": "SVM (20 features)", "cnn": "CNN (ResNet18)", "lstm": "LSTM", "tree_lstm": "Tree-LSTM",
         "fusion_mlp": "Multi, 3-layer head", "fusion": "Multi, late fusion"}
summary = {m: evaluation.summarise(r.fold_metrics) for m, r in cvs.items()}
table = pd.DataFrame({"accuracy": [summary[m]["accuracy"] for m in cvs],
                      "accuracy_sd": [summary[m]["accuracy_sd"] for m in cvs],
                      "AUC": [summary[m]["auc"] for m in cvs],
                      "paper accuracy (Trees toolbox set)": [1.0] * len(cvs)}, index=[names[m] for m in cvs])
table.round(3)

# %% [markdown]
# Out-of-fold confusion matrices of every model (rows normalised, counts in brackets; the paper: 1.00 for every
# model).

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 7))
for ax, (m, r) in zip(axes.flat, cvs.items()):
    evaluation.plot_confusion_matrix(y, r.proba.argmax(1), labels=list(range(len(classes))), display_labels=classes,
                                     ax=ax, title=names[m])
fig.tight_layout()
plt.show()
perfect = [names[m] for m in cvs if summary[m]["accuracy"] == 1.0]
worst = min(summary, key=lambda m: summary[m]["accuracy"])
display(Markdown(f"All {len(cvs)} models classify every virtual cell correctly, as the paper's did."
                 if len(perfect) == len(cvs) else
                 f"{len(perfect)} of the {len(cvs)} models classify every virtual cell correctly"
                 + (f" ({', '.join(perfect)})" if perfect else "")
                 + f"; the lowest 5-fold accuracy is {summary[worst]['accuracy']:.3f} ({names[worst]})."))

# %%
metrics = {f"virtual/{m}/{k}": s[k] for m, s in summary.items() for k in ("accuracy", "accuracy_sd", "auc", "auc_sd")}
results.write_results("morphology", "07_virtual", metrics,
                      parameters=dict(profile=profile, seed=seed, n_per_class=n, image_size=size,
                                      **chapter.model_kwargs(cfg)), data={})
