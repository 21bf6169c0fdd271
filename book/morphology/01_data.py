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
# # The reconstructions: what we have, and how it differs from the paper's
#
# **What this page shows.** Which reconstructions the chapter classifies, in which tasks and classes, what they look
# like to the CNN ({numref}`fig-morph-data-examples`), and what the paper's two repair steps do to them
# ({numref}`fig-morph-data-zjump`). In this build:
#
# ```{glue:md} morph_data_summary
# :format: myst
# ```
#
# Zhang et al. (2021) {cite}`zhang2021neuron` trained their models on about 35,000 NeuroMorpho.Org reconstructions
# in 12 classes. That set is not obtainable here. What we have are real reconstructions from public snapshots
# (see `shared/data/morphology/PROVENANCE-*.txt`): the rat somatosensory cortex cells of the Markram archive
# {cite}`markram2015reconstruction` and of Vasques et al. {cite}`vasques2016morphological`, mouse Allen Cell
# Types cells, retinal ganglion cells, microglia and a few small sets. This page counts them, shows examples of every
# class in the three projections the CNN sees, and shows what the two repair steps of the paper do.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None  # torch CPU threads (None: the chapter's default for the profile)
image_size = None  # pixels of the example projections (None: the profile default)
z_threshold = 10.0  # um, z-jump threshold of Eq. 1
resample_step = 5.0  # um, resampling step

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuro_lib import datasets, pages, profiles, results
from neuro_lib.morphology import chapter, data
from neuro_lib.morphology.features import morphometrics
from neuro_lib.morphology.projections import example_grid, plot_projections, project
from neuro_lib.morphology.repair import correct_z_jumps, resample, z_jumps

cfg = chapter.settings(profile, example_image_size=image_size, threads=threads)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
size = cfg["example_image_size"]
warnings.filterwarnings("ignore", message="cells")

# %% [markdown]
# ## Counts
# Every reconstruction of `labels.csv`, by archive and cell class. Only the rat S1 block is large and carries the
# principal/interneuron labels of task (a); the m-types of task (b) exist for 433 of its cells.

# %%
allc = data.labels()
counts = pd.crosstab(allc["archive"], allc["cell_class"], margins=True, margins_name="total")
counts

# %%
tasks = {t: data.cells(t, n_per_class=cfg["n_per_class"], seed=seed) for t in data.TASKS}
task_counts = pd.concat({t: d["label"].value_counts() for t, d in tasks.items()}, names=["task", "class"])
task_counts.rename("cells").to_frame()

# %% [markdown]
# Malformed files are not silently lost: the loader refuses them with the file, the line and the reason, and the
# task tables report what they dropped.

# %%
skipped = pd.Series({k: v for d in tasks.values() for k, v in d.attrs["skipped"].items()}, name="reason")
skipped.to_frame()

# %% [markdown]
# ## The paper's 12 classes against ours
# Real cells exist here for 9 of the 12 classes of the paper's Table 3 (none for astrocyte, parachromaffin and
# sensory receptor), and each class comes from one or two labs: class and lab style are confounded, so task (c)
# reports a per-source breakdown (notebook 02).

# %%
z = tasks["zhang12"]
pd.crosstab(z["label"], z["source"])

# %% [markdown]
# ## Example cells in the three projections
# One cell per class of task (c), drawn as the CNN sees them ({numref}`fig-morph-data-examples`). Note the apical
# dendrite of pyramidal cells, the dense axon of basket and GABAergic cells, the flat (retina-wide) ganglion cells and
# the small, bushy microglia.
#
# ```{glue:figure} morph_data_examples
# :name: fig-morph-data-examples
#
# The first cell of each class of task (c) in its XY, XZ and YZ projections (one row per class), as the CNN sees it:
# line intensity grows with the radius.
# ```

# %%
ex = tasks["zhang12"].groupby("label").head(1).reset_index(drop=True)
ex_imgs = np.stack([project(data.load_swc(p), size) for p in ex["path"]])
fig = example_grid(ex_imgs, ex["label"].to_numpy(), per_class=1, seed=seed)
pages.figure("morph_data_examples", fig)

# %% [markdown]
# ## Repair: z-jumps (Eq. 1) and resampling
# Some reconstructions traced from slices show steps along z where two sections were misaligned. We scan rat S1 cells
# for segments whose z change exceeds the threshold and show the cell with the most such jumps before and after the
# correction: the step is removed and the distal part shifted back, the x-y shape is unchanged
# ({numref}`fig-morph-data-zjump`). {glue:md}`morph_data_zjumps`

# %%
scan = tasks["rat_s1_2class"].sample(min(cfg["zjump_scan"], len(tasks["rat_s1_2class"])), random_state=seed)
n_jumps = np.array([np.count_nonzero(z_jumps(data.load_swc(p), z_threshold)) for p in scan["path"]])
worst = scan.iloc[int(np.argmax(n_jumps))]
cell = data.load_swc(worst["path"])
fixed = correct_z_jumps(cell, z_threshold)
said = (f"{(n_jumps > 0).mean():.1%} of {len(scan)} scanned rat S1 cells have at least one z-jump larger than "
        f"{z_threshold:g} µm")
pages.markdown("morph_data_zjumps", f"In this build, {said}; `{worst['cell_id']}` has the most "
               f"({fixed.metadata['z_jumps']}, {fixed.metadata['z_jump_total_um']:.0f} µm in all).")

# %%
fig, axes = plt.subplots(2, 3, figsize=(7.5, 5))
plot_projections(project(cell, size), axes[0], title="before")
plot_projections(project(fixed, size), axes[1], title="after")
fig.tight_layout()
pages.figure("morph_data_zjump", fig)

# %% [markdown]
# ```{glue:figure} morph_data_zjump
# :name: fig-morph-data-zjump
#
# The scanned rat S1 cell with the most z-jumps, in its XY, XZ and YZ projections before (top) and after (bottom)
# the correction of Eq. 1; the XZ and YZ panels show the removed steps, XY is unchanged.
# ```
#
# Resampling every branch at a fixed step makes node counts comparable between labs
# that traced at different densities; the topology (bifurcations, stems, branch order) is kept, and total length
# shrinks a little where the tracing zig-zags at scales below the step.

# %%
res = resample(fixed, resample_step)
before, after = morphometrics(fixed), morphometrics(res)
keys = ["TotalLength", "NumberBifurcations", "NumberStems", "MaxBranchOrder", "MaxPathDistance"]
rs = pd.DataFrame({"before": [len(fixed)] + [before[k] for k in keys], "after": [len(res)] + [after[k] for k in keys]},
                  index=["samples"] + keys)
n_class = {t: d["label"].nunique() for t, d in tasks.items()}
pages.markdown("morph_data_summary", "\n".join(
    [f"* {len(allc):,} reconstructions in `labels.csv`; the tasks use:"]
    + [f"  * `{t}`: {len(d)} cells in {n_class[t]} classes" for t, d in tasks.items()]
    + [f"* {len(skipped)} malformed files refused, each with its file, line and reason (table below);",
       f"* {said}."]))
rs

# %%
metrics = {results.key(t, "data", "n_cells"): len(d) for t, d in tasks.items()}
metrics.update({results.key(t, "data", "n_classes"): d["label"].nunique() for t, d in tasks.items()})
metrics[results.key("rat_s1_2class", "data", "n_skipped_malformed")] = len(tasks["rat_s1_2class"].attrs["skipped"])
metrics[results.key("rat_s1_2class", "repair", "frac_cells_with_zjump")] = float((n_jumps > 0).mean())
results.write_results("morphology", "01_data", metrics,
                      parameters=dict(profile=profile, seed=seed, size=size, z_threshold=z_threshold,
                                      resample_step=resample_step, threads=rt.threads),
                      data=datasets.checksums(*data.data_keys()))
