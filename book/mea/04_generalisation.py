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
# **What this page shows.** How far the paper's CNN carries beyond its own test: to soma positions it never saw, to
# spikes with recording noise ({numref}`fig-mea-noise`), and to rotation regimes it was not trained on
# ({numref}`fig-mea-cross-regime`). In this build:
#
# ```{glue:md} mea_generalisation_summary
# :format: myst
# ```
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
#
# **Seeds.** The held-out-position and noise networks are trained over `n_seeds_generalisation` seeds (one in the
# CPU profile, to keep the chapter's time; five in the GPU profile); the cross-regime matrix reuses the previous
# page's networks, all `n_seeds` of them, and shows their sd over seeds: the scale to read the single-seed
# numbers of parts 1 and 2 against.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None      # torch CPU threads (None: profile default)
epochs = None
n_seeds = None      # seeds of 03's networks, used for the cross-regime matrix (None: profile default)
n_seeds_generalisation = None   # seeds of the held-out-position and noise networks (None: profile default)
max_steps = None    # cap on each network's optimisation steps (None: none; the gpu_profile tests use 2)
n_per_cell = None
cells = None
n_jobs = None      # processes for the simulation (None: profile default)
noise_levels = [5.0, 10.0, 20.0]   # uV rms
noise_regime = "3drot"
noise_per_cell = None              # spikes per cell recomputed with noise (None: profile default)

# %%
import matplotlib.pyplot as plt

from neuro_lib import pages, profiles, results
from neuro_lib.mea import chapter, classify, plots
from neuro_lib.mea.extracellular import REGIMES

cfg = chapter.settings(profile, cells=cells, n_per_cell=n_per_cell, n_jobs=n_jobs, epochs=epochs,
                       noise_per_cell=noise_per_cell, n_seeds=n_seeds, n_seeds_generalisation=n_seeds_generalisation,
                       max_steps=max_steps)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
cells, epochs, patience, noise_per_cell = (cfg[k] for k in ("cells", "epochs", "patience", "noise_per_cell"))
datasets = chapter.load_datasets(cfg, seed)
metrics = {}

# %% [markdown]
# ## 1. Held-out positions

# %%
held, held_cvs = classify.heldout_positions(datasets, cfg, seed=seed, device=rt.device)
for (t, r), cv in held_cvs.items():
    metrics |= classify.cv_metrics(cv, t, "cnn", f"{r}-heldout-z")
held.round(4)

# %% [markdown]
# ## 2. Noise

# %%
noise, noise_cvs = classify.noise_experiment(datasets[noise_regime], noise_levels, cfg, seed=seed, device=rt.device)
for (t, lvl), cv in noise_cvs.items():
    metrics |= classify.cv_metrics(cv, t, "cnn", f"{noise_regime}-noise{lvl:g}")
noise.pivot(index="noise (uV rms)", columns="task", values="accuracy").round(4)

# %% [markdown]
# ```{glue:figure} mea_noise
# :name: fig-mea-noise
#
# Test accuracy of the paper's CNN (binary and m-type) against the rms of the white noise added to every sample
# (uV; 0: the same spikes without noise), in the `3drot` regime with `noise_per_cell` spikes per cell of this build,
# trained and tested at each level; mean over the `n_seeds_generalisation` seeds.
# ```
#
# The noise-free point of {numref}`fig-mea-noise` can be lower than on the previous page's full dataset, as it
# trains on fewer spikes. Noise mostly corrupts the width image: at faint sites the trough and the following peak
# are picked out of the noise, and sites under 5 uV are no longer silent once 5-20 uV rms noise is added.

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for task, d in noise.groupby("task"):
    ax.plot(d["noise (uV rms)"], d["accuracy"], "o-", label=task)
ax.set(xlabel="added white noise (uV rms)", ylabel="test accuracy", title=f"{noise_regime}, paper's CNN",
       ylim=(0, 1.02))
ax.legend(frameon=False)
plt.tight_layout()
pages.figure("mea_noise", fig)

# %% [markdown]
# ## 3. Trained on one regime, tested on another
#
# Rows: the regime the network was trained on (its random-split models of the previous page, one per seed);
# columns: the regime of the test spikes (each regime's own test split of the same seed); the mean over seeds.
#
# ```{glue:figure} mea_cross_regime
# :name: fig-mea-cross-regime
#
# Test accuracy of the paper's CNN trained on one rotation regime (rows) on another regime's test spikes (columns),
# binary (left) and m-type (right); the mean over the previous page's `n_seeds` seeds (their sd is in the results
# file and in the sentence below).
# ```

# %%
cvs = classify.run_regimes(datasets, cfg | {"extended": []}, seed=seed, device=rt.device)  # 03's cached networks
cross = {task: classify.cross_regime(cvs, datasets, task) for task in classify.TASKS}
for task, M in cross.items():
    for ra in REGIMES:
        for rb in REGIMES:
            metrics[results.key(task, "cnn", "accuracy", split=f"{ra}-to-{rb}")] = float(M.loc[ra, rb])
            metrics[results.key(task, "cnn", "accuracy_sd", split=f"{ra}-to-{rb}")] = float(M.attrs["sd"].loc[ra, rb])
plots.plot_cross_regime(cross)
plt.tight_layout()
pages.figure("mea_cross_regime")

# %% [markdown]
# The diagonal of {numref}`fig-mea-cross-regime` is the previous page's result; off the diagonal, a network meets
# orientations it was or was not trained on. A network trained on `3drot` has seen every orientation, so its row
# tells how much the rotations cost as "data augmentation"; the `norot` row tells how far a network trained on
# upright cells only carries to rotated ones. The sentence below is computed from this run.
#
# ```{glue:md} mea_generalisation_claims
# :format: myst
# ```

# %%
c = cross["mtype"]
n0 = noise[(noise.task == "mtype") & (noise["noise (uV rms)"] == 0)]["accuracy"].iloc[0]
n20 = noise[(noise.task == "mtype") & (noise["noise (uV rms)"] == max(noise_levels))]["accuracy"].iloc[0]
sd = c.attrs["sd"]
hz = held.loc[("mtype", "3drot")]
pages.markdown("mea_generalisation_claims", (
    f"m-type: trained on `norot`, tested on `3drot`: {c.loc['norot', '3drot']:.3f} ± {sd.loc['norot', '3drot']:.3f}; "
    f"trained on `3drot`, tested on `norot`: {c.loc['3drot', 'norot']:.3f} ± {sd.loc['3drot', 'norot']:.3f} "
    f"(mean ± sd over {cfg['n_seeds']} seeds; diagonal: {', '.join(f'{c.loc[r, r]:.3f}' for r in REGIMES)}). "
    f"With {max(noise_levels):g} uV rms noise the m-type accuracy in `{noise_regime}` goes from {n0:.3f} to "
    f"{n20:.3f}. "
    f"Held-out positions (m-type, `3drot`): {hz['held-out positions']:.3f} against "
    f"{hz['random split (03)']:.3f} with the random split."))

# %%
pages.markdown("mea_generalisation_summary", "\n".join([
    f"* held-out positions (z > 35 um), m-type in `3drot`: {hz['held-out positions']:.3f}, against "
    f"{hz['random split (03)']:.3f} with the random split ({cfg['n_seeds_generalisation']} seed(s));",
    f"* {max(noise_levels):g} uV rms noise: the m-type accuracy in `{noise_regime}` goes from {n0:.3f} to {n20:.3f};",
    f"* m-type, trained on `norot` and tested on `3drot`: {c.loc['norot', '3drot']:.3f} ± "
    f"{sd.loc['norot', '3drot']:.3f}, against {c.loc['3drot', '3drot']:.3f} for the network trained on `3drot` "
    f"(mean ± sd over {cfg['n_seeds']} seeds)."]))

# %%
params = dict(profile=profile, seed=seed, epochs=epochs, patience=patience, n_per_cell=cfg["n_per_cell"],
              cells=cells, threads=rt.threads, n_seeds=cfg["n_seeds"],
              n_seeds_generalisation=cfg["n_seeds_generalisation"], max_steps=cfg["max_steps"],
              noise_levels=noise_levels, noise_regime=noise_regime, noise_per_cell=noise_per_cell)
path = results.write_results("mea", "04_generalisation", metrics, parameters=params,
                             data={f"simulated-mea/{r}": d.params_key for r, d in datasets.items()})
print(f"results written to {path}")
