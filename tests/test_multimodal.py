"""Unit tests of the multimodal chapter's library: the join of the two modalities, the block-restricted estimator,
late fusion and its missing-modality fallback, the per-modality gates and the cached experiment."""
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from neuro_lib.evaluation import cross_validate, kfold_splits, paired_difference
from neuro_lib.multimodal import chapter
from neuro_lib.multimodal import experiment as ex
from neuro_lib.multimodal.data import TaskData
from neuro_lib.multimodal.models import LateFusion, OnBlocks, WithoutBlocks, block_gates

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lr():
    return make_pipeline(SimpleImputer(strategy="median"), LogisticRegression(max_iter=2000))


def _two_blocks(n=120, seed=0):
    """Two blocks, each informative about a different half of the classes: ephys separates 0/1 from 2/3 and morph
    separates 0/2 from 1/3, so only both together tell all four classes apart."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    e = rng.normal(size=(n, 3)) + 3 * (y >= 2)[:, None]
    m = rng.normal(size=(n, 4)) + 3 * (y % 2)[:, None]
    X = pd.DataFrame(np.hstack([e, m]), columns=[f"actb:e{i}" for i in range(3)] + [f"morph:m{i}" for i in range(4)])
    return X, y


def test_on_blocks_reads_only_its_columns_and_excludes_prefixes():
    X, y = _two_blocks()
    est = OnBlocks(_lr(), ("morph",), exclude=("morph:m3",)).fit(X, y)
    assert est.columns_ == ["morph:m0", "morph:m1", "morph:m2"]
    X2 = X.copy()
    X2["actb:e0"] = 1e6  # another block's values do not matter
    np.testing.assert_allclose(est.predict_proba(X), est.predict_proba(X2))
    with pytest.raises(ValueError, match="no columns of blocks"):
        OnBlocks(_lr(), ("ephys41",)).fit(X, y)
    with pytest.raises(TypeError, match="DataFrame"):
        est.predict_proba(X.to_numpy())


def test_late_fusion_beats_each_modality_and_falls_back_to_the_present_branch():
    X, y = _two_blocks(200)
    splits = kfold_splits(y, 5, 1, seed=0)
    fusion = LateFusion([("ephys", OnBlocks(_lr(), ("actb",))), ("morph", OnBlocks(_lr(), ("morph",)))],
                        final_estimator=LogisticRegression(max_iter=2000), cv=3)
    cv = cross_validate({"ephys": OnBlocks(_lr(), ("actb",)), "morph": OnBlocks(_lr(), ("morph",)),
                         "fused": fusion}, X, y, splits, progress=False)
    acc = {k: v.summary()["accuracy"] for k, v in cv.items()}
    assert acc["fused"] > 0.9 > max(acc["ephys"], acc["morph"])  # each block alone is at most ~50%
    assert paired_difference(cv["fused"], cv["ephys"]).lo > 0
    fitted = fusion.fit(X, y)
    Xm = X.copy()
    Xm.loc[:9, [c for c in X.columns if c.startswith("morph:")]] = np.nan
    p = fitted.predict_proba(Xm)
    assert fitted.n_fallback_ == 10
    np.testing.assert_allclose(p[:10], fitted.estimators_[0].predict_proba(X.iloc[:10]))  # the ephys branch alone
    np.testing.assert_allclose(p[10:], fitted.predict_proba(X.iloc[10:]))
    np.testing.assert_allclose(p.sum(1), 1)


def test_without_blocks_masks_at_test_time_only():
    X, y = _two_blocks()
    est = WithoutBlocks(OnBlocks(_lr(), ("actb", "morph")), ("morph",)).fit(X, y)
    ref = OnBlocks(_lr(), ("actb", "morph")).fit(X, y)
    Xm = X.copy()
    Xm[[c for c in X.columns if c.startswith("morph:")]] = np.nan
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(Xm))
    assert not np.allclose(est.predict_proba(X), ref.predict_proba(X))


def test_modality_dropout_teaches_a_joint_model_to_do_without_a_block():
    """An imbalanced task (30% class 1) where morphology is nearly decisive and ephys weaker: a joint model asked with
    morphology missing (imputed by the median, which lies in the majority class) calls almost every cell class 0,
    unless it was also trained on copies of the cells without morphology."""
    def cells(n, seed):
        rng = np.random.default_rng(seed)
        y = (rng.random(n) < 0.3).astype(int)
        e = rng.normal(size=(n, 3)) + 1.5 * y[:, None]
        m = rng.normal(size=(n, 4)) + 6 * y[:, None]
        cols = [f"actb:e{i}" for i in range(3)] + [f"morph:m{i}" for i in range(4)]
        return pd.DataFrame(np.hstack([e, m]), columns=cols), y

    X, y = cells(400, 1)
    Xt, yt = cells(400, 2)
    Xt_no_morph = Xt.copy()
    Xt_no_morph[[c for c in Xt.columns if c.startswith("morph:")]] = np.nan
    ephys = (OnBlocks(_lr(), ("actb",)).fit(X, y).predict(Xt) == yt).mean()
    plain = OnBlocks(_lr(), ("actb", "morph")).fit(X, y)
    moddrop = OnBlocks(_lr(), ("actb", "morph"), modality_dropout=("actb", "morph")).fit(X, y)
    assert (plain.n_dropout_, moddrop.n_dropout_) == (0, 800)  # one copy of each of the 400 cells per block
    acc = {name: (est.predict(Xt_no_morph) == yt).mean() for name, est in [("plain", plain), ("moddrop", moddrop)]}
    assert acc["plain"] < 0.75 < ephys - 0.1 < acc["moddrop"]
    assert (moddrop.predict(Xt) == yt).mean() > 0.98  # with both blocks it is still as good
    X_half = X.copy()
    X_half.loc[:99, [c for c in X.columns if c.startswith("actb:")]] = np.nan  # cells without ephys are not copied
    assert OnBlocks(_lr(), ("actb", "morph"), modality_dropout=("morph",)).fit(X_half, y).n_dropout_ == 300
    with pytest.raises(ValueError, match="not among the blocks"):
        OnBlocks(_lr(), ("actb",), modality_dropout=("morph",)).fit(X, y)


def test_block_gates_of_a_joint_lspin():
    from neuro_lib.ephys import LSPINClassifier

    X, y = _two_blocks(80)
    est = OnBlocks(LSPINClassifier(epochs=2, n_ensemble=1, random_state=0), ("actb", "morph")).fit(X, y)
    g = block_gates(est, X)
    assert list(g.columns) == ["actb", "morph"] and g.shape == (80, 2)
    assert ((g.to_numpy() >= 0) & (g.to_numpy() <= 1)).all()


def _synthetic_task(n=80):
    X, y = _two_blocks(n)
    y = (y >= 2).astype(np.int64)
    rng = np.random.default_rng(1)  # a persistence-image block whose first pixels follow the class
    tmd = np.abs(rng.normal(size=(n, 12))) + y[:, None] * np.r_[np.ones(3), np.zeros(3), np.ones(3), np.zeros(3)]
    X = pd.concat([X, pd.DataFrame(tmd, columns=[f"tmd:aware_{k:03d}" for k in range(6)]
                                   + [f"tmd:free_{k:03d}" for k in range(6)], index=X.index)], axis=1)
    cells = pd.DataFrame({"reconstruction_type": np.where(np.arange(n) % 3, "full", "dendrite-only")},
                         index=pd.Index(np.arange(n) + 1000, name="specimen_id"))
    X.index = cells.index
    return TaskData("e_i", X, y, ["inhibitory", "excitatory"], cells)


def test_experiment_runs_every_model_on_the_same_splits_and_reports_its_comparisons():
    data = _synthetic_task()
    cfg = chapter.settings("smoke")
    exp = ex.run(data, cfg, progress=False)
    names = {"ephys_svc", "ephys_lspin", "morphology_gb", "morphology_rf", "morphology_tmd", "late_fusion",
             "joint_lspin", "morphology_rf_no_apical", "morphology_gb_no_apical", "morphology_tmd_no_apical",
             "late_fusion_no_apical", *ex.MISSING, "ephys", "morphology", "fused"}
    assert names <= set(exp.cv)
    # e_i is headlined typing-free: its fused row is the late fusion without the apical/basal split
    assert exp.chosen["fused"] == "late_fusion_no_apical"
    assert exp.chosen["morphology"] in ("morphology_gb_no_apical", "morphology_rf_no_apical",
                                        "morphology_tmd_no_apical")
    # asked without morphology, both morphology blocks (morphometrics and persistence images) are blanked
    blank = ex._masked(data.X, "morph")
    assert blank.filter(regex="^(morph|tmd):").isna().all().all() and not blank.filter(like="actb:").isna().any().any()
    ref = [s.test.tolist() for s in exp.cv["ephys_svc"].splits]
    assert all([s.test.tolist() for s in cv.splits] == ref for cv in exp.cv.values())
    assert exp.cv["ephys"].summary()["accuracy"] == max(exp.cv[m].summary()["accuracy"]
                                                       for m in ("ephys_svc", "ephys_lspin"))
    m = ex.task_metrics(exp)
    assert "e_i/fused/diff_vs_ephys/accuracy_lo" in m and "e_i/late_fusion/group=dendrite-only/accuracy" in m
    # the fallback of the late fusion without morphology is its ephys SVC branch, i.e. the ephys SVC itself
    np.testing.assert_allclose(np.vstack(exp.cv["late_fusion_without_morph"].proba),
                               np.vstack(exp.cv["ephys_svc"].proba))
    assert exp.gates.shape == (len(data), 2) and not exp.gates.isna().any().any()
    back = ex._from_arrays(ex._to_arrays(exp), data)
    for name in names:
        np.testing.assert_allclose(back.cv[name].fold_values(), exp.cv[name].fold_values())
    assert back.chosen == exp.chosen
    gain = ex.per_class_gain(back)
    assert list(gain.index) == ["inhibitory", "excitatory"] and np.isfinite(gain["fused_recall"]).all()


def test_settings_override_and_reject_unknown_keys():
    assert chapter.settings("cpu", n_repeats=1)["n_repeats"] == 1
    assert chapter.settings("cpu", n_repeats=None)["n_repeats"] == chapter.PROFILE_SETTINGS["cpu"]["n_repeats"]
    with pytest.raises(ValueError):
        chapter.settings("cpu", nonsense=3)


def test_the_joined_table_of_the_real_cells():
    from neuro_lib.multimodal import data as mm

    cells = mm.cell_table()
    assert len(cells) == 509 and cells.index.is_unique
    assert (cells["reconstruction_type"] == "dendrite-only").sum() == 298
    assert int(cells["in_ophir41"].sum()) == 376
    assert cells["cre_class"].value_counts().to_dict() == {"Glutamatergic": 191, "Pvalb": 62, "Htr3a+|Vip-": 49,
                                                           "Sst": 49, "Vip": 25}
    assert (cells["dendrite_type"] == cells["actb_dendrite_type"]).all()
    assert (cells["e_i"] == "excitatory").sum() == 234
    # the layer is the last field of cell_type, also for the 33 cells of an intersectional cross (two line names)
    assert set(cells["layer"]) == {"1", "2/3", "4", "5", "6a", "6b"}
    assert (cells["cre_line"] == "Nos1-CreERT2|Sst-IRES-FlpO").sum() > 0


def test_ephys_only_cells_are_trained_on_but_never_tested():
    data = _synthetic_task(90)
    extra = np.arange(len(data)) >= 60  # the last 30 cells: ephys only
    data.cells.loc[extra, "reconstruction_type"] = "none"
    data.X.loc[extra, [c for c in data.X.columns if c.startswith("morph:")]] = np.nan
    splits = ex.task_splits(data, 3, 2, seed=1)
    tested = np.flatnonzero(data.tested)
    assert sorted(np.concatenate([s.test for s in splits if s.repeat == 0]).tolist()) == tested.tolist()
    for s in splits:
        assert not extra[s.test].any() and extra[s.train].sum() == 30 and not np.intersect1d(s.train, s.test).size
    morph = OnBlocks(_lr(), ("morph",)).fit(data.X, data.y)
    assert morph.n_without_ == 30
    ephys = OnBlocks(_lr(), ("actb",)).fit(data.X, data.y)
    assert ephys.n_without_ == 0
    fusion = LateFusion([("ephys", OnBlocks(_lr(), ("actb",))), ("morph", OnBlocks(_lr(), ("morph",)))], cv=3)
    fusion.fit(data.X, data.y)
    assert fusion.final_estimator_.n_features_in_ == 4  # two branches x two classes
    p = fusion.predict_proba(data.X)
    assert fusion.n_fallback_ == 30
    np.testing.assert_allclose(p[extra], fusion.estimators_[0].predict_proba(data.X[extra]))
