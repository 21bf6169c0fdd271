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
# # A ResNet18 on the three projections
#
# **What this page shows.** How well a ResNet18 that sees a neuron only as three 2-D projections tells principal
# cells from interneurons (task (a), rat S1), what it sees during training, and how its training went. In this
# build:
#
# ```{glue:md} morph_cnn_summary
# :format: myst
# ```
#
# The paper's image branch {cite}`zhang2021neuron` renders each neuron as three 2-D projections (XY, XZ, YZ)
# stacked as the three channels of one image and classifies it with a ResNet18 {cite}`he2016deep`, trained with
# rotation, zoom and translation augmentation, learning rate 1e-5 for the convolutional layers and 1e-4 for the last
# layer (Table 2). Their network started from weights pretrained on an unlabelled image set; ImageNet or CASIA
# weights are not available here, so ours starts from a random initialisation (optionally pretrained as an
# autoencoder on the projections of each fold's training cells, labels unused: the GPU profile does this).
# Departures from the paper in the CPU profile, shared with the sequence and fusion pages
# (`neuro_lib.morphology.chapter`): a randomly initialised network needs larger learning rates than fine-tuning, so
# both groups use 1e-3 (at Table 2's rates it does not leave its initialisation in a CPU budget of epochs); images
# are 48 pixels instead of 224; and the rotation augmentation stays within a few tens of degrees, because the rat
# S1 reconstructions are aligned with the pia up and the apical dendrite pointing up is information a full
# rotation throws away. Task (a), 5-fold cross-validation by cell, early stopping on each fold's validation cells;
# augmentation only of training cells. The trained networks are cached for the fusion page.
#
# {glue:md}`morph_cnn_setup`

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
epochs = None  # None: the profile default (neuro_lib.morphology.chapter)
image_size = None  # pixels (224 in the paper)
lr_conv = None  # learning rate of the convolutional layers (paper: 1e-5)
lr_head = None  # learning rate of the last layer (paper: 1e-4)
pretrain_epochs = None  # autoencoder pretraining epochs on unlabelled training cells, 0 switches it off
threads = None  # torch CPU threads
n_per_class = None  # cells per class (None: the profile default, all cells in cpu and gpu)
max_steps = None  # cap on each network fit's optimisation steps (None: none; the gpu_profile test uses 2)
n_splits = 5  # folds of the cross-validation by cell (the chapter's 5; the gpu_profile tests use 3)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from neuro_lib import datasets, evaluation, pages, profiles, results
from neuro_lib.morphology import chapter, data, experiment
from neuro_lib.morphology.plots import plot_training_curves
from neuro_lib.morphology.projections import augment_images, plot_projections

cfg = chapter.settings(profile, cnn_epochs=epochs, image_size=image_size, lr_conv=lr_conv, lr_head=lr_head,
                       pretrain_epochs=pretrain_epochs, threads=threads, n_per_class=n_per_class,
                       max_steps=max_steps)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
paper = results.paper_numbers("morphology")
warnings.filterwarnings("ignore", message="cells")

# %%
inp = data.task_inputs("rat_s1_2class", image_size=cfg["image_size"], n_per_class=cfg["n_per_class"], seed=seed,
                       n_splits=n_splits)
df, images, y, classes = inp.df, inp.images, inp.y, inp.classes
pages.markdown("morph_cnn_setup", f"In this build: {len(df)} cells ("
               + ", ".join(f"{c}: {n}" for c, n in df["label"].value_counts().items())
               + f"), images {cfg['image_size']} x {cfg['image_size']} px, {len(inp.splits)}-fold CV, at most "
               f"{cfg['cnn_epochs']} epochs (patience {cfg['cnn_patience']}), learning rates {cfg['lr_conv']:g} "
               f"(convolutions) and {cfg['lr_head']:g} (last layer), rotations within ±{cfg['cnn_degrees']:g} degrees.")

# %% [markdown]
# What the network sees during training ({numref}`fig-morph-cnn-augment`): all three channels are transformed
# together.
#
# ```{glue:figure} morph_cnn_augment
# :name: fig-morph-cnn-augment
#
# One rat S1 cell as the network's input image (top row: its XY, XZ and YZ projections, the three channels) and four
# random augmentations of it (rotation within the profile's range, zoom 0.8-1.2, shift up to 10% of the side).
# ```

# %%
x0 = torch.as_tensor(images[:1]).repeat(4, 1, 1, 1)
aug = augment_images(x0, degrees=cfg["cnn_degrees"], generator=torch.Generator().manual_seed(seed)).numpy()
fig, axes = plt.subplots(5, 3, figsize=(5.5, 9))
plot_projections(images[0], axes[0], title="original")
for i in range(4):
    plot_projections(aug[i], axes[i + 1], title=f"augmented {i + 1}")
fig.tight_layout()
pages.figure("morph_cnn_augment", fig)

# %% [markdown]
# Training on every fold: the chapter's `ProjectionCNN` estimator (a scikit-learn classifier around the ResNet18)
# through the book's one cross-validation driver, split `j` seeded with `seed + j`. The fits are cached: the fusion
# and t-SNE pages reuse these networks. {glue:md}`morph_cnn_pretrain`

# %%
cnn = experiment.chapter_models(cfg, device=rt.device, names=["cnn"])
cv = evaluation.cross_validate(cnn, inp.views, y, inp.splits, seed=seed, keep=experiment.keep_history,
                               progress=False)["cnn"]
histories = cv.extras["history"]
fold_acc = cv.fold_values("accuracy")
ae = cv.extras["pretrain_history"][0].train_loss if cfg["pretrain_epochs"] else None
pages.markdown("morph_cnn_pretrain", "No autoencoder pretraining in this profile." if ae is None else
               f"Autoencoder reconstruction loss (fold 1): {ae[0]:.4f} (epoch 1) to {ae[-1]:.4f} (epoch {len(ae)}).")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
plot_training_curves(histories, axes[0])
evaluation.plot_confusion_matrix(*cv.pooled(), classes, ax=axes[1], title="ResNet18 on projections, out-of-fold")
fig.tight_layout()
pages.figure("morph_cnn_training", fig)

# %% [markdown]
# ```{glue:figure} morph_cnn_training
# :name: fig-morph-cnn-training
#
# Left: training and validation loss of the ResNet18 on every fold of task (a), by epoch. Right: its out-of-fold
# confusion matrix, pooled over the folds; rows (true class) normalised, counts in brackets.
# ```
#
# Accuracy is the mean over folds; the AUC is pooled over every cell's out-of-fold probability. The table gives
# each fold's accuracy and the epoch whose weights were kept (lowest validation loss,
# {numref}`fig-morph-cnn-training`).
#
# ```{glue:md} morph_cnn_result
# :format: myst
# ```

# %%
acc, sd = cv.summary()["accuracy"], cv.summary()["accuracy_sd"]
auc = float(roc_auc_score(y == cv.classes[1], cv.oof_proba()[:, 1])) if len(classes) == 2 else float("nan")
said = f"ResNet18 accuracy {acc:.3f} ± {sd:.3f} over {len(fold_acc)} folds, AUC {auc:.3f}, on {len(df)} cells"
pages.markdown("morph_cnn_result", f"{said}. The paper's ResNet18 (Table 3) was trained on its 12-class, "
               "35,000-cell NeuroMorpho set with pretrained weights and 224-pixel images, and scored below its fusion "
               f"model's {paper['rat_s1_2class/fusion/accuracy']:.4f}.")
pages.markdown("morph_cnn_summary", f"* task (a), principal cell against interneuron: {said} "
               f"({cfg['image_size']}-pixel projections, random initialisation);\n"
               f"* the paper's fusion model, for scale: {paper['rat_s1_2class/fusion/accuracy']:.4f} on its own "
               "12-class set of ~35,000 cells (the paper reports its ResNet18 only on that set).")
pd.DataFrame({"fold": np.arange(1, len(fold_acc) + 1), "accuracy": fold_acc,
              "best epoch": [h.best_epoch + 1 for h in histories]})

# %%
metrics = {results.key("rat_s1_2class", "cnn", m): v for m, v in (("accuracy", acc), ("accuracy_sd", sd),
                                                                   ("auc", auc))}
results.write_results("morphology", "03_cnn", metrics,
                      parameters=dict(profile=profile, seed=seed, **{k: cfg[k] for k in (
                          "cnn_epochs", "cnn_patience", "image_size", "lr_conv", "lr_head", "cnn_degrees",
                          "cnn_batch_size", "pretrain_epochs", "max_steps")}, threads=rt.threads,
                          n_splits=len(inp.splits), n_cells=len(df)),
                      data=datasets.checksums(*data.data_keys("rat_s1_2class")))
