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
# # Beyond the paper: new positions, noise and other rotations
#
# The paper's test spikes share their cells, and the range of their positions, with the training spikes. Three
# harder questions for the same CNN (Buccino et al. 2018 {cite}`buccino2018`):
#
# 1. **Held-out positions.** Train on somata with z <= 35 um (along the probe), test on z > 35 um: the network
#    never saw a cell at the test positions.
# 2. **Noise.** Real recordings carry noise of roughly 5-20 uV rms. We recompute the EAPs of a subset of spikes
#    exactly (same positions, rotations and spikes), add white Gaussian noise of 5, 10 and 20 uV rms to every sample,
#    re-extract the features, and train and test at each level (the 30 uV keep rule is the clean EAP's).
# 3. **Another regime.** A network trained on one rotation regime, tested on another's test spikes.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
epochs = None
n_per_cell = None
cells = None
n_jobs = None      # processes for the simulation (None: profile default)
noise_levels = [5.0, 10.0, 20.0]   # uV rms
noise_regime = "3drot"
noise_per_cell = None              # spikes per cell recomputed with noise (None: profile default)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from neuro_lib import results
from neuro_lib.mea import chapter
from neuro_lib.mea.classify import TASKS, labels, split_by_position, split_spikes, train_cnn, train_or_load
from neuro_lib.mea.dataset import noisy_features
from neuro_lib.mea.extracellular import REGIMES
from neuro_lib.training import predict

torch.set_num_threads(2)
cfg = chapter.settings(profile, cells=cells, n_per_cell=n_per_cell, n_jobs=n_jobs, epochs=epochs,
                       noise_per_cell=noise_per_cell)
cells, n_per_cell, epochs, patience, noise_per_cell = (cfg[k] for k in ("cells", "n_per_cell", "epochs", "patience",
                                                                        "noise_per_cell"))
datasets = chapter.load_datasets(cfg, seed)
metrics = {}

# %% [markdown]
# ## 1. Held-out positions

# %%
rows = []
for task in TASKS:
    for r in ("norot", "3drot"):
        ds = datasets[r]
        y, names = labels(ds, task)
        sp = split_by_position(ds, axis=2, test_above=35.0, seed=seed)
        _, pred = train_or_load(ds, task, sp, split_name="z<=35", seed=seed, epochs=epochs, device=device,
                                patience=patience)
        rand = split_spikes(ds, seed=seed)
        _, pred_r = train_or_load(ds, task, rand, seed=seed, epochs=epochs, device=device, patience=patience)
        rows.append({"task": task, "regime": r, "train spikes": len(sp["train"]), "test spikes": len(sp["test"]),
                     "held-out positions": float((pred == y[sp["test"]]).mean()),
                     "random split (03)": float((pred_r == y[rand["test"]]).mean())})
held = pd.DataFrame(rows).set_index(["task", "regime"])
for (t, r), row in held.iterrows():
    metrics[f"{t}/{r}-heldout-z/accuracy"] = row["held-out positions"]
held.round(4)

# %% [markdown]
# ## 2. Noise

# %%
ds = datasets[noise_regime]
idx, noisy = noisy_features(ds, noise_levels, n_per_cell=noise_per_cell, seed=seed)
side = int(np.sqrt(ds.features.shape[-1]))
rows = []
for task in TASKS:
    y_all, names = labels(ds, task)
    y = y_all[idx]
    sub = split_spikes(ds.cell[idx], seed=seed)
    levels = {0.0: ds.features[idx]} | {float(k): v for k, v in noisy.items()}
    for lvl, F in levels.items():
        X = F[:, :2].reshape(len(idx), 2, side, side)
        model, hist, pred = train_cnn(X, y, sub, len(names), epochs=epochs, seed=seed, device=device,
                                      patience=patience,
                                      desc=f"{task} noise {lvl:g}")
        rows.append({"task": task, "noise (uV rms)": lvl, "accuracy": float((pred == y[sub["test"]]).mean())})
noise = pd.DataFrame(rows)
for _, row in noise.iterrows():
    metrics[f"{row['task']}/{noise_regime}-noise{row['noise (uV rms)']:g}/accuracy"] = row["accuracy"]
noise.pivot(index="noise (uV rms)", columns="task", values="accuracy").round(4)

# %% [markdown]
# **Accuracy against noise** in the `3drot` regime (the most realistic), with `noise_per_cell` spikes per cell, so
# the noise-free point can be lower than on the previous page's full dataset. Noise mostly corrupts the width image:
# at faint sites the trough and the following peak are picked out of the noise, and sites under 5 uV are no longer
# silent once 5-20 uV rms noise is added.

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for task, d in noise.groupby("task"):
    ax.plot(d["noise (uV rms)"], d["accuracy"], "o-", label=task)
ax.set(xlabel="added white noise (uV rms)", ylabel="test accuracy", title=f"{noise_regime}, paper's CNN",
       ylim=(0, 1.02))
ax.legend(frameon=False)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Trained on one regime, tested on another
#
# Rows: the regime the network was trained on (its random-split model of the previous page); columns: the regime
# of the test spikes (each regime's own test split).

# %%
cross = {}
for task in TASKS:
    M = pd.DataFrame(index=pd.Index(REGIMES, name="trained on"), columns=pd.Index(REGIMES, name="tested on"),
                     dtype=float)
    models = {r: train_or_load(datasets[r], task, split_spikes(datasets[r], seed=seed), seed=seed, epochs=epochs,
                               device=device, patience=patience)[0] for r in REGIMES}
    for ra in REGIMES:
        for rb in REGIMES:
            dsb = datasets[rb]
            te = split_spikes(dsb, seed=seed)["test"]
            y, _ = labels(dsb, task)
            M.loc[ra, rb] = float((predict(models[ra], dsb.images()[te]).argmax(1) == y[te]).mean())
            metrics[f"{task}/{ra}-to-{rb}/accuracy"] = M.loc[ra, rb]
    cross[task] = M
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (task, M) in zip(axes, cross.items()):
    im = ax.imshow(M.values.astype(float), vmin=0, vmax=1, cmap="viridis")
    for i in range(4):
        for j in range(4):
            ax.text(j, i, f"{M.values[i, j]:.2f}", ha="center", va="center",
                    color="white" if M.values[i, j] < 0.6 else "black")
    ax.set(xticks=range(4), yticks=range(4), xticklabels=REGIMES, yticklabels=REGIMES, xlabel="tested on",
           ylabel="trained on", title=task)
    fig.colorbar(im, ax=ax, fraction=0.046, label="test accuracy")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Cross-regime accuracy.** The diagonal is the previous page's result; off the diagonal, a network meets
# orientations it was or was not trained on. A network trained on `3drot` has seen every orientation, so its row
# tells how much the rotations cost as "data augmentation"; the `norot` row tells how far a network trained on
# upright cells only carries to rotated ones. The sentence below is computed from this run.

# %%
c = cross["mtype"]
n0 = noise[(noise.task == "mtype") & (noise["noise (uV rms)"] == 0)]["accuracy"].iloc[0]
n20 = noise[(noise.task == "mtype") & (noise["noise (uV rms)"] == max(noise_levels))]["accuracy"].iloc[0]
display(Markdown(
    f"m-type: trained on `norot`, tested on `3drot`: {c.loc['norot', '3drot']:.3f}; trained on `3drot`, tested on "
    f"`norot`: {c.loc['3drot', 'norot']:.3f} (diagonal: {', '.join(f'{c.loc[r, r]:.3f}' for r in REGIMES)}). "
    f"With {max(noise_levels):g} uV rms noise the m-type accuracy in `{noise_regime}` goes from {n0:.3f} to "
    f"{n20:.3f}. "
    f"Held-out positions (m-type, `3drot`): {held.loc[('mtype', '3drot'), 'held-out positions']:.3f} against "
    f"{held.loc[('mtype', '3drot'), 'random split (03)']:.3f} with the random split."))

# %%
results.write_results("mea", "04_generalisation", metrics,
                      parameters=dict(profile=profile, seed=seed, epochs=epochs, patience=patience,
                                      n_per_cell=n_per_cell, cells=cells,
                                      noise_levels=noise_levels, noise_regime=noise_regime,
                                      noise_per_cell=noise_per_cell),
                      data={f"simulated-mea/{r}": d.params_key for r, d in datasets.items()})
