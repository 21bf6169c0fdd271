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
# # Five mouse Cre classes with a locally sparse network (LSPIN)
#
# {cite}`ophir2023` classify mouse cells into five Cre classes (Glutamatergic, Pvalb, Htr3a+|Vip-, Sst, Vip) with
# LSPIN {cite}`yang2022lspin`: a gating network predicts, for each cell, which of the 41 features to look at.
# Gates are `z = clip(0.5 + mu(x) + eps, 0, 1)` with `eps ~ N(0, sigma^2)` while training and `eps = 0` at
# inference; the expected number of open gates is penalised through the Gaussian CDF (weight `lambda1`).
#
# Baselines with scikit-learn defaults: logistic regression, SVC (RBF), random forest and XGBoost, each behind
# median imputation and z-scoring fit on the training cells. Our LSPIN is an ensemble of a few LSPINs with
# different seeds and early-stopping splits (drawn from the training cells only), and we also show a plain network of
# the same shape without gates, to see what the gates cost or add.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
n_splits = 5
n_repeats = None  # None: the profile's default
epochs = None
lambda1 = 0.01
n_ensemble = None
class_weight = None  # "balanced" weights the loss by inverse class frequency

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from neuro_lib import datasets, profiles
from neuro_lib.ephys import CRE_CLASSES, OPHIR_KEYS, load_ophir
from neuro_lib.ephys.pipeline import (LSPINParams, baselines, ensemble_proba, fit_mlp, lspin_fitter, paper_split_cre5,
                                      sklearn_fitter)
from neuro_lib.evaluation import cross_validate_fitters as cross_validate, plot_confusion_matrix, repeated_stratified_kfold, summarise_scores
from neuro_lib.results import write_results
from neuro_lib.training import resolve_device

P = profiles.select(profile, smoke=dict(n_repeats=1, n_splits=2, epochs=2, n_ensemble=1,
                                        models=["lspin", "logistic_regression"]),
                    cpu=dict(n_repeats=1, n_splits=n_splits, epochs=300, n_ensemble=3, models=None),
                    gpu=dict(n_repeats=5, n_splits=n_splits, epochs=500, n_ensemble=5, models=None))
n_repeats, epochs, n_ensemble = n_repeats or P["n_repeats"], epochs or P["epochs"], n_ensemble or P["n_ensemble"]
dev = resolve_device(device)
torch.set_num_threads(1)  # small MLPs: one thread is fastest

mouse = load_ophir("mouse")
X = mouse.features.to_numpy()
y = np.array([CRE_CLASSES.index(c) for c in mouse.meta["cre_class"]])
params = LSPINParams(lambda1=lambda1, epochs=epochs, class_weight=class_weight)


def mlp_fitter(X, y, fold, **_):
    models, prep = fit_mlp(X, y, seed=seed + fold, epochs=epochs, device=dev)
    return lambda Xte: ensemble_proba(models, prep.transform(Xte)).argmax(1)


fitters = {"lspin": lspin_fitter(params, n_ensemble=n_ensemble, device=dev), "mlp_no_gates": mlp_fitter,
           **{k: sklearn_fitter(v) for k, v in baselines(seed).items()}}
if P["models"]:
    fitters = {k: fitters[k] for k in P["models"]}
print(f"{len(y)} mouse cells, classes {dict(zip(CRE_CLASSES, np.bincount(y)))}; models: {list(fitters)}")

# %% [markdown]
# ## Cross-validation (stratified 5-fold)

# %%
folds = list(repeated_stratified_kfold(y, P["n_splits"], n_repeats, seed=seed))
cv_scores, cv_preds = cross_validate(X, y, fitters, folds)
cv = summarise_scores(cv_scores).droplevel("group").sort_values("accuracy", ascending=False)
display(cv.round(3))

# %% [markdown]
# ## The paper's single split
#
# The paper's 1,105 training and 277 test cells add up to 1,382: the 42 cells with a missing feature were dropped.
# We do the same for this split (stratified, seeded); the cross-validation above keeps every cell and imputes.

# %%
split_scores, split_preds = cross_validate(X, y, fitters, paper_split_cre5(y, ~np.isnan(X).any(axis=1), seed=seed))
single = split_scores.set_index("model")[["accuracy", "macro_f1", "macro_precision", "macro_recall"]]
display(single.round(3))

# %% [markdown]
# ## Against the paper's Table 2
#
# Macro-averaged accuracy and F1 over the folds (error bars: sd). The dashed line is the paper's LSPIN accuracy,
# 91.6%, from its single split.

# %%
fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(cv)))
cv[["accuracy", "macro_f1"]].plot.barh(xerr=cv[["accuracy_sd", "macro_f1_sd"]].to_numpy().T, ax=ax, capsize=2,
                                        color=["tab:green", "tab:purple"])
ax.axvline(0.916, ls="--", color="k", lw=1, label="paper LSPIN accuracy (single split)")
ax.set(xlim=(0.6, 1.0), xlabel=f"score ({P['n_splits']}-fold CV x {n_repeats}, mean and sd)", ylabel="")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.tight_layout()

# %%
yt, yp = cv_preds["lspin"]["all"]
ax = plot_confusion_matrix(yt, yp, range(5), display_labels=CRE_CLASSES, title="LSPIN, 5 Cre classes")
plt.tight_layout()

# %% [markdown]
# The confusion matrix of the LSPIN ensemble, pooled over the folds (the paper's Figure 10).

# %%
from neuro_lib.evaluation import confusion_matrix

counts, norm = confusion_matrix(yt, yp, range(5))
off = counts.copy()
np.fill_diagonal(off, 0)
i, j = np.unravel_index(off.argmax(), off.shape)
display(Markdown(
    f"Glutamatergic recall is {100 * norm[0, 0]:.1f}%; the most frequent error is {CRE_CLASSES[i]} cells called "
    f"{CRE_CLASSES[j]} ({off[i, j]} cells, {100 * norm[i, j]:.1f}% of {CRE_CLASSES[i]}). "
    f"Errors between GABAergic classes make up {100 * off[1:, 1:].sum() / max(off.sum(), 1):.0f}% of all errors."
))

# %%
best_baseline = cv.drop(index=[m for m in ["lspin", "mlp_no_gates"] if m in cv.index])["accuracy"].idxmax()
acc = cv.loc["lspin", "accuracy"]
verdict = "reaches" if acc >= 0.916 else "does not reach"
display(Markdown(
    f"LSPIN: **{100 * acc:.1f}%** accuracy (sd {100 * cv.loc['lspin', 'accuracy_sd']:.1f}) and macro F1 "
    f"**{100 * cv.loc['lspin', 'macro_f1']:.1f}%** in cross-validation; on the paper's single split "
    f"{100 * single.loc['lspin', 'accuracy']:.1f}%. The paper reports 91.6% on its split: our cross-validated "
    f"number {verdict} it. The best baseline is {best_baseline} at {100 * cv.loc[best_baseline, 'accuracy']:.1f}%, "
    f"so LSPIN is {100 * (acc - cv.loc[best_baseline, 'accuracy']):+.1f} points from it."
))

# %% [markdown]
# **Why the gap to the paper.** The paper's 91.6% is one split of 277 test cells, where one cell is 0.36 points;
# the spread of our folds (sd above) is of the same order as the gap. No hyperparameter was chosen on test folds:
# `lambda1`, the widths and the learning rate are fixed defaults, and early stopping uses a validation part of
# the training cells.

# %%
metrics = {}
for model, row in cv.iterrows():
    for m in ["accuracy", "macro_f1", "macro_precision", "macro_recall"]:
        metrics[f"cre5/{model}/{m}"] = row[m]
        metrics[f"cre5/{model}/{m}_sd"] = row[f"{m}_sd"]
for model, row in single.iterrows():
    for m in ["accuracy", "macro_f1"]:
        metrics[f"cre5/{model}/paper_split/{m}"] = row[m]
path = write_results("ephys", "03_cre_lines_lspin", metrics,
                     parameters=dict(profile=profile, seed=seed, n_splits=P["n_splits"], n_repeats=n_repeats,
                                     epochs=epochs, lambda1=lambda1, n_ensemble=n_ensemble,
                                     class_weight=class_weight, device=str(dev)),
                     data=datasets.checksums(OPHIR_KEYS["mouse"]))
print(f"results written to {path}")
