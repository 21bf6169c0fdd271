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
# # Cell types that survive a change of lab
#
# **What this page shows.** Whether principal cells and interneurons can be told apart in reconstructions from a
# lab the model never saw, and what it takes. In this build:
#
# ```{glue:md} labs_summary
# :format: myst
# ```
#
# The earlier pages tell principal cells from interneurons well, but only on rat S1 cells, cross-validated among the
# labs they were trained on (as {cite}`zhang2021neuron` and its peers report). Two habits of those labs make that
# easy: in rat S1, nearly every interneuron file carries its axon (Markram's lab traced it,
# {cite}`markram2015reconstruction`) and most principal cell files have samples typed "apical dendrite" (SWC type
# 4, a human annotation that nearly names the class). In this build:
#
# ```{glue:md} labs_habits
# :format: myst
# ```
#
# A model can score well by detecting an axon or reading the type code. A file from another lab, traced without the
# axon or typed differently, then gets the wrong class.
#
# So this page compares two **views** of every cell, with the same models and splits:
#
# * **typing-aware**: the chapter's features as given, the 20 morphometrics of the features page and the 77
#   per-neurite ones (axon, basal and apical dendrite, as typed in the file);
# * **typing-free**: the axon removed and every other neurite one type; only features unchanged by a rotation or a
#   mirror flip of the cell (no height, no "up"); no radius and no sample count (both follow a lab's tracing
#   protocol);
#
# Each view feeds a logistic regression, the chapter's gradient boosting and its RBF SVM (with Platt-scaled
# probabilities); a topological peer, TMD
# {cite}`kanari2018topological` (the `tmd` library: a persistence diagram of each neurite's branches by radial
# distance, smoothed into a persistence image, `neuro_lib.morphology.persistence`), runs in both regimes too:
# typing-aware, one image per SWC type (axon, basal, apical) side by side; typing-free, the axon removed and all
# dendrites in one image. A logistic regression classifies the images. A **fusion** of the four branches of each
# view (`al.fusion_model`: scikit-learn's stacking, a logistic regression on the branches' class probabilities
# predicted on inner folds of the training cells only) is the last model, set up as the paper's "Multi" should be:
# it is worth its name only if it is at least as good as its best branch, which a section below checks. And the
# typing-aware hand-feature models are trained a second time with **augmentation** (`augment=True`): beside each
# training cell, two copies of it as other labs might have traced it (`neuro_lib.morphology.augment`): one with the
# axon removed and every dendrite typed basal, one with the axon cut at a share of its length drawn per cell
# between 0.1 and 0.9 and the type codes as given, each rescaled by a factor drawn per cell between 1/1.5 and 1.5,
# so that neither the axon, nor its length, nor the apical type code is always there to lean on. Only training
# cells are copied. Last, a
# **lab-adversarial network** on the typing-free features (`neuro_lib.morphology.adversarial`): the ephys chapter's
# DANN {cite}`ganin2016` with the source lab as the domain, beside the same network trained without its
# adversary.
#
# There are three evaluations: random 5-fold on rat S1 (in-domain), leave-one-source-out over the training
# sources, and an **external test** on the Allen Cell Types mouse VISp reconstructions, which no model is trained
# on, scored within each reconstruction type.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_per_source_class = None  # cells kept per source and class (None: the profile's value, chapter.PROFILE_SETTINGS)
gb_iter = None  # trees of the gradient boosting (None: the profile's value)
tmd_resolution = None  # pixels a side of the TMD persistence images (None: the profile's value; 0: no TMD)
augment = True  # also train the typing-aware models on two rescaled copies of each cell: no axon and no type codes,
# and the axon truncated
adversarial = True  # also train the typing-free lab-adversarial network and the same network without its adversary

# %%
import warnings

import matplotlib.pyplot as plt
from IPython.display import display

from neuro_lib import datasets, evaluation, pages, results
from neuro_lib.morphology import across_labs as al
from neuro_lib.morphology import augment as aug
from neuro_lib.morphology import chapter, persistence
from neuro_lib.morphology import data as mdata
from neuro_lib.morphology.svm import signed_log

cfg = chapter.settings(profile, labs_per_source_class=n_per_source_class, labs_gb_iter=gb_iter,
                       labs_tmd_resolution=tmd_resolution)
networks = (al.lab_networks(epochs=cfg["labs_net_epochs"], max_steps=cfg["max_steps"], random_state=seed)
            if adversarial else None)
warnings.filterwarnings("ignore", category=UserWarning)  # balanced accuracy of a one-class group (sklearn)
warnings.filterwarnings("ignore", category=RuntimeWarning, module="sklearn.feature_selection")  # the fusion: a
# feature missing in a whole inner fold (dropped, see al.fusion_model)
TARGETS = {k: chapter.TARGETS[f"labs_{k.replace('-', '_')}"] for k in ("dendrite-only", "full", "in_domain_free",
                                                                      "in_domain_aware")}

# %% [markdown]
# ## Cells and sources
#
# Every reconstruction of the mirror labelled principal cell or interneuron (`labels.csv`, column `cell_class`),
# from every source: rat S1 (Markram and Vasques archives, {cite}`markram2015reconstruction`,
# {cite}`vasques2016morphological`), the Allen VISp cells (spiny = principal; aspiny and sparsely spiny =
# interneuron), and the small collections (CA3 interneurons, striatal and cerebellar cells, dentate granule cells,
# retinal ganglion cells as principal). A cell is *dendrite-only* when the Allen metadata says so or, elsewhere, when
# its file has no axon-typed sample. Malformed files and the rat S1 cells whose two label sources disagree are
# dropped and counted.
#
# ```{glue:figure} labs_sources
# :name: fig-labs-sources
#
# Cells per source (rows), by class and reconstruction type (columns; colour on a log scale). In Allen VISp the
# reconstruction type goes with the class: most interneurons are full reconstructions, most principal cells
# dendrite-only.
# ```
#
# ```{glue:md} labs_counts
# :format: myst
# ```
#
# ```{glue:md} labs_tmd_failed
# :format: myst
# ```

# %%
df, F = al.cells(n_per_source_class=cfg["labs_per_source_class"], seed=seed, progress=True)
images = (persistence.persistence_images(df["path"], resolution=cfg["labs_tmd_resolution"], progress=True)
          if cfg["labs_tmd_resolution"] else None)
copies = [aug.copy_features(df["path"], seed=seed, kind=k, progress=True) for k in aug.COPY_KINDS] if augment else None
al.plot_sources(df)
plt.tight_layout()
pages.figure("labs_sources")
pages.markdown("labs_counts", al.say_counts(df))
pages.markdown("labs_habits", al.say_habits(df, F))
n_fail = int((images["failed"] > 0).sum()) if images is not None else 0
pages.markdown("labs_tmd_failed", (
    "TMD: no persistence images in this run." if images is None else
    f"TMD: `tmd` could not make a diagram of some neurites with a multifurcation (its own reader fails on the same "
    f"files); they are left out of their cell's images: {int(images['failed'].sum())} neurite(s) of {n_fail} "
    f"cell(s)."))

# %% [markdown]
# Because of that link, "has a long axon" alone would score well on Allen overall, and in the Allen files the pia is
# down where the rat S1 files have it up. That is why the external test is scored **within each reconstruction
# type**, the dendrite-only cells first: there no axon can help, and the orientation-free features cannot read "up".
#
# ## The typing-free view, chosen without the test lab
#
# The typing-free features (`neuro_lib.morphology.typing_free`) describe the dendritic arbor alone: total length,
# path and straight-line reach, branch counts and orders, contraction, fractal dimension, partition asymmetry,
# bifurcation angles {cite}`scorcioni2008lmeasure`, {cite}`vanpelt1992tree`; the spread of the arbor along its own
# principal axes and how lopsided it is along the first one (an apical dendrite makes a pyramidal cell's arbor
# one-sided); the share of its length in radial shells; and how the length is shared among the stems (the apical
# dendrite is usually the largest stem). Whether the sizes in micrometres stay in (rat cells are larger than mouse
# cells) or only the scale-free features do was decided by leave-one-source-out on the training sources, never on
# Allen:
#
# ```{glue:md} labs_choice
# :format: myst
# ```
#
# With eight held-out sources, several of them a handful of cells, this choice is noisy when the two means are
# close.

# %%
exp = al.run(df, F, model_names=("logistic", "gradient_boosting", "svm"), gb_iter=cfg["labs_gb_iter"],
             n_splits=cfg["labs_n_splits"], seed=seed, images=images, copies=copies, networks=networks)
choice = exp.loso_choice
pages.markdown("labs_choice", (
    f"mean held-out balanced accuracy {choice['with_size']:.3f} with the sizes, {choice['scale_free']:.3f} "
    f"scale-free: the page uses the **{'sizes kept' if exp.tf_size else 'scale-free'}** variant "
    f"({len(exp.view('typing-free').columns)} features)."))

# %% [markdown]
# ## In-domain: random 5-fold on rat S1
#
# The setting of the earlier pages: rat S1 cells, stratified random folds by cell, each fold seeded `seed + k`.
# Balanced accuracy (the mean of the two classes' recalls) is the metric on this page because the classes'
# shares change from source to source.
#
# ```{glue:figure} labs_in_domain
# :name: fig-labs-in-domain
#
# Balanced accuracy on rat S1, 5-fold cross-validation by cell (mean; error bar: sd over folds). Grey: typing-aware,
# green: typing-free.
# ```
#
# ```{glue:md} labs_in_domain_text
# :format: myst
# ```

# %%
ind = exp.in_domain["rat_s1_5fold"]
al.plot_scores(ind, xlabel="balanced accuracy, rat S1 5-fold")
plt.tight_layout()
pages.figure("labs_in_domain")
best_free, best_aware = al.best_model(ind, "typing-free"), al.best_model(ind, "typing-aware")
diff_in = evaluation.paired_difference(ind[best_free], ind[best_aware], "balanced_accuracy")
pages.markdown("labs_in_domain_text", "\n".join([
    f"* best typing-free model, {al.label(best_free)}: {al.say_score(ind[best_free])}, "
    f"{al.say_target(ind[best_free].summary()['balanced_accuracy'], TARGETS['in_domain_free'])};",
    f"* best typing-aware model, {al.label(best_aware)}: {al.say_score(ind[best_aware])}, "
    f"{al.say_target(ind[best_aware].summary()['balanced_accuracy'], TARGETS['in_domain_aware'])};",
    f"* paired over the same folds: {al.say_difference(diff_in)}."]))

# %% [markdown]
# ## Leave one source out
#
# Each source in turn is held out and the models are trained on all the others (Allen VISp neither trains nor is
# tested here: it is the external test). A source is held out only when each of its classes still has another
# source in training; the retinal ganglion cells and the dentate granule cells are all principal, so for them the
# score is the recall of principal cells. "Principal" there means a projection neuron, not a pyramidal shape: a
# retinal ganglion cell or a granule cell has no apical dendrite, so a model that learnt the shape of cortical
# pyramidal cells has no reason to call them principal.
#
# ```{glue:figure} labs_loso
# :name: fig-labs-loso
#
# Balanced accuracy on each held-out source (rows), for every model and view (columns), trained on the other
# sources.
# ```
#
# ```{glue:md} labs_loso_text
# :format: myst
# ```

# %%
loso = exp.loso["loso"]
al.plot_loso(exp)
plt.tight_layout()
pages.figure("labs_loso")
pairs = [evaluation.paired_difference(loso[n], loso[n.replace("_free", "_aware")], "balanced_accuracy")
         for n in sorted(loso) if n.endswith("_free") and n.replace("_free", "_aware") in loso]
pages.markdown("labs_loso_text", "\n".join(
    [f"* mean over the {len(exp.loso_sources)} held-out sources, {al.label(n)}: {al.say_score(loso[n])};"
     for n in sorted(loso)] + [f"* paired over the same held-out sources: {al.say_difference(d)}." for d in pairs]))

# %% [markdown]
# The held-out sources, their cells and the scores:

# %%
display(al.loso_table(exp).round(3))

# %% [markdown]
# ## The external test: Allen VISp, never trained on
#
# Trained once on rat S1 alone and once on every source but Allen, tested on every Allen VISp cell, and scored
# within each reconstruction type. The targets (issue 17, section 5; `chapter.TARGETS`) are the dashed lines of the
# figure: {glue:text}`labs_target_do:.2f` on the dendrite-only cells and {glue:text}`labs_target_full:.2f` on the
# full reconstructions, for the typing-free model. The difference between the views is paired on the same Allen
# cells, its interval from a bootstrap of the cells within each class (one split: no fold-based interval).
#
# ```{glue:figure} labs_external
# :name: fig-labs-external
#
# Balanced accuracy on Allen VISp within each reconstruction type (dark: dendrite-only, light: full), trained on rat
# S1 alone (left) or on every other source (right). Dashed: the targets.
# ```
#
# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
for ax, (split, title) in zip(axes, [("external_rat_s1", "trained on rat S1"), ("external_all", "trained on all "
                                                                                                  "other sources")]):
    al.plot_scores(exp.external[split], ("dendrite-only", "full"), ax=ax, xlabel="balanced accuracy on Allen VISp",
                   targets={"dendrite-only": TARGETS["dendrite-only"], "full": TARGETS["full"]})
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.15), ncol=2, frameon=False)
fig.tight_layout()
pages.figure("labs_external", fig)
pages.number("labs_target_do", TARGETS["dendrite-only"])
pages.number("labs_target_full", TARGETS["full"])

# %%
def external_lines(split):
    cvs, lines = exp.external[split], []
    for g in ("dendrite-only", "full"):
        mask = (df["reconstruction"] == g).to_numpy()
        for n in sorted(n for n in cvs if n.endswith("_free") and n.replace("_free", "_aware") in cvs):
            d = al.paired_bootstrap(cvs[n], cvs[n.replace("_free", "_aware")], mask, seed=seed)
            lines.append(f"* {g}, {al.label(n)}: {cvs[n].summary(g)['balanced_accuracy']:.3f}; "
                         f"{al.say_difference(d)}.")
    return lines


pages.markdown("labs_external_rat", "\n".join(external_lines("external_rat_s1")))
pages.markdown("labs_external_all", "\n".join(external_lines("external_all")))

# %% [markdown]
# Trained on rat S1 alone:
#
# ```{glue:md} labs_external_rat
# :format: myst
# ```
#
# Trained on every source but Allen:
#
# ```{glue:md} labs_external_all
# :format: myst
# ```
#
# **The headline number** is fixed without the Allen cells: the typing-free model that is best in
# leave-one-source-out, trained on rat S1, with the audited cells (next section) left out of training only if that
# raised the typing-free leave-one-source-out mean:
#
# ```{glue:md} labs_headline
# :format: myst
# ```

# %%
h = exp.headline
heads = {g: exp.headline_result(g) for g in ("dendrite-only", "full")}
aware_do = exp.external["external_rat_s1"][h["model"].replace("_free", "_aware")].summary("dendrite-only")[
    "balanced_accuracy"]
pages.markdown("labs_headline", "\n".join(
    [f"leave-one-source-out chose {al.label(h['model'])}, and "
     f"{'without' if h['audited_training'] else 'with'} the audited cells in training (typing-free mean "
     f"{h['loso_free_audited']:.3f} without them, {h['loso_free']:.3f} with them). On Allen VISp:", ""]
    + [f"* {g}: {v:.3f}, {al.say_target(v, TARGETS[g])}" for g, (_, _, v) in heads.items()]))

# %% [markdown]
# ## The fusion against its branches
#
# The fusion is trained on the same cells as its branches in every evaluation; the table gives, per evaluation,
# test group and view (rows), the fusion minus each branch (columns) with its 95% interval, paired over the same
# folds or held-out sources (corrected resampled t-test) or, on the external test, over the same Allen cells (a
# bootstrap of the cells within each class). The target: the fusion at least as good as every single branch
# in the same run.
#
# ```{glue:md} labs_fusion_text
# :format: myst
# ```

# %%
fus = al.fusion_table(exp)
main = fus[~fus["split"].str.endswith("_audited") & ((fus["split"] != "loso") | (fus["group"] == "all"))]
display(main.assign(branch=main["branch"].str.rsplit(",", n=1).str[0],
                    difference=[f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in zip(main["difference"], main["lo"],
                                                                                          main["hi"])])
        .pivot(index=["split", "group", "view"], columns="branch", values="difference"))

# %%
worse = main[main["difference"] < 0]
sig_worse = main[main["hi"] < 0]
fus_free = {(sp, g): exp_part[sp]["fusion_free"].summary(g)["balanced_accuracy"]
            for exp_part in (exp.in_domain, exp.loso, exp.external) for sp in exp_part
            for g in (("dendrite-only", "full") if sp.startswith("external") else ("all",))}
pages.markdown("labs_fusion_text", "\n".join([
    "* typing-free fusion: " + "; ".join(f"{sp.replace('_', ' ')}{'' if g == 'all' else ', ' + g} {v:.3f}"
                                          for (sp, g), v in fus_free.items()) + ";",
    f"* of {len(main)} comparisons with a branch (both views; every evaluation but the audited reruns), the fusion "
    f"is below the branch in {len(worse)} and significantly below (interval under 0) in {len(sig_worse)}"
    + (": " + "; ".join(f"{r.split.replace('_', ' ')}{'' if r.group == 'all' else ', ' + r.group}, "
                         f"{r.branch} {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]" for r in sig_worse.itertuples())
       if len(sig_worse) else "") + ";",
    f"* target (the fusion at least as good as every single branch): "
    f"**{'met' if not len(worse) else 'not met'}** by the point estimates, "
    f"{'met' if not len(sig_worse) else 'not met'} within the intervals."]))

# %% [markdown]
# ## Does augmentation make the typing-aware models robust?
#
# Each typing-aware model trained also on the augmented copies, against the same model without them, on the same
# folds, held-out sources and Allen cells (paired as for the fusion).
#
# ```{glue:md} labs_augment_text
# :format: myst
# ```

# %%
def augment_lines():
    if copies is None:
        return ["Not run (`augment=False`)."]
    lines = [f"{int(len(c) - c['scale'].isna().sum())} of {len(c)} cells have a {k} copy (rescaled by "
             f"{c['scale'].min():.2f} to {c['scale'].max():.2f})." for k, c in zip(aug.COPY_KINDS, copies)]
    for split, cvs, groups in [("rat_s1_5fold", exp.in_domain["rat_s1_5fold"], ("all",)),
                               ("loso", exp.loso["loso"], ("all",)),
                               ("external_rat_s1", exp.external["external_rat_s1"], ("dendrite-only", "full")),
                               ("external_all", exp.external["external_all"], ("dendrite-only", "full"))]:
        for n in sorted(n for n in cvs if n.endswith("_augmented_aware")):
            plain = n.replace("_augmented_aware", "_aware")
            for g in groups:
                d = al.paired(exp, cvs, n, plain, g)
                lines.append(f"* {split.replace('_', ' ')}{'' if g == 'all' else ', ' + g}: {al.label(n)} "
                             f"{cvs[n].summary(g)['balanced_accuracy']:.3f}, without the copies "
                             f"{cvs[plain].summary(g)['balanced_accuracy']:.3f}; {al.say_difference(d)}.")
    return lines


pages.markdown("labs_augment_text", "\n".join(augment_lines()))

# %% [markdown]
# ## A lab-adversarial network
#
# The issue asks for one model trained *against* the lab: the ephys chapter's domain-adversarial network
# {cite}`ganin2016` with each cell's source as its domain. A network reads the typing-free features (64 and
# 32 hidden units); a second head tries to name the cell's lab from the network's 32 features, and its gradient
# reaches the network reversed, so the network learns features that predict the class but not the lab. Because the
# classes' shares differ from lab to lab (the Vasques archive is almost all principal cells; some small sources
# hold one class), that head also reads the cell's class: it removes what the features say about the lab *beyond*
# what the class says, not the class itself (the conditional invariance of {cite}`li2018conditional`). Trained on
# rat S1 the adversary sees two labs; trained on every source but Allen, all of them. The control is the same
# network, same seeds and early stopping, with the adversary's weight 0. Both are compared on the same folds,
# held-out sources and Allen cells (paired as above):
#
# ```{glue:md} labs_adversary_text
# :format: myst
# ```

# %%
def adversary_lines():
    if networks is None:
        return ["Not run (`adversarial=False`)."]
    lines = []
    for split, cvs, groups in [("rat_s1_5fold", exp.in_domain["rat_s1_5fold"], ("all",)),
                               ("loso", exp.loso["loso"], ("all",)),
                               ("external_rat_s1", exp.external["external_rat_s1"], ("dendrite-only", "full")),
                               ("external_all", exp.external["external_all"], ("dendrite-only", "full"))]:
        for g in groups:
            a, b = (cvs[n].summary(g)["balanced_accuracy"] for n in ("lab_adversarial_free", "network_free"))
            d = al.paired(exp, cvs, "lab_adversarial_free", "network_free", g)
            diff = "no cell of this group" if d is None else (f"difference {d.mean:+.3f} (95% interval "
                                                               f"{d.lo:+.3f} to {d.hi:+.3f})")
            lines.append(f"* {split.replace('_', ' ')}{'' if g == 'all' else ', ' + g}: {a:.3f} with the adversary, "
                         f"{b:.3f} without; {diff}.")
    return lines


pages.markdown("labs_adversary_text", "\n".join(adversary_lines()))

# %% [markdown]
# Whether the adversary removed the lab from what the network learnt: both networks trained on every source but
# Allen, their 32 learnt features of every cell, and the share of each cell's 10 nearest neighbours in that space
# from its own source over chance (the measure of the section on clustering by lab, below; 1: no clustering by lab):
#
# ```{glue:md} labs_adversary_share
# :format: myst
# ```

# %%
reps = al.network_representations(df, F, networks, size=exp.tf_size) if networks else {}
net_share = {n: al.same_source_share(r, df["source"]) for n, r in reps.items()}
pages.markdown("labs_adversary_share", "Not run (`adversarial=False`)." if not reps else ", ".join(
    f"{al.MODEL_LABELS[n]} {x:.2f}" for n, x in net_share.items()) + (
    f" (the typing-free features themselves: "
    f"{al.same_source_share(exp.view('typing-free').to_numpy(float), df['source']):.2f}).") if reps else "")

# %% [markdown]
# ## Label audit
#
# Some labels of the rat S1 training cells contradict their own files. The rule, fixed before any model was scored
# and applied to the rat S1 archives (whose labs type the apical dendrite): a cell is flagged if it is labelled
# interneuron but has apical-typed samples, or is labelled interneuron but carries the Markram archive's pyramidal
# name suffix `-P<digit>` (such as `C170898A-P3`), or is labelled principal but has no apical-typed sample (weaker
# evidence: a spiny stellate cell has no apical dendrite; its m-type is listed). The flagged cells are then left out
# of training and test, and the in-domain and external evaluations rerun. (The external test cells are all kept:
# the rule covers only the rat S1 archives.)
#
# A caution on reading the typing-aware numbers without the flagged cells: the rule is written in terms of the
# apical type code, so once the flagged cells are gone, "has apical-typed samples" separates the remaining rat S1
# cells perfectly *by construction*, and a typing-aware model that reads it scores near 1. Only the typing-free
# numbers, whose features never see a type code, say whether the labels got cleaner.
#
# ```{glue:md} labs_audit_text
# :format: myst
# ```

# %%
audit = exp.audit
display(audit.groupby(["source", "reasons"]).size().rename("cells").to_frame())
display(audit.head(40))

# %%
def audit_line(split, cvs_all, cvs_clean, g="all"):
    names = sorted(set(cvs_all) & set(cvs_clean))
    return [f"* {split.replace('_', ' ')}{'' if g == 'all' else ', ' + g}, {al.label(n)}: "
            f"{cvs_all[n].summary(g)['balanced_accuracy']:.3f} with every cell, "
            f"{cvs_clean[n].summary(g)['balanced_accuracy']:.3f} without the flagged ones;" for n in names]


n_by = audit["reasons"].str.split(";").explode().value_counts()
lines = [f"{len(audit)} cells flagged: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in n_by.items()) + "."]
if "rat_s1_5fold" in exp.clean:
    lines += audit_line("rat S1 5-fold", exp.in_domain["rat_s1_5fold"], exp.clean["rat_s1_5fold"])
lines += audit_line("external (rat S1)", exp.external["external_rat_s1"], exp.clean["external_rat_s1"],
                    "dendrite-only")
pages.markdown("labs_audit_text", "\n".join(lines))

# %% [markdown]
# ## Does the representation cluster by lab?
#
# t-SNE {cite}`vandermaaten2008tsne` of the two views' features (z-scored after a signed log), every cell of every
# source, coloured by class (left) and by source (right). As a number: the share of each cell's 10 nearest
# neighbours (same features) that come from its own source, over the share expected by chance (1: no clustering by
# lab):
#
# ```{glue:md} labs_neighbours
# :format: myst
# ```
#
# ```{glue:figure} labs_tsne
# :name: fig-labs-tsne
#
# t-SNE of the typing-aware (top) and typing-free (bottom) features, coloured by class (left) and by source
# (right). In a representation that reads cell type rather than lab, the sources mix within each class.
# ```

# %%
fig, axes = plt.subplots(2, 2, figsize=(12, 10))
for row, view in zip(axes, ["typing-aware", "typing-free"]):
    X = exp.view(view).fillna(exp.view(view).median()).to_numpy(float)
    emb = evaluation.tsne(signed_log(X), seed=seed)
    evaluation.plot_embedding(emb, df["label"], ax=row[0], title=f"{view}, by class")
    evaluation.plot_embedding(emb, df["source"], ax=row[1], title=f"{view}, by source")
fig.tight_layout()
pages.figure("labs_tsne", fig)
share = {v: al.same_source_share(exp.view(v).to_numpy(float), df["source"]) for v in ("typing-aware", "typing-free")}
pages.markdown("labs_neighbours", ", ".join(f"{v} {x:.2f}" for v, x in share.items()) + ".")

# %% [markdown]
# ## What the numbers say, and what is left
#
# ```{glue:md} labs_left
# :format: myst
# ```
#
# Not done yet (issue 17): the chapter's networks (CNN, LSTM, Tree-LSTM) in the typing-free regime.

# %%
tried = ("* Tried: the two views, with a logistic regression, gradient boosting, an RBF SVM (added with the fusion) "
         "and TMD persistence images each and their fusion by stacking (added after the other models' numbers were "
         "seen; its inner folds are not grouped by source, so it learns how to weigh the branches within the "
         "training labs, not across them), the typing-aware models trained also on augmented copies (added at the "
         "same time; the truncated-axon copy added with the lab-adversarial network), the typing-free hand "
         "features with and without their size features (chosen by leave-one-source-out), training on rat S1 "
         "alone and on every source but Allen, with and without the "
         "audited cells, and a typing-free lab-adversarial network with its no-adversary control (added last, after "
         "every other number of this page had been seen; its settings were fixed before an exploratory run on these "
         "cells, Allen included, and not changed after it). While the features were written, Allen was scored once "
         "(an exploratory run of the first version); no feature or setting was changed because of it. One feature "
         "(`tips_per_reach`) was moved from the scale-free to the size group afterwards because a unit test showed "
         "it changes with scale.")

# %%
pages.markdown("labs_left", "\n".join([
    f"* Headline (external, typing-free, chosen on the training sources): dendrite-only "
    f"{heads['dendrite-only'][2]:.3f}, {al.say_target(heads['dendrite-only'][2], TARGETS['dendrite-only'])}; "
    f"full {heads['full'][2]:.3f}, {al.say_target(heads['full'][2], TARGETS['full'])}.",
    f"* In-domain, best typing-free {ind[best_free].summary()['balanced_accuracy']:.3f}, "
    f"{al.say_target(ind[best_free].summary()['balanced_accuracy'], TARGETS['in_domain_free'])}; best "
    f"typing-aware {ind[best_aware].summary()['balanced_accuracy']:.3f}, "
    f"{al.say_target(ind[best_aware].summary()['balanced_accuracy'], TARGETS['in_domain_aware'])} (the best of "
    f"{sum(n.endswith('_aware') for n in ind)} typing-aware and {sum(n.endswith('_free') for n in ind)} "
    "typing-free models on the same folds that score them, so slightly optimistic).", tried]))

# %%
ext_rat = exp.external["external_rat_s1"]


def bal(cvs, name, group="all"):
    return cvs[name].summary(group)["balanced_accuracy"]


gba, gb = "gradient_boosting_augmented_aware", "gradient_boosting_aware"
aug_said = ("augmentation not run." if copies is None else
            f"typing-aware gradient boosting trained also on augmented copies (rat S1): Allen dendrite-only "
            f"{bal(ext_rat, gba, 'dendrite-only'):.3f} (without the copies {bal(ext_rat, gb, 'dendrite-only'):.3f}), "
            f"full {bal(ext_rat, gba, 'full'):.3f}; its leave-one-source-out mean {bal(exp.loso['loso'], gba):.3f} "
            f"against {bal(exp.loso['loso'], gb):.3f} without, so the training sources alone would not have picked "
            "it (and the headline is typing-free by the issue's rule);")

# %%
ext_all = exp.external["external_all"]
adversary_said = ("* lab-adversarial network not run;" if networks is None else
                  "* the lab-adversarial network (typing-free) against the same network without its adversary, "
                  "trained on every source but Allen: Allen dendrite-only "
                  f"{bal(ext_all, 'lab_adversarial_free', 'dendrite-only'):.3f} against "
                  f"{bal(ext_all, 'network_free', 'dendrite-only'):.3f}, full "
                  f"{bal(ext_all, 'lab_adversarial_free', 'full'):.3f} against "
                  f"{bal(ext_all, 'network_free', 'full'):.3f}; trained on rat S1 alone (two labs): dendrite-only "
                  f"{bal(ext_rat, 'lab_adversarial_free', 'dendrite-only'):.3f} against "
                  f"{bal(ext_rat, 'network_free', 'dendrite-only'):.3f} (intervals in the section below);")

# %%
pages.markdown("labs_summary", "\n".join([
    f"* Allen VISp, never trained on, typing-free ({al.label(h['model'])}, trained on rat S1): dendrite-only "
    f"{heads['dendrite-only'][2]:.3f}, {al.say_target(heads['dendrite-only'][2], TARGETS['dendrite-only'])}; "
    f"full reconstructions {heads['full'][2]:.3f}, {al.say_target(heads['full'][2], TARGETS['full'])};",
    f"* the same model typing-aware, trained on every rat S1 cell, dendrite-only: {aware_do:.3f};",
    f"* {aug_said}",
    f"* the typing-free fusion of the branches, trained on rat S1: Allen dendrite-only "
    f"{ext_rat['fusion_free'].summary('dendrite-only')['balanced_accuracy']:.3f}, full "
    f"{ext_rat['fusion_free'].summary('full')['balanced_accuracy']:.3f} (leave-one-source-out "
    f"{exp.loso['loso']['fusion_free'].summary()['balanced_accuracy']:.3f});",
    adversary_said,
    f"* in-domain (rat S1, 5-fold): {al.label(best_free)} {al.say_score(ind[best_free])}, {al.label(best_aware)} "
    f"{al.say_score(ind[best_aware])}; {al.say_difference(diff_in)}."]))

# %%
extra = {results.key(al.TASK, f"features_{al.VIEW_NAMES[v]}", "same_source_share"): x for v, x in share.items()}
extra[results.key(al.TASK, "tmd", "n_cells_with_failed_neurites")] = n_fail
extra.update({results.key(al.TASK, n, "same_source_share"): x for n, x in net_share.items()})
path = results.write_results("morphology", "08_across_labs", {**al.metrics_of(exp), **extra},
                             parameters=dict(profile=profile, seed=seed, **{k: cfg[k] for k in (
                                 "labs_per_source_class", "labs_gb_iter", "labs_n_splits", "labs_tmd_resolution",
                                 "labs_net_epochs")}, adversarial=adversarial),
                             data=datasets.checksums(*mdata.data_keys()))
