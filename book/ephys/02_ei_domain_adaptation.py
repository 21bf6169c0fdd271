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
# **What this page shows.** Whether a domain-adversarial network trained on mouse cells and a few labelled human cells
# tells excitatory from inhibitory human cells better than the same network without the adversary. In this build:
#
# ```{glue:md} ei_summary
# :format: myst
# ```
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
#
# **Seeds.** One training run of a network is not a result: in the `cpu` profile the whole cross-validation is
# repeated with 3 seeds (each repeat its own partition of the cells and its own training seeds) and the paper's split
# is trained with 3 seeds. Numbers are means over seeds; the `_sd` columns are the spread of the seeds' means, the
# `_fold_sd` columns that of the single test folds. A claim that one model is better than another is a paired
# difference over the same splits with its 95% interval.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
threads = None
n_splits = None  # None: the profile's value (chapter.PROFILE_SETTINGS)
n_repeats = None
epochs = None
max_steps = None  # a cap on optimisation steps per network (the gpu_profile tests)
max_cells = None  # a stratified subset of the cells (the gpu_profile tests)

# %%
import matplotlib.pyplot as plt
from IPython.display import display

from neuro_lib import datasets, pages, profiles, results
from neuro_lib.ephys import EI_CLASSES, OPHIR_KEYS, chapter, ei_data
from neuro_lib.ephys import experiments as ex
from neuro_lib.ephys.chapter import MODEL_NAMES
from neuro_lib.evaluation import plot_confusion_matrix

cfg = chapter.settings(profile, n_splits=n_splits, n_repeats=n_repeats, dann_epochs=epochs, max_steps=max_steps,
                       max_cells=max_cells)
rt = profiles.runtime(profile, device, threads, default_threads=cfg["threads"])
data = ex.subsample(ei_data(), cfg["max_cells"], seed=seed)
paper = results.paper_numbers("ephys")
print(f"{len(data)} cells ({(data.domain == 0).sum()} mouse, {(data.domain == 1).sum()} human); device {rt.device}, "
      f"{rt.threads} thread(s)")

# %% [markdown]
# ## Repeated stratified cross-validation
#
# Folds are stratified by species and class together, so every fold has the same share of human inhibitory
# cells. Each model is trained on the training folds and scored separately on the mouse and human test cells.
# The same run also trains every model on the paper's single split: 285 mouse and 60 human test cells; the other
# 1,378 cells train (1,171) and validate (207), as in the paper.

# %%
exp = ex.run_ei(data, cfg, seed=seed, device=rt.device)
cv = ex.summary_frame(exp.cv, groups=("mouse", "human"))
display(cv[["accuracy", "accuracy_sd", "accuracy_fold_sd", "macro_f1", "macro_f1_sd", "macro_f1_fold_sd"]].round(3))

# %% [markdown]
# ## The paper's single split
#
# The same split trained with each seed: mean and sd over the training seeds.

# %%
single = ex.summary_frame(exp.paper, groups=("mouse", "human"))
display(single[["accuracy", "accuracy_sd", "macro_f1", "macro_f1_sd", "macro_precision", "macro_recall"]].round(3))

# %% [markdown]
# ## Accuracy per species (the paper's Table 1)
#
# ```{glue:figure} ei_accuracy
# :name: fig-ei-accuracy
#
# Accuracy on mouse and human test cells, mean over every fold of every seed (error bars: sd over the single test
# folds). Dashed lines: the paper's DANN on its single split (`data/paper_numbers/ephys.yml`; its split, not our
# folds).
# ```

# %%
paper_mouse, paper_human = (paper[results.key("ei", "dann", "accuracy", group=g)] for g in ("mouse", "human"))
acc = cv["accuracy"].unstack("group")[["mouse", "human"]]
acc_sd = cv["accuracy_fold_sd"].unstack("group")[["mouse", "human"]]
ax = acc.plot.barh(xerr=acc_sd, figsize=(7, 0.5 + 0.55 * len(acc)), color=["tab:gray", "tab:orange"], capsize=2)
ax.axvline(paper_mouse, ls="--", color="tab:gray", lw=1, label="paper DANN, mouse")
ax.axvline(paper_human, ls="--", color="tab:orange", lw=1, label="paper DANN, human")
ax.set(xlim=(0.8, 1.0), xlabel=f"accuracy ({cfg['n_splits']}-fold CV x {cfg['n_repeats']} seeds; mean, fold sd)",
       ylabel="")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.tight_layout()
pages.figure("ei_accuracy")

# %%
colors = {"inhibitory": "tab:blue", "excitatory": "tab:red"}
shown = [m for m in ["dann", "source_only"] if m in exp.cv]
fig, axes = plt.subplots(len(shown), 2, figsize=(8, 3.4 * len(shown)), squeeze=False)
for row, model in zip(axes, shown):
    for ax, sp in zip(row, ["mouse", "human"]):
        yt, yp = exp.cv[model].pooled(0, mask=data.species == sp)
        plot_confusion_matrix(yt, yp, [0, 1], display_labels=EI_CLASSES, ax=ax, title=f"{model}, {sp}",
                              label_colors=colors)
fig.tight_layout()
pages.figure("ei_confusion", fig)

# %% [markdown]
# ```{glue:figure} ei_confusion
# :name: fig-ei-confusion
#
# Confusion matrices of the DANN and of the source-only network on the mouse and human test cells, pooled over the
# folds of the first seed (the paper's Figure 8). Rows are normalised; the counts are in brackets.
# ```
#
# ```{glue:md} ei_rates
# :format: myst
# ```

# %%
def fmt(model, sp):
    return ex.say_rate(cv.loc[(model, sp)]) if (model, sp) in cv.index else "not run"


pages.markdown("ei_rates", "\n".join([
    f"* DANN: mouse {fmt('dann', 'mouse')}, human {fmt('dann', 'human')}; the paper reports "
    f"{100 * paper_mouse:.1f}% and {100 * paper_human:.1f}% on its single split.",
    f"* pooled network (human labels, no adversary): human {fmt('pooled_network', 'human')}; unsupervised DANN: "
    f"human {fmt('dann_unsupervised', 'human')}.",
    f"* source-only network: human {fmt('source_only', 'human')}; logistic regression trained on mouse only: "
    f"human {fmt('logistic_regression', 'human')}."]))

# %% [markdown]
# ## What the adversary and the human labels add, paired over the same splits
#
# The paper's protocol lets the DANN see labelled human cells; the pooled network (same labels, no adversary) is the
# fair control for what the gradient-reversal layer itself adds, and the unsupervised DANN shows what adaptation
# alone gives when no human label is available. Each difference is taken split by split on the same test cells, its
# interval from the corrected resampled t-test (Nadeau & Bengio 2003), which allows for the overlap of the training
# sets.
#
# ```{glue:figure} ei_differences
# :name: fig-ei-differences
#
# Paired differences in accuracy on human test cells, with 95% intervals. Green: the interval is above 0, red: below,
# grey: it includes 0.
# ```
#
# ```{glue:md} ei_claims
# :format: myst
# ```

# %%
ax = ex.plot_differences(exp, "accuracy", names=MODEL_NAMES)
ax.set_title("accuracy on human test cells")
plt.tight_layout()
pages.figure("ei_differences")
said = [f"* {ex.say_difference(exp.diff(a, b, g), MODEL_NAMES)} (on {g} test cells)."
        for a, b, g in ex.EI_COMPARISONS if a in exp.cv and b in exp.cv]
pages.markdown("ei_claims", "\n".join(said))
pages.markdown("ei_summary", "\n".join([f"* DANN on human test cells: {fmt('dann', 'human')} "
                                         f"(paper: {100 * paper_human:.1f}% on its single split);", *said[:2]]))

# %%
path = results.write_results("ephys", "02_ei_domain_adaptation", ex.ei_metrics(exp),
                             parameters=dict(profile=profile, seed=seed, device=rt.device, threads=rt.threads,
                                             **{k: cfg[k] for k in ("n_splits", "n_repeats", "dann_epochs",
                                                                    "max_steps", "max_cells")}),
                             data=datasets.checksums(*OPHIR_KEYS.values()))
print(f"results written to {path}")
