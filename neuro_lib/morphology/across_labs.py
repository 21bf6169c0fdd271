"""Principal cell against interneuron across labs: cells of every source, two feature views, grouped and external
evaluations, and the label audit (the chapter's issue 17, "cell types that survive a change of lab").

The chapter's models reach 0.94-0.96 inside rat S1 but read how a lab traces and types its files: in rat S1, 99% of
interneurons carry an axon and 90% of principal cells carry apical-typed (SWC type 4) samples. This module gives

* :func:`cells`: every principal/interneuron-labelled reconstruction of the mirror (``labels.csv``, column
  ``cell_class``; the Allen VISp cells are labelled there from their dendrite type: spiny = principal, aspiny and
  sparsely spiny = interneuron), with its ``source`` (lab/collection) and ``reconstruction`` (``"full"`` or
  ``"dendrite-only"``: the Allen metadata's ``reconstruction_type``, else whether the file has axon samples);
* two feature **views** (:func:`view_tables`): *typing-aware*, the chapter's features as given (the 20
  morphometrics of :mod:`~neuro_lib.morphology.features` and the 77 per-neurite ones of
  :mod:`~neuro_lib.morphology.neurites`, axon and type codes included), and *typing-free*
  (:func:`~neuro_lib.morphology.typing_free.typing_free_features`): the axon (type 2) removed, every other
  neurite one type, and only features that do not change under a rotation or a mirror flip of the cell (so not
  under the lab's pia-up / pia-down convention), read from the geometry alone (no radii and no sample counts,
  which follow a lab's tracing protocol);
* the splits (:func:`in_domain_splits`, :func:`leave_one_source_out`, :func:`external_split`), the estimators
  (:func:`models`) and the label audit (:func:`label_audit`).

The features themselves are in :mod:`~neuro_lib.morphology.typing_free` (cached apart from this module).
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation import Split, kfold_splits, paired_bootstrap
from .io import SWCError, load_swc
from .typing_free import TF_SHAPE, TYPING_AWARE, TYPING_FREE, feature_matrix

__all__ = ["CLASSES", "EXTERNAL_SOURCE", "RAT_S1_SOURCES", "TASK", "VIEW_NAMES", "AcrossLabs", "cells",
           "view_tables", "in_domain_splits", "leave_one_source_out", "external_split", "logistic", "models",
           "label_audit", "source_table", "image_model", "fusion_model", "lab_networks", "NETWORKS", "run",
           "best_model", "metrics_of", "paired", "fusion_differences", "fusion_table", "augmentation_differences",
           "adversary_differences", "network_representations",
           "plot_sources", "plot_scores", "loso_table", "plot_loso", "same_source_share", "label", "say_score",
           "say_difference", "say_target", "say_counts", "say_habits",
           "PREDICT_MODELS", "PREDICT_SIZE", "CellModel", "fitted_model"]

CLASSES = ("interneuron", "principal")
#: the external test source (Allen Cell Types, mouse VISp): never trained on in the external test
EXTERNAL_SOURCE = "allen_cajal"
RAT_S1_SOURCES = ("rat_s1_markram", "rat_s1_vasques")

# ---------------------------------------------------------------------------------------------------------------
# cells and views
# ---------------------------------------------------------------------------------------------------------------

def cells(*, n_per_source_class: int | None = None, seed: int = 0, n_jobs: int = 2,
          progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every principal/interneuron-labelled cell of every source of the mirror, and its features.

    Returns ``(df, features)``, rows aligned: ``df`` has ``cell_id``, ``path``, ``label`` (``"interneuron"`` or
    ``"principal"``, from ``labels.csv``'s ``cell_class``), ``source`` (lab/collection), ``archive``, ``species``,
    ``cell_type``, ``neuron_name``, ``reconstruction`` (``"full"``/``"dendrite-only"``: the Allen metadata's
    ``reconstruction_type`` in ``notes``, else ``"full"`` when the file has axon-typed samples) and ``has_apical``
    (bool: apical-typed samples); ``features`` the columns of :func:`~neuro_lib.morphology.typing_free.cell_features`.

    Dropped and counted in ``df.attrs["skipped"]`` (``{cell_id: reason}``, with a warning): malformed files
    (:class:`~neuro_lib.morphology.io.SWCError`) and the rat S1 cells whose two label sources disagree
    (``label_conflict == "yes"``). ``n_per_source_class`` keeps a seeded subset of at most that many cells per
    (source, class) (smoke runs).
    """
    from . import data

    df = data.labels()
    df = df[df["cell_class"].isin(CLASSES)].sort_values("cell_id").reset_index(drop=True)
    skipped = {c: "label conflict between the two rat S1 sources"
               for c in df.loc[df["label_conflict"] == "yes", "cell_id"]}
    df = df[df["label_conflict"] != "yes"]
    if n_per_source_class is not None:
        df = (df.sample(frac=1.0, random_state=seed).groupby(["source", "cell_class"]).head(n_per_source_class)
                .sort_values("cell_id"))
    df = df.reset_index(drop=True)
    feats = feature_matrix(df["path"], n_jobs=n_jobs, progress=progress)
    bad = feats["n_samples"].isna().to_numpy()
    for cid, p in zip(df.loc[bad, "cell_id"], df.loc[bad, "path"]):
        try:
            load_swc(p)
            skipped[cid] = "unreadable"
        except SWCError as err:
            skipped[cid] = err.reason
    if bad.any():
        warnings.warn(f"across_labs.cells: dropped {int(bad.sum())} malformed SWC file(s) "
                      f"(e.g. {df.loc[bad, 'cell_id'].iloc[0]})", stacklevel=2)
    df, feats = df[~bad].reset_index(drop=True), feats[~bad].reset_index(drop=True)
    meta = df["notes"].fillna("").str.extract(r"reconstruction_type=([^;]+)")[0]
    derived = np.where(feats["n_axon_samples"] > 0, "full", "dendrite-only")
    out = pd.DataFrame({"cell_id": df["cell_id"], "path": df["path"], "label": df["cell_class"],
                        "source": df["source"], "archive": df["archive"], "species": df["species"],
                        "cell_type": df["cell_type"], "neuron_name": df["neuron_name"].astype(str),
                        "reconstruction": meta.fillna(pd.Series(derived)).to_numpy(),
                        "has_apical": (feats["n_apical_samples"] > 0).to_numpy()})
    out.attrs["skipped"] = skipped
    return out, feats


def view_tables(features: pd.DataFrame, view: str, *, size: bool = True) -> pd.DataFrame:
    """The columns of one view: ``"typing-aware"`` (``TYPING_AWARE``) or ``"typing-free"``
    (``TYPING_FREE``, or only ``TF_SHAPE`` when ``size`` is False: scale-free). Raises ``KeyError`` for an
    unknown view."""
    if view == "typing-aware":
        return features[TYPING_AWARE]
    if view == "typing-free":
        return features[TYPING_FREE if size else TF_SHAPE]
    raise KeyError(f"unknown view {view!r}; expected 'typing-aware' or 'typing-free'")


def source_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cells per source, class and reconstruction type (a count table for the page)."""
    return df.groupby(["source", "reconstruction", "label"]).size().unstack("label", fill_value=0)


# ---------------------------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------------------------

def in_domain_splits(y: Sequence, *, n_splits: int = 5, seed: int = 0) -> list[Split]:
    """Random stratified ``n_splits``-fold by cell (:func:`neuro_lib.evaluation.kfold_splits`, seed ``seed``)."""
    return kfold_splits(y, n_splits, seed=seed)


def leave_one_source_out(df: pd.DataFrame, *, exclude: Sequence[str] = (EXTERNAL_SOURCE,),
                         min_cells: int = 5) -> tuple[list[Split], list[str]]:
    """One :class:`~neuro_lib.evaluation.Split` per held-out source: its cells are the test part, the cells of
    every other source (those in ``exclude`` neither trained nor tested on) the training part.

    A source is held out only if every class among its cells still has another source in training (a class with
    a single source cannot be tested across labs) and it has at least ``min_cells`` cells. Returns
    ``(splits, held_out_sources)`` (split ``k`` holds out ``held_out_sources[k]``)."""
    src = df["source"].to_numpy()
    lab = df["label"].to_numpy()
    usable = ~np.isin(src, list(exclude))
    sources_of = {c: set(src[usable & (lab == c)]) for c in CLASSES}
    out, held = [], []
    for s in sorted(set(src[usable])):
        test = np.flatnonzero(src == s)
        classes = set(lab[test])
        if len(test) < min_cells or any(len(sources_of[c] - {s}) == 0 for c in classes):
            continue
        train = np.flatnonzero(usable & (src != s))
        out.append(Split(train, np.array([], int), test, fold=len(out)))
        held.append(s)
    return out, held


def external_split(df: pd.DataFrame, *, train_sources: Sequence[str] | None = None,
                   test_source: str = EXTERNAL_SOURCE, mask: np.ndarray | None = None) -> Split:
    """The external test: train on ``train_sources`` (None: every source but ``test_source``), test on
    ``test_source``. ``mask`` (n,) bool, optionally, keeps only those cells on both sides. Raises ``ValueError`` if
    ``test_source`` is among the training sources or has no cell."""
    src = df["source"].to_numpy()
    keep = np.ones(len(df), bool) if mask is None else np.asarray(mask, bool)
    if train_sources is None:
        train_sources = sorted(set(src) - {test_source})
    if test_source in train_sources:
        raise ValueError(f"external test: {test_source!r} is among the training sources")
    test = np.flatnonzero((src == test_source) & keep)
    if not len(test):
        raise ValueError(f"external test: no cell of source {test_source!r}")
    train = np.flatnonzero(np.isin(src, list(train_sources)) & keep)
    return Split(train, np.array([], int), test)


# ---------------------------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------------------------

def logistic(C: float = 1.0, random_state: int = 0):
    """Median imputation, :func:`~neuro_lib.morphology.svm.signed_log`, z-scoring and an L2 logistic regression
    with balanced class weights (the classes' shares differ from source to source), as a scikit-learn Pipeline."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from .svm import signed_log

    return make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(signed_log), StandardScaler(),
                         LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=random_state))


def models(names: Sequence[str] = ("logistic", "gradient_boosting", "svm"), *, gb_iter: int = 300) -> dict:
    """The estimators compared in both views: ``logistic`` (:func:`logistic`), ``gradient_boosting`` (the
    chapter's :func:`~neuro_lib.morphology.neurites.neurite_gb`, ``gb_iter`` trees) and ``svm`` (the chapter's RBF
    SVM, :func:`~neuro_lib.morphology.svm.svm_pipeline`). Raises ``KeyError`` for an unknown name."""
    from .neurites import neurite_gb
    from .svm import svm_pipeline

    make = {"logistic": logistic, "gradient_boosting": lambda: neurite_gb(max_iter=gb_iter), "svm": svm_pipeline}
    unknown = [n for n in names if n not in make]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown}; known: {sorted(make)}")
    return {n: make[n]() for n in names}


# ---------------------------------------------------------------------------------------------------------------
# label audit
# ---------------------------------------------------------------------------------------------------------------

_PYRAMIDAL_NAME = re.compile(r"-P\d+$")


def label_audit(df: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The rat S1 cells whose SWC typing or file name contradicts their label, one row per flagged cell.

    The rule (fixed before any model was scored): in the rat S1 archives, whose labs type the apical dendrite,

    * ``interneuron_with_apical``: labelled interneuron, with apical-typed (SWC type 4) samples;
    * ``pyramidal_name``: labelled interneuron, with a ``-P<digit>`` suffix in its name (the Markram archive's
      pyramidal-cell naming, e.g. ``C170898A-P3``);
    * ``principal_without_apical``: labelled principal, no apical-typed sample (a spiny stellate cell has no apical
      dendrite, so this flag alone is weaker evidence; its m-type is listed).

    Columns: ``cell_id``, ``source``, ``label``, ``cell_type``, ``reasons`` (the flags, ``;``-joined) and the
    evidence ``n_apical_samples``, ``n_axon_samples``, ``n_samples``. ``df`` and ``features`` as :func:`cells`
    returns them."""
    rat = df["source"].isin(RAT_S1_SOURCES).to_numpy()
    apical = features["n_apical_samples"].to_numpy() > 0
    intern = (df["label"] == "interneuron").to_numpy()
    name = df["neuron_name"].str.replace(r"\.CNG$", "", regex=True).str.contains(_PYRAMIDAL_NAME).to_numpy()
    flags = {"interneuron_with_apical": rat & intern & apical, "pyramidal_name": rat & intern & name,
             "principal_without_apical": rat & ~intern & ~apical}
    any_flag = np.any(list(flags.values()), axis=0)
    reasons = [";".join(k for k, v in flags.items() if v[i]) for i in np.flatnonzero(any_flag)]
    out = df.loc[any_flag, ["cell_id", "source", "label", "cell_type"]].copy()
    out["reasons"] = reasons
    for c in ("n_apical_samples", "n_axon_samples", "n_samples"):
        out[c] = features.loc[any_flag, c].astype(int).to_numpy()
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# the page's experiment
# ---------------------------------------------------------------------------------------------------------------

#: short names of the views in results keys (``<model>_<view>``, e.g. ``logistic_free``)
VIEW_NAMES = {"typing-aware": "aware", "typing-free": "free"}
TASK = "principal_interneuron"


@dataclass
class AcrossLabs:
    """What :func:`run` returns. ``df``/``features`` as :func:`cells`; ``tf_size`` whether the typing-free view
    keeps the size features (chosen by leave-one-source-out, :func:`run`); ``loso_choice`` the mean held-out
    balanced accuracy of each candidate (``{"with_size": x, "scale_free": y}``); ``in_domain``, ``loso``,
    ``external`` and ``clean`` ``{split name: {model name: CVResult}}`` (model names ``<model>_<aware|free>``;
    ``clean`` holds the in-domain and external runs without the audited cells, and ``"loso"``, the typing-free
    leave-one-source-out with the audited cells out of training only); ``loso_sources`` the held-out source of
    each leave-one-source-out split; ``audit`` the :func:`label_audit` table; ``headline`` the choices made on the
    training sources for the headline external number (``model``: the typing-free model best in
    leave-one-source-out; ``audited_training``: whether leaving the audited cells out of training raised the
    typing-free leave-one-source-out mean over the models run both ways (the networks are not),
    ``loso_free`` and ``loso_free_audited``)."""

    df: pd.DataFrame
    features: pd.DataFrame
    tf_size: bool
    loso_choice: dict
    in_domain: dict
    loso: dict
    external: dict
    clean: dict
    loso_sources: list
    audit: pd.DataFrame
    headline: dict

    def headline_result(self, group: str) -> tuple[str, str, float]:
        """``(model, split, balanced accuracy on group)`` of the page's headline external result: the typing-free
        model best in leave-one-source-out, trained on rat S1, with the audited cells left out of training if that
        helped leave-one-source-out (``headline``); chosen without the Allen cells."""
        part = self.clean if self.headline["audited_training"] else self.external
        cv = part["external_rat_s1"][self.headline["model"]]
        return self.headline["model"], "external_rat_s1" + ("_audited" if self.headline["audited_training"] else ""), \
            float(cv.summary(group)["balanced_accuracy"])

    def view(self, view: str) -> pd.DataFrame:
        return view_tables(self.features, view, size=self.tf_size)


def image_model(C: float = 0.1, random_state: int = 0):
    """The classifier on TMD persistence images (:mod:`~neuro_lib.morphology.persistence`): z-scoring and an L2
    logistic regression with balanced class weights (``C`` 0.1: hundreds of correlated pixels, set a priori, not
    tuned)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0), StandardScaler(),
                         LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=random_state))


#: the typing-free networks of :func:`lab_networks` (not branches of the fusion)
NETWORKS = ("lab_adversarial", "network")


def lab_networks(*, epochs: int = 150, max_steps: int | None = None, random_state: int = 0) -> dict:
    """The lab-adversarial model of issue 17 (section 2: "the ephys chapter's DANN idea, with the source lab as the
    domain") and its control: ``{"lab_adversarial": LabAdversarialClassifier(), "network": the same network with
    domain_weight=0}`` (:class:`~neuro_lib.morphology.adversarial.LabAdversarialClassifier`: class-conditional
    adversary, hidden (64, 32), early stopping; at most ``epochs`` epochs and ``max_steps`` optimisation steps).
    :func:`run` trains them on the typing-free features with each cell's ``source`` as its domain, so the adversary
    sees two labs when trained on rat S1 and every training source otherwise."""
    from .adversarial import LabAdversarialClassifier

    kw = dict(epochs=epochs, max_steps=max_steps, random_state=random_state)
    return {"lab_adversarial": LabAdversarialClassifier(**kw),
            "network": LabAdversarialClassifier(domain_weight=0.0, **kw)}


def network_representations(df: pd.DataFrame, features: pd.DataFrame, networks: dict, *, size: bool = True,
                            train_sources: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{name: (n_cells, hidden[-1]) learnt features of every cell}``: each network of ``networks``
    (:func:`lab_networks`) fitted on the typing-free view of the cells of ``train_sources`` (None: every source but
    Allen, the ``external_all`` training set), with ``source`` as the domain. For "does the representation cluster
    by lab?" (:func:`same_source_share`)."""
    from sklearn.base import clone

    X = view_tables(features, "typing-free", size=size).to_numpy(float)
    src = df["source"].to_numpy()
    train = external_split(df, train_sources=train_sources).train
    out = {}
    for name, est in networks.items():
        fitted = clone(est).fit(X[train], df["label"].to_numpy()[train], domain=src[train])
        out[name] = fitted.features(X)
    return out


def fusion_model(n_hand: int, n_image: int = 0, names: Sequence[str] = ("logistic", "gradient_boosting"), *,
                 gb_iter: int = 300, cv: int = 5, random_state: int = 0):
    """The fusion of the page's branches (issue 17: "fuse whatever branches are best, fitted on inner folds"): a
    scikit-learn :class:`~sklearn.ensemble.StackingClassifier` whose branches are the hand-feature models ``names``
    (:func:`models`) on the first ``n_hand`` columns of ``X`` and, with ``n_image`` > 0, the TMD classifier
    (:func:`image_model`) on the next ``n_image`` (a flattened persistence image); a logistic regression on the
    branches' out-of-fold class probabilities (``cv`` unshuffled stratified inner folds of the training cells only,
    so no test cell is seen) learns how much to trust each. Every branch is then refitted on all training cells.
    Each branch first drops the columns without two distinct values among its training cells
    (:class:`~sklearn.feature_selection.VarianceThreshold`; NaN ignored): an inner fold of a small or lopsided set
    can hold a feature that is missing in all of its cells, which scikit-learn's histogram gradient boosting rejects.
    Input ``X`` (n_cells, n_hand + n_image). Raises ``ValueError`` for ``n_hand`` < 1 and ``KeyError`` for an
    unknown model name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import StackingClassifier
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline

    if n_hand < 1:
        raise ValueError(f"fusion_model needs hand features, got n_hand={n_hand}")

    def on(cols, est):
        return Pipeline([("columns", ColumnTransformer([("keep", "passthrough", cols)])),
                         ("informative", VarianceThreshold(0.0)), ("model", est)])

    hand = list(range(n_hand))
    branches = [(n, on(hand, e)) for n, e in models(names, gb_iter=gb_iter).items()]
    if n_image:
        branches.append(("tmd", on(list(range(n_hand, n_hand + n_image)), image_model())))
    return StackingClassifier(branches, final_estimator=LogisticRegression(max_iter=5000, random_state=random_state),
                              cv=StratifiedKFold(cv), stack_method="predict_proba")


def _cv_views(df, features, splits, names, gb_iter, seed, *, size=True, groups=None, views=tuple(VIEW_NAMES),
              images=None, hand=True, fusion=False, copies=None, networks=None, desc="cross-validation"):
    """``{<model>_<view>: CVResult}`` of the hand-feature models ``names`` (``hand``), the TMD peer (``images``),
    their fusion (``fusion``: :func:`fusion_model` of the same branches; only the fusion when ``hand`` is False),
    the typing-free ``networks`` (``{name: estimator}``, :func:`lab_networks`; each cell's ``source`` passed to
    ``fit`` as ``domain``) and, with ``copies`` (:func:`~neuro_lib.morphology.augment.copy_features`, rows aligned
    with ``features``, or a list of them, one per kind of copy), each hand-feature model of the typing-aware view
    trained also on the cells' augmented copies (``<model>_augmented_aware``,
    :class:`~neuro_lib.morphology.augment.WithCopies`)."""
    from ..evaluation import cross_validate
    from .augment import WithCopies

    y = df["label"].to_numpy()
    out = {}
    for view in views:
        X = view_tables(features, view, size=size).to_numpy(float)
        if hand:
            est = {f"{m}_{VIEW_NAMES[view]}": e for m, e in models(names, gb_iter=gb_iter).items()}
            out.update(cross_validate(est, X, y, splits, seed=seed, groups=groups, progress=False, desc=desc))
        if hand and copies is not None and view == "typing-aware":
            blocks = [copies] if isinstance(copies, pd.DataFrame) else list(copies)
            est = {f"{m}_augmented_aware": WithCopies(e, X.shape[1], n_copies=len(blocks))
                   for m, e in models(names, gb_iter=gb_iter).items()}
            XX = np.hstack([X, *(c[TYPING_AWARE].to_numpy(float) for c in blocks)])
            out.update(cross_validate(est, XX, y, splits, seed=seed, groups=groups, progress=False, desc=desc))
        if images is not None and not (fusion and not hand):
            out.update(cross_validate({f"tmd_{VIEW_NAMES[view]}": image_model()}, images[view], y, splits,
                                      seed=seed, groups=groups, progress=False, desc=desc))
        if fusion:
            img = np.zeros((len(y), 0)) if images is None else np.asarray(images[view], float).reshape(len(y), -1)
            fused = fusion_model(X.shape[1], img.shape[1], names, gb_iter=gb_iter)
            out.update(cross_validate({f"fusion_{VIEW_NAMES[view]}": fused}, np.hstack([X, img]), y, splits,
                                      seed=seed, groups=groups, progress=False, desc=desc))
        if networks and view == "typing-free":
            out.update(cross_validate({f"{m}_free": e for m, e in networks.items()}, X, y, splits, seed=seed,
                                      groups=groups, fit_params={"domain": df["source"].to_numpy()}, progress=False,
                                      desc=desc))
    return out


def run(df: pd.DataFrame, features: pd.DataFrame, *, model_names: Sequence[str] = ("logistic", "gradient_boosting"),
        gb_iter: int = 200, n_splits: int = 5, seed: int = 0, images: dict | None = None, fusion: bool = True,
        copies: pd.DataFrame | Sequence[pd.DataFrame] | None = None, networks: dict | None = None,
        progress: bool = True) -> AcrossLabs:
    """Every evaluation of the page, on the same cells (``df``, ``features`` from :func:`cells`):

    1. the typing-free view's variant (with or without the size features, ``TF_SIZE`` of
       :mod:`~neuro_lib.morphology.typing_free`) chosen by leave-one-source-out on the training sources (Allen
       left out), by the mean over held-out sources and models of the balanced accuracy: the Allen cells play no
       part in the choice;
    2. ``in_domain["rat_s1_5fold"]``: random stratified ``n_splits``-fold on the rat S1 cells, both views;
    3. ``loso["loso"]``: :func:`leave_one_source_out` on every source but Allen, both views;
    4. ``external``: trained on rat S1 alone (``"external_rat_s1"``) and on every other source
       (``"external_all"``), tested on Allen VISp, scored within each reconstruction type (groups);
    5. ``clean``: 2 and the rat S1 external test again without the cells :func:`label_audit` flags (in training
       and in test), and 3 (typing-free) with them out of training only;
    6. ``headline``: the typing-free model and training set of the headline external number, chosen by
       leave-one-source-out (:class:`AcrossLabs`).
    Fold ``k`` is seeded ``seed + k`` (:func:`neuro_lib.evaluation.cross_validate`). ``images`` (optional,
    :func:`neuro_lib.morphology.persistence.persistence_images` of the cells) adds the TMD peer, ``tmd_<view>``
    (:func:`image_model`), to every evaluation (not to the choice in 1). ``fusion`` adds ``fusion_<view>``
    (:func:`fusion_model` of the hand-feature models and, with ``images``, TMD) to every evaluation but the choice
    in 1; it is one of the candidates of 6. ``copies`` (:func:`~neuro_lib.morphology.augment.copy_features` of the
    cells, or a list of them, one per kind of copy) adds the typing-aware hand-feature models trained also on
    augmented copies (``<model>_augmented_aware``) to 2, 3 and 4. ``networks`` (:func:`lab_networks`) adds the
    typing-free lab-adversarial network and its control (``lab_adversarial_free``, ``network_free``) to 2, 3 and 4
    (they are candidates of 6, not branches of the fusion). ``progress``: a tqdm bar over the steps."""
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    with threadpool_limits(1):  # OpenMP gradient boosting on a shared machine: one thread is faster and repeatable
        return _run(df, features, model_names, gb_iter, n_splits, seed, images, fusion, copies, networks,
                    tqdm(total=6, desc="across labs", disable=not progress))


def _run(df, features, model_names, gb_iter, n_splits, seed, images, fusion, copies, networks, steps) -> AcrossLabs:
    cv_kw = dict(images=images, fusion=fusion)
    net_kw = dict(networks=networks)
    loso_splits, held = leave_one_source_out(df)
    groups = df["source"].to_numpy()
    choice, free = {}, {}
    for size, name in ((True, "with_size"), (False, "scale_free")):
        free[size] = _cv_views(df, features, loso_splits, model_names, gb_iter, seed, size=size,
                               views=("typing-free",), groups=groups)
        choice[name] = float(np.mean([np.nanmean(c.fold_values("balanced_accuracy")) for c in free[size].values()]))
    tf_size = choice["with_size"] >= choice["scale_free"]
    loso = {"loso": {**_cv_views(df, features, loso_splits, model_names, gb_iter, seed, views=("typing-aware",),
                                 groups=groups, copies=copies, **cv_kw), **free[tf_size]}}
    if images is not None:
        loso["loso"].update(_cv_views(df, features, loso_splits, model_names, gb_iter, seed, views=("typing-free",),
                                      groups=groups, images=images, hand=False))
    if fusion:
        loso["loso"].update(_cv_views(df, features, loso_splits, model_names, gb_iter, seed, size=tf_size,
                                      views=("typing-free",), groups=groups, images=images, hand=False, fusion=True))
    if networks:
        loso["loso"].update(_cv_views(df, features, loso_splits, model_names, gb_iter, seed, size=tf_size,
                                      views=("typing-free",), groups=groups, hand=False, networks=networks))
    steps.update(2)
    rat = df["source"].isin(RAT_S1_SOURCES).to_numpy()
    rat_idx = np.flatnonzero(rat)
    folds = [Split(rat_idx[s.train], rat_idx[s.val], rat_idx[s.test], fold=s.fold)
             for s in in_domain_splits(df["label"].to_numpy()[rat], n_splits=n_splits, seed=seed)]
    in_domain = {"rat_s1_5fold": _cv_views(df, features, folds, model_names, gb_iter, seed, size=tf_size,
                                           copies=copies, **cv_kw, **net_kw)}
    steps.update()
    rec = df["reconstruction"].to_numpy()
    external = {name: _cv_views(df, features, [external_split(df, train_sources=tr)], model_names, gb_iter, seed,
                                size=tf_size, groups=rec, copies=copies, **cv_kw, **net_kw)
                for name, tr in (("external_rat_s1", RAT_S1_SOURCES), ("external_all", None))}
    steps.update()
    audit = label_audit(df, features)
    ok = ~df["cell_id"].isin(audit["cell_id"]).to_numpy()
    clean = {}
    ok_rat = np.flatnonzero(rat & ok)
    if len(ok_rat) and pd.Series(df["label"].to_numpy()[ok_rat]).value_counts().min() >= n_splits:
        folds_ok = [Split(ok_rat[s.train], ok_rat[s.val], ok_rat[s.test], fold=s.fold)
                    for s in in_domain_splits(df["label"].to_numpy()[ok_rat], n_splits=n_splits, seed=seed)]
        clean["rat_s1_5fold"] = _cv_views(df, features, folds_ok, model_names, gb_iter, seed, size=tf_size, **cv_kw)
    steps.update()
    clean["external_rat_s1"] = _cv_views(df, features, [external_split(df, train_sources=RAT_S1_SOURCES, mask=ok)],
                                         model_names, gb_iter, seed, size=tf_size, groups=rec, **cv_kw)
    # leave-one-source-out with the flagged cells out of training only (every held-out cell still tested)
    loso_ok = [Split(np.intersect1d(s.train, np.flatnonzero(ok)), s.val, s.test, fold=s.fold) for s in loso_splits]
    clean["loso"] = _cv_views(df, features, loso_ok, model_names, gb_iter, seed, size=tf_size, groups=groups,
                              views=("typing-free",), **cv_kw)
    steps.update()
    steps.close()
    free_loso = {n: c for n, c in loso["loso"].items() if n.endswith("_free")}
    headline_model = max(free_loso, key=lambda n: free_loso[n].summary()["balanced_accuracy"])
    # the same models on both sides (the networks are not rerun without the audited cells)
    mean_all = np.mean([free_loso[n].summary()["balanced_accuracy"] for n in clean["loso"]])
    mean_ok = np.mean([c.summary()["balanced_accuracy"] for c in clean["loso"].values()])
    headline = {"model": headline_model, "audited_training": bool(mean_ok > mean_all),
                "loso_free": float(mean_all), "loso_free_audited": float(mean_ok)}
    return AcrossLabs(df, features, tf_size, choice, in_domain, loso, external, clean, held, audit, headline)


def best_model(cvs: dict, view: str, metric: str = "balanced_accuracy", group: str = "all") -> str:
    """The name (``<model>_<view>``) with the highest mean ``metric`` on ``group`` among ``cvs`` of ``view``."""
    short = VIEW_NAMES[view]
    names = [n for n in cvs if n.endswith(f"_{short}")]
    return max(names, key=lambda n: cvs[n].summary(group)[metric])


def metrics_of(exp: AcrossLabs) -> dict[str, float]:
    """The flat results mapping of :func:`run` (``results.key`` slots: task ``principal_interneuron``, model
    ``<model>_<aware|free>``, split the evaluation's name, group a reconstruction type or a held-out source), plus
    the paired differences free - aware of each model (in-domain and leave-one-source-out: corrected resampled
    t-test; external: :func:`paired_bootstrap` within each reconstruction type) and the audit counts."""
    from ..evaluation import paired_difference
    from ..results import cv_metrics, diff_metrics, key

    mets = ("accuracy", "balanced_accuracy", "macro_f1", "auc")
    out: dict[str, float] = {}
    for part in (exp.in_domain, exp.loso, exp.external):
        for split, cvs in part.items():
            for name, cv in cvs.items():
                out.update(cv_metrics(cv, TASK, name, split=split, metrics=mets))
    for split, cvs in exp.clean.items():
        for name, cv in cvs.items():
            out.update(cv_metrics(cv, TASK, name, split=f"{split}_audited", metrics=mets))
    for g in ("dendrite-only", "full"):
        _, _, v = exp.headline_result(g)
        out[key(TASK, "headline_free", "balanced_accuracy", split="external", group=g)] = v
    out[key(TASK, "headline_free", "audited_training")] = float(exp.headline["audited_training"])
    out[key(TASK, "headline_free", "loso_balanced_accuracy")] = exp.headline["loso_free"]
    out[key(TASK, "headline_free", "loso_balanced_accuracy_audited")] = exp.headline["loso_free_audited"]
    models_ = sorted({n.rsplit("_", 1)[0] for n in exp.in_domain["rat_s1_5fold"]})
    for m in models_:
        a, b = f"{m}_free", f"{m}_aware"
        if a not in exp.in_domain["rat_s1_5fold"] or b not in exp.in_domain["rat_s1_5fold"]:
            continue  # an augmented typing-aware model (against its plain one below) or a typing-free network
        for split, cvs in (*exp.in_domain.items(), *exp.loso.items()):
            out.update(diff_metrics(paired_difference(cvs[a], cvs[b], "balanced_accuracy"), TASK, split=split))
        for split, cvs in exp.external.items():
            for g in ("dendrite-only", "full"):
                mask = (exp.df["reconstruction"] == g).to_numpy()
                if mask[cvs[a].splits[0].test].any():
                    out.update(diff_metrics(paired_bootstrap(cvs[a], cvs[b], mask), TASK, split=split, group=g))
    out.update(fusion_differences(exp))
    out.update(augmentation_differences(exp))
    out.update(adversary_differences(exp))
    for name, v in exp.loso_choice.items():
        out[key(TASK, "typing_free_variant", f"loso_balanced_accuracy_{name}")] = v
    out[key(TASK, "typing_free_variant", "with_size")] = float(exp.tf_size)
    out[key(TASK, "label_audit", "n_flagged")] = float(len(exp.audit))
    for reason in ("interneuron_with_apical", "pyramidal_name", "principal_without_apical"):
        out[key(TASK, "label_audit", f"n_{reason}")] = float(exp.audit["reasons"].str.contains(reason).sum())
    return out


def paired(exp: AcrossLabs, cvs: dict, a: str, b: str, group: str = "all", metric: str = "balanced_accuracy"):
    """``cvs[a] - cvs[b]`` in ``metric`` on ``group``: over the same folds or held-out sources (corrected resampled
    t-test, :func:`~neuro_lib.evaluation.paired_difference`) when there are several splits; on the one external
    split, over the same cells of reconstruction type ``group`` (:func:`paired_bootstrap`). Returns a
    :class:`~neuro_lib.evaluation.PairedDifference`, or None when the split tests no cell of ``group``."""
    from ..evaluation import paired_difference

    if len(cvs[a].splits) > 1:
        return paired_difference(cvs[a], cvs[b], metric)
    mask = np.ones(len(exp.df), bool) if group == "all" else (exp.df["reconstruction"] == group).to_numpy()
    return paired_bootstrap(cvs[a], cvs[b], mask, metric=metric) if mask[cvs[a].splits[0].test].any() else None


def _paired_entries(exp: AcrossLabs, cvs: dict, a: str, b: str, split: str, metric: str) -> dict[str, float]:
    """Results entries of :func:`paired` for ``a - b``: over all splits, or per reconstruction type on one split."""
    from ..results import diff_metrics

    out: dict[str, float] = {}
    for g in ("all",) if len(cvs[a].splits) > 1 else ("dendrite-only", "full"):
        d = paired(exp, cvs, a, b, g, metric)
        if d is not None:
            out.update(diff_metrics(d, TASK, split=split, group=None if g == "all" else g))
    return out


def augmentation_differences(exp: AcrossLabs, metric: str = "balanced_accuracy") -> dict[str, float]:
    """Each typing-aware model trained also on augmented copies against the same model without them
    (``<model>_augmented_aware - <model>_aware``), paired as in :func:`fusion_differences`; results entries."""
    out: dict[str, float] = {}
    for part in (exp.in_domain, exp.loso, exp.external):
        for split, cvs in part.items():
            for a in sorted(n for n in cvs if n.endswith("_augmented_aware")):
                out.update(_paired_entries(exp, cvs, a, a.replace("_augmented_aware", "_aware"), split, metric))
    return out


def adversary_differences(exp: AcrossLabs, metric: str = "balanced_accuracy") -> dict[str, float]:
    """The lab-adversarial network against the same network without the adversary (``lab_adversarial_free -
    network_free``), paired as in :func:`fusion_differences`, in every evaluation where both ran; results entries."""
    out: dict[str, float] = {}
    for part in (exp.in_domain, exp.loso, exp.external):
        for split, cvs in part.items():
            if "lab_adversarial_free" in cvs and "network_free" in cvs:
                out.update(_paired_entries(exp, cvs, "lab_adversarial_free", "network_free", split, metric))
    return out


def fusion_table(exp: AcrossLabs, metric: str = "balanced_accuracy") -> pd.DataFrame:
    """The fusion against each branch as a table (from :func:`fusion_differences`): one row per evaluation, test
    group, view and branch, with the fusion's and the branch's ``metric`` and the paired difference with its 95%
    interval. Columns ``split``, ``group``, ``view``, ``branch``, ``fusion``, ``branch_score``, ``difference``,
    ``lo``, ``hi``."""
    from ..results import key, parse_key

    d = fusion_differences(exp, metric)
    rows = []
    for k, v in d.items():
        kp = parse_key(k)
        if kp.metric != metric:
            continue
        part = {**exp.in_domain, **exp.loso, **exp.external, **{f"{s}_audited": c for s, c in exp.clean.items()}}
        cvs, g = part[kp.split], kp.group or "all"
        rows.append(dict(split=kp.split, group=g, view=f"typing-{kp.model.rsplit('_', 1)[1]}",
                         branch=label(kp.vs), fusion=cvs[kp.model].summary(g)[metric],
                         branch_score=cvs[kp.vs].summary(g)[metric], difference=v,
                         lo=d[key(TASK, kp.model, f"{metric}_lo", split=kp.split, group=kp.group, vs=kp.vs)],
                         hi=d[key(TASK, kp.model, f"{metric}_hi", split=kp.split, group=kp.group, vs=kp.vs)]))
    return pd.DataFrame(rows)


def fusion_differences(exp: AcrossLabs, metric: str = "balanced_accuracy") -> dict[str, float]:
    """The fusion against each of its branches, in each view and evaluation where both ran: ``fusion_<view> -
    <branch>_<view>`` paired over the same folds or held-out sources (corrected resampled t-test) and, on the external
    test, within each reconstruction type (:func:`paired_bootstrap` of the cells). Results entries
    (``.../fusion_<view>/split=S[/group=G]/diff_vs_<branch>_<view>/<metric>``, ``_lo``, ``_hi``, ``_p``)."""
    out: dict[str, float] = {}
    for part in (exp.in_domain, exp.loso, exp.external, exp.clean):
        for split, cvs in part.items():
            name = split if part is not exp.clean else f"{split}_audited"
            for short in VIEW_NAMES.values():
                if f"fusion_{short}" not in cvs:
                    continue
                for b in sorted(n for n in cvs if n.endswith(f"_{short}") and not n.startswith("fusion_")
                                and "_augmented_" not in n and n.rsplit("_", 1)[0] not in NETWORKS):
                    out.update(_paired_entries(exp, cvs, f"fusion_{short}", b, name, metric))
    return out


# ---------------------------------------------------------------------------------------------------------------
# figures and sentences of the page
# ---------------------------------------------------------------------------------------------------------------

MODEL_LABELS = {"logistic": "logistic regression", "gradient_boosting": "gradient boosting", "svm": "SVM (RBF)",
                "tmd": "TMD image + logistic", "fusion": "fusion (stacking of the branches)",
                "logistic_augmented": "logistic regression + augmented copies",
                "gradient_boosting_augmented": "gradient boosting + augmented copies",
                "svm_augmented": "SVM (RBF) + augmented copies",
                "lab_adversarial": "lab-adversarial network", "network": "the same network, no adversary"}
VIEW_COLORS = {"aware": "tab:gray", "free": "tab:green"}


def label(name: str) -> str:
    """The readable name of ``<model>_<aware|free>``, e.g. ``\"logistic regression, typing-free\"``."""
    m, v = name.rsplit("_", 1)
    return f"{MODEL_LABELS.get(m, m)}, typing-{v}"


def plot_sources(df: pd.DataFrame, ax=None):
    """Cells per source (rows) and class x reconstruction type (columns), as a table coloured on a log scale with
    the counts written in. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    t = df.groupby(["source", "label", "reconstruction"]).size().unstack(["label", "reconstruction"], fill_value=0)
    cols = [(c, r) for c in CLASSES for r in ("full", "dendrite-only")]
    t = t.reindex(columns=cols, fill_value=0)
    t = t.loc[sorted(t.index, key=lambda s: -t.loc[s].sum())]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(t)))
    v = t.to_numpy(float)
    im = ax.imshow(np.where(v > 0, v, np.nan), norm=LogNorm(vmin=1, vmax=max(v.max(), 2)), cmap="Blues",
                   aspect="auto")
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            ax.text(j, i, f"{int(v[i, j])}", ha="center", va="center", fontsize=8,
                    color="w" if v[i, j] > np.sqrt(max(v.max(), 2)) * 3 else "k")
    ax.set_xticks(range(len(cols)), [f"{c}\n{r}" for c, r in cols], fontsize=8)
    ax.set_yticks(range(len(t)), t.index, fontsize=8)
    ax.set_ylabel("source (lab / collection)")
    ax.figure.colorbar(im, ax=ax, label="cells (log scale)")
    return ax


def plot_scores(cvs: dict, groups: Sequence[str] = ("all",), *, metric: str = "balanced_accuracy",
                targets: dict | None = None, ax=None, xlabel: str = ""):
    """Bars of ``metric`` (mean over splits, error bar: sd over splits) of every model of ``cvs`` (``{name:
    CVResult}``) for each test group; dashed lines at ``targets`` (``{group: value}``). Returns the Axes."""
    import matplotlib.pyplot as plt

    names = sorted(cvs, key=lambda n: (n.rsplit("_", 1)[1], n))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * len(names) * len(groups)))
    h = 0.8 / len(groups)
    for j, g in enumerate(groups):
        vals = [cvs[n].summary(g).get(metric, np.nan) if g in cvs[n].groups else np.nan for n in names]
        sds = [cvs[n].summary(g).get(f"{metric}_sd", 0.0) if g in cvs[n].groups else 0.0 for n in names]
        pos = np.arange(len(names)) + (j - (len(groups) - 1) / 2) * h
        ax.barh(pos, vals, height=h, xerr=sds, capsize=2, label=g, alpha=1.0 - 0.35 * j,
                color=[VIEW_COLORS[n.rsplit("_", 1)[1]] for n in names], edgecolor="k", lw=0.5)
        for p, v, e in zip(pos, vals, sds):
            if np.isfinite(v):
                text = f"{v:.3f} ({g})" if len(groups) > 1 else f"{v:.3f}"
                ax.text(min(max(v, 0.4), 1.0) + (e if np.isfinite(e) else 0.0) + 0.008, p, text, va="center",
                        fontsize=7)
    for g, v in (targets or {}).items():
        ax.axvline(v, ls="--", lw=1, color="k")
        ax.text(v, 0.99, f"target {g}", fontsize=7, rotation=90, va="top", ha="right",
                transform=ax.get_xaxis_transform())
    ax.set_yticks(range(len(names)), [label(n) for n in names])
    ax.invert_yaxis()
    ax.set(xlim=(0.4, 1.08), xlabel=xlabel or metric.replace("_", " "))
    return ax


def loso_table(exp: AcrossLabs, metric: str = "balanced_accuracy") -> pd.DataFrame:
    """Held-out source x model: ``metric`` on the held-out source's cells (with a single class among them the
    balanced accuracy is that class's recall), and the number of its cells of each class."""
    cvs = exp.loso["loso"]
    rows = {}
    for j, s in enumerate(exp.loso_sources):
        test = next(iter(cvs.values())).splits[j].test
        lab = exp.df["label"].to_numpy()[test]
        rows[s] = {"interneurons": int((lab == "interneuron").sum()),
                   "principal cells": int((lab == "principal").sum()),
                   **{label(n): cvs[n].fold_values(metric)[j] for n in sorted(cvs)}}
    return pd.DataFrame(rows).T.rename_axis("held-out source")


def plot_loso(exp: AcrossLabs, metric: str = "balanced_accuracy", ax=None):
    """Heat map of :func:`loso_table` (models as columns). Returns the Axes."""
    import matplotlib.pyplot as plt

    t = loso_table(exp, metric).drop(columns=["interneurons", "principal cells"])
    if ax is None:
        _, ax = plt.subplots(figsize=(3 + 1.2 * t.shape[1], 1.8 + 0.45 * len(t)))
    im = ax.imshow(t.to_numpy(float), vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            v = t.iat[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w" if v < 0.8 else "k")
    ax.set_xticks(range(t.shape[1]), t.columns, fontsize=8, rotation=30, ha="right")
    ax.set_yticks(range(t.shape[0]), t.index)
    ax.figure.colorbar(im, ax=ax, label=f"{metric.replace('_', ' ')} on the held-out source")
    return ax


def same_source_share(X: np.ndarray, source: Sequence, *, k: int = 10) -> float:
    """How much a representation clusters by lab: the mean, over cells, of the share of each cell's ``k`` nearest
    neighbours (Euclidean, after median imputation, a signed log and z-scoring of ``X`` (n, d)) that come from its
    own source, divided by the share expected if neighbours were drawn at random (each cell's source's share of the
    other cells). 1: no clustering by source; larger: more."""
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    from .svm import signed_log

    X = np.asarray(X, float)
    X = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
    Z = StandardScaler().fit_transform(signed_log(X))
    src = np.asarray(source)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)
    same = (src[idx[:, 1:]] == src[:, None]).mean(1)
    _, inv, counts = np.unique(src, return_inverse=True, return_counts=True)
    expected = (counts[inv] - 1) / (len(src) - 1)
    return float(same.mean() / expected.mean())


def say_counts(df: pd.DataFrame) -> str:
    """A sentence with the cells of :func:`cells`: how many, from how many sources, how many dropped and why, and
    the Allen VISp cells per reconstruction type and class."""
    allen = df[df["source"] == EXTERNAL_SOURCE]
    rec = pd.crosstab(allen["reconstruction"], allen["label"])

    def n(r, c):
        return int(rec.loc[r, c]) if r in rec.index and c in rec.columns else 0

    skipped = df.attrs.get("skipped", {})
    conflicts = sum("label conflict" in r for r in skipped.values())
    return (f"{len(df)} cells from {df['source'].nunique()} sources ({len(skipped)} dropped: {conflicts} label "
            f"conflicts, {len(skipped) - conflicts} malformed files). Allen VISp: {len(allen)} cells; full "
            f"reconstructions {n('full', 'interneuron')} interneurons and {n('full', 'principal')} principal cells, "
            f"dendrite-only {n('dendrite-only', 'interneuron')} interneurons and {n('dendrite-only', 'principal')} "
            f"principal cells.")


def say_habits(df: pd.DataFrame, features: pd.DataFrame) -> str:
    """A sentence: among the rat S1 cells of :func:`cells`, the share of interneurons whose file has axon-typed
    samples and of principal cells whose file has apical-typed ones, and the same for the other sources."""
    rat = df["source"].isin(RAT_S1_SOURCES).to_numpy()
    intern = (df["label"] == "interneuron").to_numpy()
    axon, apical = (features["n_axon_samples"] > 0).to_numpy(), (features["n_apical_samples"] > 0).to_numpy()

    def share(m, flag):
        return f"{flag[m].mean():.0%}" if m.any() else "n/a"

    return (f"rat S1: {share(rat & intern, axon)} of {int((rat & intern).sum())} interneurons have an axon, "
            f"{share(rat & ~intern, apical)} of {int((rat & ~intern).sum())} principal cells apical-typed samples; "
            f"the other sources: {share(~rat & intern, axon)} of {int((~rat & intern).sum())} interneurons, "
            f"{share(~rat & ~intern, apical)} of {int((~rat & ~intern).sum())} principal cells.")


def say_score(cv, group: str = "all", metric: str = "balanced_accuracy") -> str:
    """``"0.873 ± 0.021"`` (mean ± sd over splits; the mean alone for one split) of ``metric`` on ``group``."""
    s = cv.summary(group)
    return f"{s[metric]:.3f}" if len(cv.splits) == 1 else f"{s[metric]:.3f} ± {s[f'{metric}_sd']:.3f}"


def say_difference(d) -> str:
    """A paired difference as a sentence fragment with its interval, saying whether the interval excludes 0."""
    if not np.isfinite(d.lo):
        return f"{label(d.a)} minus {label(d.b)}: {d.mean:+.3f} (no interval)"
    verdict = "better" if d.lo > 0 else ("worse" if d.hi < 0 else "no clear difference")
    return (f"{label(d.a)} minus {label(d.b)}: {d.mean:+.3f} (95% interval {d.lo:+.3f} to {d.hi:+.3f}: "
            f"{verdict})")


def say_target(value: float, target: float) -> str:
    """``"reached (target 0.90)"`` or ``"**missed** (target 0.90, short by 0.034)"``."""
    if not np.isfinite(value):
        return f"not measured (target {target:.2f})"
    return f"reached (target {target:.2f})" if value >= target else \
        f"**missed** (target {target:.2f}, short by {target - value:.3f})"


# ---------------------------------------------------------------------------------------------------------------
# classify new files (python -m neuro_lib.predict morphology --task principal_interneuron)
# ---------------------------------------------------------------------------------------------------------------

#: the models of the ``principal_interneuron`` task of ``neuro_lib.predict``; the first is the default: the
#: typing-free model that the page's leave-one-source-out ranks first in the CPU profile
#: (``principal_interneuron/*_free/split=loso/balanced_accuracy`` in ``_build/results/morphology/08_across_labs.json``:
#: the RBF SVM 0.783, TMD 0.712, the fusion 0.700, the logistic regression 0.699, the gradient boosting 0.644; the
#: page's headline external number is this model's). Before the SVM was a branch of the page, the default was
#: ``logistic_free``.
PREDICT_MODELS = ["svm_free", "logistic_free", "gradient_boosting_free", "tmd_free", "svm_aware", "logistic_aware",
                  "gradient_boosting_aware", "tmd_aware"]
#: whether the typing-free hand features keep their size features for ``neuro_lib.predict``: the variant the
#: page's leave-one-source-out chose in the CPU profile (``principal_interneuron/typing_free_variant/with_size``)
PREDICT_SIZE = False


class CellModel:
    """A fitted across-labs model that takes a list of :class:`~neuro_lib.morphology.io.SWC`: the features of each
    cell are computed as for the training cells (:func:`~neuro_lib.morphology.typing_free.cell_features`, or the
    TMD images of :func:`~neuro_lib.morphology.persistence.cell_images`). ``classes_``, ``predict_proba(swcs)`` (n,
    2), ``predict(swcs)``; ``estimator`` is the fitted scikit-learn model, ``view`` its regime."""

    def __init__(self, estimator, name: str, *, size: bool, resolution: int):
        self.estimator, self.name, self.size, self.resolution = estimator, name, size, resolution
        self.view = "typing-free" if name.endswith("_free") else "typing-aware"
        self.classes_ = np.asarray(estimator.classes_)

    def features(self, swcs) -> np.ndarray:
        from .persistence import cell_images
        from .typing_free import cell_features

        if self.name.startswith("tmd_"):
            return np.array([cell_images(s, resolution=self.resolution)[self.view] for s in swcs], float)
        rows = pd.DataFrame([cell_features(s) for s in swcs])
        return view_tables(rows, self.view, size=self.size).to_numpy(float)

    def predict_proba(self, swcs) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self.features(list(swcs))))

    def predict(self, swcs) -> np.ndarray:
        return self.classes_[self.predict_proba(swcs).argmax(1)]


def fitted_model(model: str = PREDICT_MODELS[0], *, profile: str = "cpu", seed: int = 0,
                 progress: bool = True) -> CellModel:
    """``model`` (one of :data:`PREDICT_MODELS`) trained on every principal/interneuron-labelled cell of every
    source in the mirror (:func:`cells` with the ``profile``'s ``labs_per_source_class``; Allen VISp included),
    seeded ``seed``. The features come from the cache the page fills. Raises ``KeyError`` for an unknown model and
    ``ValueError`` for a TMD model in a profile without TMD images."""
    from ..evaluation import seed_estimator
    from . import chapter
    from .persistence import persistence_images

    if model not in PREDICT_MODELS:
        raise KeyError(f"unknown principal_interneuron model {model!r}; known: {PREDICT_MODELS}")
    cfg = chapter.settings(profile)
    df, feats = cells(n_per_source_class=cfg["labs_per_source_class"], seed=seed, progress=progress)
    kind, short = model.rsplit("_", 1)
    view = {v: k for k, v in VIEW_NAMES.items()}[short]
    if kind == "tmd":
        if not cfg["labs_tmd_resolution"]:
            raise ValueError(f"profile {profile!r} computes no TMD images (labs_tmd_resolution = 0)")
        X, est = persistence_images(df["path"], resolution=cfg["labs_tmd_resolution"], progress=progress)[view], \
            image_model()
    else:
        X = view_tables(feats, view, size=PREDICT_SIZE).to_numpy(float)
        est = models([kind], gb_iter=cfg["labs_gb_iter"])[kind]
    est = seed_estimator(est, seed).fit(X, df["label"].to_numpy())
    return CellModel(est, model, size=PREDICT_SIZE, resolution=cfg["labs_tmd_resolution"])
