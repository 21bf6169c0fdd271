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
# # The two-photon movie and its cells
#
# **What this page shows.** The real two-photon calcium movie this chapter works on and its manually drawn ROIs:
# single frames, the four summary images the U-Net sees, the ROIs' sizes and spacing against Neurofinder's matching
# radius, and which ROIs fired during this recording. In this build:
#
# ```{glue:md} imaging_data_summary
# :format: myst
# ```
#
# Seong & Park find neural cells in multi-photon images in two steps: a U-Net marks where cells are, then a network
# retrained from ImageNet classifies a patch around each found cell as excitatory, inhibitory or glia (their labels
# came from a red mCherry channel) {cite}`seong_park_imaging`. This page shows the data this chapter works on: a
# real GCaMP6s movie of mouse vibrissal S1 in the Neurofinder format {cite}`neurofinder,peron2015`: the whole
# recording, stored as means of consecutive source frames, with its manually drawn regions of interest (ROIs):
#
# ```{glue:md} imaging_data_movie
# :format: myst
# ```
#
# **What differs from the paper.** The movie has one (green) channel and no cell-type labels, so the paper's three
# classes cannot be made from it. The chapter runs the paper's whole pipeline on this real data with the labels it
# has: *cell* (a manual ROI) against *not cell*. The classification page takes labelled patches from a file with
# one parameter (`patch_labels`), so a user with typed cells (e.g. CRCNS ssc-2 and its mCherry channel) runs the
# 3-class version unchanged.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None  # torch CPU threads; None means the profile default (1: robust on a shared 2-core machine)
n_frames = None  # None means the profile default (every frame on cpu/gpu)

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

import neuro_lib.datasets as nds
from neuro_lib import pages, profiles, results
from neuro_lib.imaging import SUMMARY_CHANNELS, chapter, report, rois_to_labels
from neuro_lib.imaging.data import (DATA_KEY, FRAME_RATE_HZ, FRAMES_PER_BIN, SOURCE_FRAME_RATE_HZ, cached_summary,
                                   earlier_movie_numbers, load_book_movie)

# %%
t_start, cpu_start = time.time(), time.process_time()
cfg = chapter.settings(profile, n_frames=n_frames, threads=threads)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
data = load_book_movie(frames=slice(0, cfg["n_frames"]) if cfg["n_frames"] else None)
summary = cached_summary(data)
T, H, W = data.movie.shape
areas = np.array([len(r) for r in data.rois])
pages.markdown("imaging_data_movie", f"The movie has **{T} frames of {H}x{W} pixels** ({data.movie.dtype}, values "
               f"{data.movie.min()} to {data.movie.max()}), each the mean of {FRAMES_PER_BIN} source frames taken "
               f"at about {SOURCE_FRAME_RATE_HZ:.0f} Hz: **{FRAME_RATE_HZ:.2f} frames per second, "
               f"{T / FRAME_RATE_HZ:.0f} s** of recording. It has **{len(data.rois)} ROIs** with a median of "
               f"{np.median(areas):.0f} pixels (range {areas.min()} to {areas.max()}); ROIs cover "
               f"{100 * (data.labels() > 0).mean():.1f}% of the field of view.")

# %% [markdown]
# ## Single frames
# Single frames are noisy and a cell is bright only while it fires ({numref}`fig-imaging-data-frames`): the network
# does not look at them but at summary images of the whole movie.
#
# ```{glue:figure} imaging_data_frames
# :name: fig-imaging-data-frames
#
# Three frames of the movie (the first, the middle and the last; each a mean of consecutive source frames), in
# camera counts, each shown up to its 99.5th percentile. Axes in pixels.
# ```

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, t in zip(axes, [0, T // 2, T - 1]):
    im = ax.imshow(data.movie[t], cmap="gray", vmax=np.percentile(data.movie[t], 99.5))
    ax.set_title(f"frame {t}")
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fluorescence (counts)")
fig.tight_layout()
pages.figure("imaging_data_frames", fig)

# %% [markdown]
# ## Summary images
# The mean image shows every labelled soma as a dark-cored ring (GCaMP stays out of the nucleus); the correlation
# image picks out the cells that were active in these frames ({numref}`fig-imaging-data-summary-images`). These four
# images are the U-Net's input.
#
# ```{glue:figure} imaging_data_summary_images
# :name: fig-imaging-data-summary-images
#
# The four summary images of the whole movie: the mean, maximum and temporal standard deviation of each pixel, and
# the local correlation image (each pixel's mean Pearson correlation with its 8 neighbours over time), each scaled to
# [0, 1] between its 1st and 99.5th percentiles. Axes in pixels.
# ```

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
for ax, name in zip(axes, SUMMARY_CHANNELS):
    im = ax.imshow(summary[name], cmap="gray")
    ax.set_title({"mean": "mean", "max": "maximum", "std": "standard deviation", "corr": "local correlation"}[name])
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    fig.colorbar(im, ax=ax, fraction=0.046, label="normalised (a.u.)")
fig.tight_layout()
pages.figure("imaging_data_summary_images", fig)

# %% [markdown]
# ## The manual ROIs
# Most ROIs sit on a ring in the mean image; some lie on cells that barely show in either image in this recording
# ({numref}`fig-imaging-data-rois`), which bounds what any detector can find here.
#
# ```{glue:figure} imaging_data_rois
# :name: fig-imaging-data-rois
#
# The manual ROIs' outlines (red) drawn over the mean image (left) and the correlation image (middle), and a zoom on
# the 128x128 pixel top-left corner of the mean image (right). Axes in pixels.
# ```

# %%
from skimage.segmentation import find_boundaries

lab = rois_to_labels(data.rois, (H, W))
edges = find_boundaries(lab, mode="inner")
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, name, zoom in [(axes[0], "mean", None), (axes[1], "corr", None), (axes[2], "mean", (slice(0, 128),) * 2)]:
    rgb = np.repeat(summary[name][..., None], 3, axis=2)
    rgb[edges] = [1.0, 0.2, 0.2]
    ax.imshow(rgb[zoom] if zoom else rgb)
    ax.set_title(f"ROIs over the {name} image" + (" (zoom)" if zoom else ""))
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
fig.tight_layout()
pages.figure("imaging_data_rois", fig)

# %% [markdown]
# ## ROI sizes and spacing
# Neurofinder counts a detection as a hit when its centre is within 5 pixels of a manual ROI's centre; the nearest
# neighbours are often only a few radii apart ({numref}`fig-imaging-data-sizes`), so touching cells must come out
# as separate detections. {glue:md}`imaging_data_spacing`
#
# ```{glue:figure} imaging_data_sizes
# :name: fig-imaging-data-sizes
#
# Left: ROI areas (pixels). Right: the distance from each ROI's centre to its nearest neighbour's (pixels), with
# Neurofinder's 5-pixel matching radius dashed. The table below gives their quartiles.
# ```

# %%
from scipy.spatial import cKDTree

cents = data.centroids()
nn = cKDTree(cents).query(cents, k=2)[0][:, 1]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].hist(areas, bins=30, color="0.4")
axes[0].set_xlabel("ROI area (pixels)")
axes[0].set_ylabel("number of ROIs")
axes[1].hist(nn, bins=30, color="0.4")
axes[1].axvline(5, color="r", ls="--", label="5-pixel matching radius")
axes[1].set_xlabel("distance to the nearest ROI centre (pixels)")
axes[1].set_ylabel("number of ROIs")
axes[1].legend(frameon=False)
fig.tight_layout()
pages.figure("imaging_data_sizes", fig)
display(pd.DataFrame({"ROI area (pixels)": pd.Series(areas).describe(),
                      "nearest-neighbour distance (pixels)": pd.Series(nn).describe()}).round(1))
pages.markdown("imaging_data_spacing", f"Half of the ROIs have their nearest neighbour's centre within "
               f"**{np.median(nn):.1f} pixels**, a quarter within {np.percentile(nn, 25):.1f}; {np.mean(nn < 10):.0%} "
               f"within 10 pixels, twice Neurofinder's matching radius.")

# %% [markdown]
# ## Which ROIs fired during the recording?
# The manual ROIs were drawn on a longer recording than this one, so not every ROI fires here. Each ROI's trace is
# its mean fluorescence minus 0.7 times that of a neuropil ring around it (2 to 8 pixels away, ROI-free; the usual
# coefficient, Chen et al. 2013) and its largest upward excursion is measured in robust noise units
# (`neuro_lib.imaging.summary.roi_transient_snr`; no further smoothing, since each frame is already a mean of 3).
# Calcium transients only go up, so the largest *downward* excursions of the same traces show how far noise alone
# reaches: an ROI counts as *active* when its upward peak exceeds the 99th percentile of all downward ones. An ROI
# that did not fire can only be found by how it looks in the mean image (the ring of a GCaMP-filled soma);
# {numref}`fig-imaging-data-activity` shows the two distributions.
#
# ```{glue:figure} imaging_data_activity
# :name: fig-imaging-data-activity
#
# The largest upward (orange) and downward (blue: noise alone) excursion of each ROI's neuropil-corrected trace, in
# robust noise standard deviations; dashed: the 99th percentile of the downward ones, above which an ROI counts as
# active.
# ```

# %%
act = report.roi_activity(data.movie, data.labels())
fig, ax = plt.subplots(figsize=(6, 3.5))
hbins = np.linspace(0, np.nanpercentile(act["peak"], 99), 40)
ax.hist(act["trough"], hbins, alpha=0.6, label="largest downward excursion (noise)")
ax.hist(act["peak"], hbins, alpha=0.6, label="largest upward excursion")
ax.axvline(act["null"], color="k", lw=0.8, ls="--", label="99th percentile of the downward ones")
ax.set_xlabel("excursion of the ROI trace (robust noise sd)")
ax.set_ylabel("ROIs")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
pages.figure("imaging_data_activity", fig)

# %% [markdown]
# ## Against the previous movie
# Until this chapter moved to the whole recording it used only the first raw frames of it (left column). Those
# figures were not rerun (that archive is no longer in the mirror); they are our results at commit 0b1ceb5, read
# from `data/imaging_earlier_movie.yml`.
#
# ```{glue:md} imaging_data_active
# :format: myst
# ```

# %%
old = earlier_movie_numbers()
on = old["numbers"]
n_act = int(act["active"].sum())
cols = {f"first {old['frames']} raw frames (earlier)": [old["frames"], old["frame_rate_hz"], old["duration_s"],
                                                        on["data/neurofinder/n_active_rois"],
                                                        on["data/neurofinder/active_roi_fraction"]],
        f"whole recording, {FRAMES_PER_BIN}-frame means (now)": [T, FRAME_RATE_HZ, T / FRAME_RATE_HZ, n_act,
                                                                 n_act / len(data.rois)]}
display(pd.DataFrame(cols, index=["frames", "frame rate (Hz)", "duration (s)", "ROIs that fired",
                                  "fraction that fired"]).round(3))
pages.markdown("imaging_data_active", f"**{n_act} of the {len(data.rois)} ROIs ({n_act / len(data.rois):.0%}) fired "
               f"at least once** in the {T / FRAME_RATE_HZ:.0f} s of this movie, against "
               f"{on['data/neurofinder/n_active_rois']} ({on['data/neurofinder/active_roi_fraction']:.0%}) in the "
               f"first {old['duration_s']:.0f} s. The rest, {len(data.rois) - n_act} ROIs, are cells that did not fire "
               f"detectably here.")
pages.markdown("imaging_data_summary", "\n".join([
    f"* {T} frames of {H}x{W} pixels at {FRAME_RATE_HZ:.2f} Hz: {T / FRAME_RATE_HZ:.0f} s of GCaMP6s recording;",
    f"* {len(data.rois)} manual ROIs, median area {np.median(areas):.0f} pixels; half of them have a neighbour's "
    f"centre within {np.median(nn):.1f} pixels (Neurofinder matches within 5);",
    f"* {n_act} of them ({n_act / len(data.rois):.0%}) fired detectably in this recording."]))

# %%
facts = dict(n_frames=T, n_rois=len(data.rois), roi_area_median_px=float(np.median(areas)),
             roi_fraction_of_pixels=float((lab > 0).mean()), nn_distance_median_px=float(np.median(nn)),
             frame_rate_hz=FRAME_RATE_HZ, duration_s=T / FRAME_RATE_HZ, n_active_rois=n_act,
             active_roi_fraction=n_act / len(data.rois))
metrics = {results.key("data", "neurofinder", k): v for k, v in facts.items()}
metrics.update({results.key("runtime", "01_data", m): v for m, v in (
    ("seconds", time.time() - t_start), ("cpu_seconds", time.process_time() - cpu_start),
    ("load_average", os.getloadavg()[0]))})
path = results.write_results("imaging", "01_data", metrics, parameters=dict(profile=profile, seed=seed, n_frames=T),
                             data=nds.checksums(DATA_KEY))
print(f"results written to {path}")
