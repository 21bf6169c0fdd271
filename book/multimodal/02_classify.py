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
# # Each modality alone, and both fused
#
# **What this page shows.** Whether classifying the same Allen cells from their morphology and their
# electrophysiology together beats the better of the two alone, for excitatory against inhibitory (task (a)) and for
# the five Cre classes (task (b)), paired over the same splits; and what each fused model does when one modality is
# missing. In this build:
#
# ```{glue:md} multimodal_classify_summary
# :format: myst
# ```
#
# The same cells, the same folds, every model: stratified 5-fold cross-validation repeated with different seeds
# (`neuro_lib.evaluation.kfold_splits`), each model cloned and seeded `seed + split` by
# `neuro_lib.evaluation.cross_validate`.
#
# * **Ephys only**: the ephys chapter's LSPIN {cite}`yang2022lspin` and its best baseline (SVC), on the authors' 41
#   features for task (b) and on the ACTB table for task (a) (not every one of the 509 cells has the 41); for task
#   (b) also the SVC on the 41 features plus the ACTB columns.
# * **Morphology only**: the morphology chapter's gradient boosting on the 77 neurite morphometrics, a random
#   forest {cite}`breiman2001random` on the same, and its TMD peer {cite}`kanari2018topological` (a logistic
#   regression on the persistence image of each cell; the Tree-LSTM is not run here, see the closing paragraph).
# * **Fused**: late fusion (stacking {cite}`wolpert1992stacked`: logistic regression on the out-of-fold
#   probabilities of the ephys SVC and the two morphometric models, from inner folds of the *training cells only*),
#   and one joint LSPIN over the concatenated ephys and morphometric features, trained with *modality dropout*: every
#   training cell that has both modalities is also shown once without its ephys and once without its morphometrics
#   (a deterministic form of ModDrop {cite}`neverova2016moddrop`), so that it learns to classify a cell measured
#   with one modality only.
#
# **Training cells.** Test cells always have both modalities. With the profile's `ephys_only_cells` (task (b) in
# the CPU profile, both tasks in the GPU profile) the models that read ephys also train on the mouse cells of the same
# ephys tables that have no reconstruction (page 01 counts them): the single-modality ephys models, the late fusion's
# ephys branch and the joint LSPIN (which sees them with its morphometric inputs missing, imputed by the training
# medians). The morphology models train on the reconstructed training cells only, and the stacker only on cells with
# both.
#
# The headline rows: `ephys` and `morphology` are the best of each modality's models *on these folds* (a choice
# made after the fact, which favours the single modalities); `fused` is the late fusion, fixed before any run. Task
# (a) is headlined typing-free: its morphology models and its late fusion leave out the features that take the SWC's
# apical and basal dendrite types apart, because the tracers' apical type code nearly names its label (page 01; the
# typing-aware models stay below as an upper reference, under "The targets"). A claim
# that one model beats another is a paired difference over the same splits with its 95% interval (corrected resampled
# t-test {cite}`nadeau2003inference`). No setting was chosen on test folds: the models use the other chapters'
# defaults, the stacker is fitted on inner folds, the networks stop early on a share of the training cells.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
n_splits = None  # None: the profile's value (neuro_lib.multimodal.chapter.PROFILE_SETTINGS)
n_repeats = None
epochs = None
n_ensemble = None
max_steps = None  # a cap on optimisation steps per network (the gpu_profile tests)
max_cells = None  # a stratified subset of each task's cells (the gpu_profile tests)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from neuro_lib import datasets, pages, profiles, results
from neuro_lib.evaluation import plot_confusion_matrix
from neuro_lib.multimodal import chapter
from neuro_lib.multimodal import data as mm
from neuro_lib.multimodal import experiment as ex
from neuro_lib.multimodal.chapter import MODEL_NAMES

cfg = chapter.settings(profile, n_splits=n_splits, n_repeats=n_repeats, lspin_epochs=epochs, n_ensemble=n_ensemble,
                       max_steps=max_steps, max_cells=max_cells)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
print(f"{cfg['n_splits']}-fold x {cfg['n_repeats']} repeats; device {rt.device}, {rt.threads} thread(s)")

# %%
exps = {task: ex.experiment(task, cfg, seed=seed, device=rt.device) for task in mm.TASKS}
for task, exp in exps.items():
    print(f"{task}: {len(exp.data)} cells, {len(exp.cv['fused'].splits)} splits; headline rows {exp.chosen}")

# %% [markdown]
# ## Every model, both tasks
#
# Mean accuracy and macro F1 over the splits (sd over splits), on all test cells and on the full and the dendrite-only
# reconstructions separately ({numref}`fig-multimodal-scores`), for the two tasks:
#
# ```{glue:md} multimodal_tasks
# :format: myst
# ```

# %%
pages.markdown("multimodal_tasks", "\n".join(f"* **{task}**: {mm.TASKS[task]}" for task in exps))
display(pd.concat({task: ex.summary_frame(exp, MODEL_NAMES) for task, exp in exps.items()}, names=["task", "model"])
        .round(3))

# %% [markdown]
# ```{glue:figure} multimodal_scores
# :name: fig-multimodal-scores
#
# Accuracy of every model on each task (left: task (a), right: task (b)), mean over the splits with their sd
# (green: ephys, orange: morphology, purple: fused; the `without` rows are fused models asked with one modality
# removed at test time, below).
# ```

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
for ax, exp in zip(axes, exps.values()):
    ex.plot_scores(exp, ax=ax, names=MODEL_NAMES)
fig.tight_layout()
pages.figure("multimodal_scores", fig)

# %% [markdown]
# ## Fused against the better single modality, paired over the same splits
#
# "ephys (best)" and "morphology (best)" are the headline rows (the best of each modality's models on these
# splits); {numref}`fig-multimodal-differences` shows each paired difference, and the list below states them.
#
# ```{glue:figure} multimodal_differences
# :name: fig-multimodal-differences
#
# Paired differences in accuracy between each fused model and the better single modality (top: task (a), bottom:
# task (b)), on all test cells and per reconstruction type, with 95% intervals (corrected resampled t). Green: the
# interval is above 0; red: below; grey: it includes 0 (no claim either way).
# ```
#
# ```{glue:md} multimodal_claims
# :format: myst
# ```

# %%
fig, axes = plt.subplots(2, 1, figsize=(9, 8))
for ax, exp in zip(axes, exps.values()):
    pairs = [c for c in ex.comparisons(exp) if "without" not in c[0]]
    ex.plot_differences(exp, pairs, ax=ax, names=MODEL_NAMES)
fig.tight_layout()
pages.figure("multimodal_differences", fig)

# %%
lines = []
for task, exp in exps.items():
    lines += [f"* **{task}**: " + ex.say(exp, a, b, g, names=MODEL_NAMES) + "."
              for a, b, g in ex.comparisons(exp) if "without" not in a]
pages.markdown("multimodal_claims", "\n".join(lines))

# %% [markdown]
# ## Confusion matrices
#
# ```{glue:figure} multimodal_confusion
# :name: fig-multimodal-confusion
#
# Confusion matrices of the better single modality (left) and the fused model (right), task (a) on top and task (b)
# below: out-of-fold predictions pooled over the folds of the first repeat, rows normalised (counts below the
# fractions).
# ```

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 9.5))
for row, exp in zip(axes, exps.values()):
    for ax, name in zip(row, (exp.better_single, "fused")):
        yt, yp = exp.cv[name].pooled(0)
        plot_confusion_matrix(yt, yp, range(len(exp.data.class_names)), display_labels=exp.data.class_names, ax=ax,
                              title=f"{exp.task}: {MODEL_NAMES.get(name, name)}")
fig.tight_layout()
pages.figure("multimodal_confusion", fig)

# %% [markdown]
# ## One modality missing
#
# Many cells in the world have only one modality. Each fused model, trained on both, is asked again on the same test
# cells with one modality's features set to missing: the late fusion then falls back to the branch (or the mean of
# the branches) whose inputs are there; the joint LSPIN imputes the absent features with the training medians, as it
# saw them in training (modality dropout; without it, an earlier version of this page saw the joint LSPIN asked
# without morphology on task (a) fall far below the ephys LSPIN alone). Each
# row against the single-modality model it stands in for ({numref}`fig-multimodal-missing`).
#
# ```{glue:figure} multimodal_missing
# :name: fig-multimodal-missing
#
# Paired differences in accuracy between each fused model asked without one modality and the single-modality model
# it stands in for (top: task (a), bottom: task (b)), with 95% intervals; colours as in
# {numref}`fig-multimodal-differences`.
# ```
#
# ```{glue:md} multimodal_missing_claims
# :format: myst
# ```

# %%
miss = [(name, single, "all") for name, (_, _, single) in ex.MISSING.items()]
fig, axes = plt.subplots(2, 1, figsize=(9, 5))
for ax, exp in zip(axes, exps.values()):
    ex.plot_differences(exp, miss, ax=ax, names=MODEL_NAMES)
fig.tight_layout()
pages.figure("multimodal_missing", fig)
pages.markdown("multimodal_missing_claims", "\n".join(f"* **{t}**: " + ex.say(e, a, b, g, names=MODEL_NAMES) + "."
                                                      for t, e in exps.items() for a, b, g in miss))

# %% [markdown]
# ## The targets
#
# The targets for the CPU profile, read from the runs above (`reached` is computed, not typed).
#
# ```{glue:md} multimodal_no_apical
# :format: myst
# ```

# %%
goals = pd.concat([ex.targets({t: e}) for t, e in exps.items()], ignore_index=True)
display(goals)
e_i = exps["e_i"]
acc = {k: e_i.cv[k].summary()["accuracy"] for k in ("morphology_gb", "morphology_rf", "late_fusion")}
pages.markdown("multimodal_no_apical", (
    "Task (a) is headlined typing-free (`neuro_lib.multimodal.chapter.HEADLINE`): its label, spiny or not, is what "
    "the tracers' apical-dendrite type code nearly names (page 01), so its morphology and fused rows read the "
    "morphometrics without the apical/basal split. Typing-aware, as an upper reference that reads the annotation: "
    f"gradient boosting {acc['morphology_gb']:.3f}, random forest {acc['morphology_rf']:.3f}, late fusion "
    f"{acc['late_fusion']:.3f}; " + ex.say(e_i, "late_fusion", "morphology_rf", names=MODEL_NAMES) + "."))


def headline(task, exp):
    f, e, m = (exp.cv[k].summary()["accuracy"] for k in ("fused", "ephys", "morphology"))
    return (f"* **{task}**: accuracy fused {f:.3f}, ephys {e:.3f}, morphology {m:.3f}; "
            + ex.say(exp, "fused", exp.better_single, names=MODEL_NAMES) + ";")


pages.markdown("multimodal_classify_summary", "\n".join(
    [headline(t, e) for t, e in exps.items()] + [f"* targets reached: {int(goals['reached'].sum())} of {len(goals)}."]))

# %% [markdown]
# **What was tried, and how it was chosen.** No hyperparameter was tuned on test folds, but the *design* of the
# fused model came from exploratory runs on these same cells (5-fold, one repeat), which is a mild form of selection
# we state here: (1) a first late fusion of the ephys SVC and the morphology gradient boosting, trained on the
# reconstructed cells only; (2) a random-forest branch added after the forest did better than gradient boosting on
# the morphometrics; (3) the joint LSPIN with one and with three ensemble members; (4) training the models that read
# ephys also on the ephys-only cells, which left the test cells unchanged and gave the ephys models (single and
# fused alike) several times more training cells; (5) modality dropout in the joint LSPIN, added after the
# missing-modality rows of a run without it were seen (a fix for that failure, not tuned on accuracy); (6) the
# gradient boosting added to the stack as a third branch, and task (a) headlined typing-free, both after a run of
# this page in which the task (b) fusion's gain over ephys alone had an interval that included 0 and the task (a)
# fusion equalled the typing-aware morphology. Also tried on task (b), in exploratory runs (5-fold, 3 repeats) not
# kept: the soma's cortical layer as a morphology feature (no change to the fusion) and the ephys SVC on the 41 +
# ACTB columns as a fourth branch (left out: it would give the fused model ephys features the `ephys` row lacks).
# The headline `fused` row was fixed to the late fusion before the runs of this page. Not run: the morphology
# chapter's Tree-LSTM (page 04 there), whose ten fits per profile run (two tasks, five folds) do not fit in this
# chapter's 10-minute CPU budget beside the rest (not in the GPU profile either: a next step).

# %%
metrics = {k: v for exp in exps.values() for k, v in ex.task_metrics(exp).items()}
params = dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads,
              **{k: cfg[k] for k in ("n_splits", "n_repeats", "lspin_epochs", "n_ensemble", "lambda1", "gb_iter",
                                     "rf_trees", "inner_cv", "max_steps", "max_cells")})
path = results.write_results("multimodal", "02_classify", metrics, parameters=params,
                             data=datasets.checksums(*mm.DATA_KEYS))
print(f"results written to {path}")
