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
# # Excitatory or inhibitory, from mouse to human: domain adaptation
#
# Human cells are scarce (299 here against 1,424 mouse cells), and their features are shifted with respect to
# mouse (see the previous page). {cite}`ophir2023` train a domain-adversarial network (DANN, {cite}`ganin2016`)
# whose feature extractor is pushed, through a gradient-reversal layer, to make mouse and human cells
# indistinguishable while still predicting excitatory (spiny) against inhibitory (aspiny).
#
# We compare, on exactly the same splits:
#
# | model | labels used in training | domain loss |
# |---|---|---|
# | `dann` | mouse and human training cells (the paper's setting) | yes |
# | `pooled_network` | mouse and human training cells | no: the control for the adversary |
# | `dann_unsupervised` | mouse only; human training cells enter unlabelled (Ganin et al.'s setting) | yes |
# | `source_only` | mouse only | no |
# | logistic regression, SVC, XGBoost | mouse only (no adaptation; scikit-learn defaults) | no |
#
# All networks share one shape (41 -> 64 -> 32 -> 2 with BatchNorm and dropout; the domain head 32 -> 32 -> 2),
# are trained with Adam, and stop early on a validation split (15%) of the training cells. Imputation and scaling
# are fit on training cells only.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
n_splits = 5
n_repeats = None  # None: the profile's default
epochs = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from neuro_lib import datasets, profiles
from neuro_lib.ephys import OPHIR_KEYS, load_ophir
from neuro_lib.ephys.pipeline import DANNParams, ei_fitters, paper_split_ei
from neuro_lib.evaluation import cross_validate_fitters as cross_validate, plot_confusion_matrix, repeated_stratified_kfold, summarise_scores
from neuro_lib.results import write_results
from neuro_lib.training import resolve_device

P = profiles.select(profile, smoke=dict(n_repeats=1, epochs=2, n_splits=2, models=["dann", "source_only",
                                                                                   "logistic_regression"]),
                    cpu=dict(n_repeats=1, epochs=200, n_splits=n_splits, models=None),
                    gpu=dict(n_repeats=5, epochs=300, n_splits=n_splits, models=None))
n_repeats = n_repeats or P["n_repeats"]
epochs = epochs or P["epochs"]
dev = resolve_device(device)
torch.set_num_threads(1)  # small MLPs: one thread is fastest

mouse, human = load_ophir("mouse"), load_ophir("human")
X = np.vstack([mouse.features.to_numpy(), human.features.to_numpy()])
y = np.r_[(mouse.meta["ei"] == "excitatory"), (human.meta["ei"] == "excitatory")].astype(int)  # 1 = excitatory
domain = np.r_[np.zeros(len(mouse), int), np.ones(len(human), int)]  # 0 = mouse (source), 1 = human (target)
species = np.where(domain == 0, "mouse", "human")
fitters = ei_fitters(DANNParams(epochs=epochs), device=dev, seed=seed)
if P["models"]:
    fitters = {k: fitters[k] for k in P["models"]}
print(f"{len(y)} cells ({(domain == 0).sum()} mouse, {(domain == 1).sum()} human); models: {list(fitters)}")

# %% [markdown]
# ## Repeated stratified cross-validation
#
# Folds are stratified by species and class together, so every fold has the same share of human inhibitory
# cells. Each model is trained on the training folds and scored separately on the mouse and human test cells.

# %%
folds = list(repeated_stratified_kfold(domain * 2 + y, P["n_splits"], n_repeats, seed=seed))
cv_scores, cv_preds = cross_validate(X, y, fitters, folds, side={"domain": domain}, by=species)
cv = summarise_scores(cv_scores)
display(cv.round(3))

# %% [markdown]
# ## The paper's single split
#
# 285 mouse and 60 human test cells; the other 1,378 cells train (1,171) and validate (207), as in the paper.

# %%
split_scores, split_preds = cross_validate(X, y, fitters, paper_split_ei(y, domain, seed=seed),
                                           side={"domain": domain}, by=species)
single = split_scores.set_index(["model", "group"])[["accuracy", "macro_f1", "macro_precision", "macro_recall"]]
display(single.round(3))

# %% [markdown]
# ## Accuracy per species (the paper's Table 1)
#
# Mean over folds, with the standard deviation as error bars. The dashed lines are the paper's DANN numbers
# (single split): 97.4% on mouse and 95.0% on human test cells.

# %%
acc = cv["accuracy"].unstack("group")[["mouse", "human"]]
acc_sd = cv["accuracy_sd"].unstack("group")[["mouse", "human"]]
ax = acc.plot.barh(xerr=acc_sd, figsize=(7, 0.5 + 0.55 * len(acc)), color=["tab:gray", "tab:orange"], capsize=2)
ax.axvline(0.974, ls="--", color="tab:gray", lw=1, label="paper DANN, mouse")
ax.axvline(0.950, ls="--", color="tab:orange", lw=1, label="paper DANN, human")
ax.set(xlim=(0.8, 1.0), xlabel=f"accuracy ({P['n_splits']}-fold CV x {n_repeats}, mean and sd)", ylabel="")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.tight_layout()

# %%
labels = [0, 1]
names = ["inhibitory", "excitatory"]
colors = {"inhibitory": "tab:blue", "excitatory": "tab:red"}
shown = [m for m in ["dann", "source_only"] if m in cv_preds]
fig, axes = plt.subplots(len(shown), 2, figsize=(8, 3.4 * len(shown)), squeeze=False)
for row, model in zip(axes, shown):
    for ax, sp in zip(row, ["mouse", "human"]):
        yt, yp = cv_preds[model][sp]
        plot_confusion_matrix(yt, yp, labels, display_labels=names, ax=ax, title=f"{model}, {sp}",
                              label_colors=colors)
fig.tight_layout()

# %% [markdown]
# Confusion matrices of the DANN and of the source-only network on the mouse and human test cells, pooled over the
# folds of the first repetition (the paper's Figure 8). Rows are normalised; the counts are in brackets.

# %%
def fmt(model, sp):
    if (model, sp) not in cv.index:
        return "not run"
    return f"{100 * cv.loc[(model, sp), 'accuracy']:.1f}% (sd {100 * cv.loc[(model, sp), 'accuracy_sd']:.1f})"


lines = [f"* DANN: mouse {fmt('dann', 'mouse')}, human {fmt('dann', 'human')}; the paper reports 97.4% and 95.0% "
         "on its single split.",
         f"* source-only network: human {fmt('source_only', 'human')}; logistic regression trained on mouse only: "
         f"human {fmt('logistic_regression', 'human')}."]
if "pooled_network" in fitters:
    lines.append(f"* the same network with the human labels but no adversary: human {fmt('pooled_network', 'human')};"
                 f" DANN without human labels: human {fmt('dann_unsupervised', 'human')}.")
gap = cv.loc[("dann", "human"), "accuracy"] - cv.loc[("source_only", "human"), "accuracy"]
lines.append(f"* DANN minus source-only on human cells: {100 * gap:+.1f} percentage points.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading the comparison.** The paper's protocol lets the DANN see labelled human cells; the pooled network
# (same labels, no adversary) is the fair control for what the gradient-reversal layer itself adds, and the
# unsupervised DANN shows what adaptation alone gives when no human label is available.

# %%
if "pooled_network" in fitters:
    hum = cv["accuracy"].xs("human", level="group")
    from_labels = hum["pooled_network"] - hum["source_only"]
    from_adversary = hum["dann"] - hum["pooled_network"]
    display(Markdown(
        f"On human cells, adding the human labels (pooled network against source-only) changes accuracy by "
        f"{100 * from_labels:+.1f} points; adding the adversary on top (DANN against pooled network) by "
        f"{100 * from_adversary:+.1f} points. Without human labels, the adversary gives "
        f"{100 * (hum['dann_unsupervised'] - hum['source_only']):+.1f} points over the source-only network."))

# %%
metrics = {}
for (model, sp), row in cv.iterrows():
    for m in ["accuracy", "macro_f1", "macro_precision", "macro_recall"]:
        metrics[f"ei/{model}/{sp}/{m}"] = row[m]
        metrics[f"ei/{model}/{sp}/{m}_sd"] = row[f"{m}_sd"]
for (model, sp), row in single.iterrows():
    for m in ["accuracy", "macro_f1", "macro_precision", "macro_recall"]:
        metrics[f"ei/{model}/paper_split/{sp}/{m}"] = row[m]
path = write_results("ephys", "02_ei_domain_adaptation", metrics,
                     parameters=dict(profile=profile, seed=seed, n_splits=P["n_splits"], n_repeats=n_repeats,
                                     epochs=epochs, device=str(dev)),
                     data=datasets.checksums(*OPHIR_KEYS.values()))
print(f"results written to {path}")
