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
# # Amplitude and width images
#
# **What this page shows.** The two 10x10 images per spike that the CNN of the next page reads: one spike's
# ({numref}`fig-mea-feature-images`) and the mean images per class and rotation regime
# ({numref}`fig-mea-class-mean-images`), with what separates excitatory from inhibitory spikes. In this build:
#
# ```{glue:md} mea_features_summary
# :format: myst
# ```
#
# The paper's input (Buccino et al. 2018 {cite}`buccino2018`, Section II-C) is not the raw EAP but two numbers per
# site: the **amplitude**, |negative peak - the positive peak that follows it|, and the **width**, the time between
# them. Sites whose amplitude is under 5 uV are silent: amplitude 0, width 7 ms (the whole cut-out). On the 10x10
# MEA these become two 10x10 images per spike. This page shows them per regime and class, from the datasets cached
# by the previous page (regenerated if missing).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"     # (no network on this page)
threads = None      # (no network on this page)
n_per_cell = None
cells = None
n_jobs = None      # processes for the simulation (None: profile default)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuro_lib import pages, results
from neuro_lib.mea import chapter, plots

cfg = chapter.settings(profile, cells=cells, n_per_cell=n_per_cell, n_jobs=n_jobs)
cells, n_per_cell = cfg["cells"], cfg["n_per_cell"]
datasets = chapter.load_datasets(cfg, seed)

# %% [markdown]
# ## One spike's images
#
# ```{glue:figure} mea_feature_images
# :name: fig-mea-feature-images
#
# The amplitude (left, uV) and width (right, ms) images of the largest upright (`norot`) spike of a pyramidal cell
# (TTPC1 in the full profile, the last cell of a smaller one), over the 10x10 sites (y across, z up, in um: the
# probe seen from the cell).
# ```
#
# The amplitude image ({numref}`fig-mea-feature-images`) is a blob around the soma's projection, stretched along
# the apical dendrite (z, drawn upwards); the width image is narrow where the signal is large and jumps to 7 ms at
# the silent sites. All images are drawn with y across and z up, the probe seen from the cell.

# %%
ds = datasets["norot"]
target = "L5_TTPC1_cADpyr232_1" if "L5_TTPC1_cADpyr232_1" in cells else cells[-1]
i = int(np.flatnonzero(ds.cell == cells.index(target))[np.argmax(ds.p2p[ds.cell == cells.index(target)])])
plots.plot_feature_images(ds, i)
plt.tight_layout()
pages.figure("mea_feature_images")

# %% [markdown]
# ## Mean images per class and regime
#
# ```{glue:figure} mea_class_mean_images
# :name: fig-mea-class-mean-images
#
# Mean amplitude (uV) and mean width (ms) images of inhibitory (blue titles) and excitatory (red titles) spikes;
# rows: `norot`, `zrot`, `xrot`, `3drot`, over every kept spike of this build's datasets (y across, z up, in um).
# Each feature's two classes share one colour scale.
# ```
#
# Soma positions are uniform over the probe, so the means are broad ({numref}`fig-mea-class-mean-images`); what
# differs between the classes is the level (excitatory spikes are larger and wider and reach more sites) and, for
# upright cells, a longer footprint along z, the apical dendrite. The table below gives the numbers.

# %%
plots.plot_class_mean_images(datasets)
plt.tight_layout()
pages.figure("mea_class_mean_images")

# %%
rows = []
for r, d in datasets.items():
    a = d.features[:, 0]
    active = a > 0
    for name, sel in (("inhibitory", d.excitatory == 0), ("excitatory", d.excitatory == 1)):
        rows.append({"regime": r, "class": name, "spikes": int(sel.sum()),
                     "largest amplitude (uV, median)": float(np.median(a[sel].max(1))),
                     "active sites (median)": float(np.median(active[sel].sum(1))),
                     "width at largest site (ms, median)": float(np.median(
                         d.features[sel, 1][np.arange(sel.sum()), a[sel].argmax(1)]))})
stats = pd.DataFrame(rows)
stats.round(3)

# %% [markdown]
# ```{glue:md} mea_features_norot
# :format: myst
# ```

# %%
s = stats.set_index(["regime", "class"])
pages.markdown("mea_features_norot", (
    f"Upright (`norot`), excitatory spikes have a median largest amplitude of "
    f"{s.loc[('norot', 'excitatory'), 'largest amplitude (uV, median)']:.0f} uV on "
    f"{s.loc[('norot', 'excitatory'), 'active sites (median)']:.0f} active sites against "
    f"{s.loc[('norot', 'inhibitory'), 'largest amplitude (uV, median)']:.0f} uV on "
    f"{s.loc[('norot', 'inhibitory'), 'active sites (median)']:.0f} for inhibitory ones; their median width on the "
    f"largest site is {s.loc[('norot', 'excitatory'), 'width at largest site (ms, median)']:.2f} ms against "
    f"{s.loc[('norot', 'inhibitory'), 'width at largest site (ms, median)']:.2f} ms."))


def medians(r, c):
    row = s.loc[(r, c)]
    return (f"largest amplitude {row['largest amplitude (uV, median)']:.0f} uV, "
            f"{row['active sites (median)']:.0f} active sites, "
            f"width {row['width at largest site (ms, median)']:.2f} ms")


pages.markdown("mea_features_summary", "\n".join(
    f"* `{r}` ({int(s.loc[(r, 'excitatory'), 'spikes'] + s.loc[(r, 'inhibitory'), 'spikes']):,} spikes), medians: "
    f"excitatory {medians(r, 'excitatory')}; inhibitory {medians(r, 'inhibitory')}."
    for r in ("norot", "3drot")))

# %%
metrics = {}
for (r, c), row in s.iterrows():
    for name, col in (("median_amplitude_uv", "largest amplitude (uV, median)"),
                      ("median_active_sites", "active sites (median)"),
                      ("median_width_ms", "width at largest site (ms, median)")):
        metrics[results.key("features", "amp_width", name, split=r, group=c)] = row[col]
path = results.write_results("mea", "02_features", metrics,
                             parameters=dict(profile=profile, seed=seed, n_per_cell=n_per_cell, cells=cells),
                             data={f"simulated-mea/{r}": d.params_key for r, d in datasets.items()})
print(f"results written to {path}")
