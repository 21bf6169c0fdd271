"""The across-labs page (issue 17): the typing-free features ignore type codes, the axon and the orientation; the
leave-one-source-out and external splits never mix a source into both sides; the label audit applies its rule;
the paired bootstrap; and the smoke page."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuro_lib.evaluation import CVResult, Split
from neuro_lib.morphology import across_labs as al
from neuro_lib.morphology.io import read_swc, to_neurom
from neuro_lib.morphology.typing_free import TF_SHAPE, TYPING_FREE, cell_features, strip_axon, typing_free_features

FIX = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "morphology"


@pytest.fixture(scope="module")
def rat_cells(data_mirror):
    """One rat S1 interneuron with an axon and one principal cell with apical-typed samples (real files)."""
    from neuro_lib.morphology import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = data.labels(data.RAT_S1)
    out = {}
    for label, want in (("interneuron", 2), ("principal", 4)):
        for p in df.loc[df["cell_class"] == label, "path"]:
            s = data.load_swc(p)
            if (s.types == want).sum() > 50 and (s.types == 2).any():
                out[label] = s
                break
    return out


def _same(a: dict, b: dict):
    for k in TYPING_FREE:
        assert (np.isnan(a[k]) and np.isnan(b[k])) or a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), k


def test_strip_axon_removes_the_axon_and_unifies_types(rat_cells):
    s = rat_cells["interneuron"]
    t = strip_axon(s)
    assert (s.types == 2).sum() > 0 and not (t.types == 2).any()
    assert set(np.unique(t.types)) <= {1, 3}
    assert len(t) == len(s) - t.metadata["axon_removed"] and t.metadata["axon_removed"] >= (s.types == 2).sum()
    assert (t.parent[1:] < np.arange(1, len(t))).all() and t.parent[0] == -1  # still parent before child
    # every kept sample is still at its parent's place
    kept = s.xyz[~np.isin(s.ids, s.ids[s.types == 2])]
    assert np.isin(t.ids, s.ids).all() and len(kept) >= len(t)


def test_typing_free_ignores_type_codes_and_axon(rat_cells):
    s = rat_cells["principal"]
    base = typing_free_features(s)
    t = s.types.copy()
    relabelled = np.where(t == 4, 3, np.where(t == 3, 0, t))  # apical -> basal, basal -> undefined
    relabelled[np.flatnonzero(t == 3)[::2]] = 7  # and some to a custom code
    _same(base, typing_free_features(s.copy(types=relabelled)))
    # a cell with its axon deleted from the file has the same typing-free features
    _same(base, typing_free_features(strip_axon(s)))
    # ...while the typing-aware features do change: the test could fail
    full, cut = cell_features(s), cell_features(strip_axon(s))
    assert full["TotalLength"] != cut["TotalLength"] and full["apical_length"] > 0 == cut["apical_length"]


@pytest.mark.parametrize("seed", [0, 1])
def test_typing_free_is_rotation_and_flip_invariant(rat_cells, seed):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    for s in rat_cells.values():
        R = Rotation.random(random_state=seed).as_matrix() @ np.diag([1, -1, 1])  # rotation and mirror (pia down)
        moved = s.copy(xyz=(s.xyz - s.xyz.mean(0)) @ R.T + rng.normal(0, 100, 3))
        _same(typing_free_features(s), typing_free_features(moved))
        aware, aware_moved = cell_features(s), cell_features(moved)
        assert aware["OverallHeight"] != pytest.approx(aware_moved["OverallHeight"])  # the typing-aware view is not


def test_typing_free_sizes_scale_and_shape_does_not(rat_cells):
    s = rat_cells["interneuron"]
    a, b = typing_free_features(s), typing_free_features(s.copy(xyz=2.0 * s.xyz))
    for k in TF_SHAPE:
        assert (np.isnan(a[k]) and np.isnan(b[k])) or a[k] == pytest.approx(b[k], rel=1e-6), k
    for k in ("total_length", "max_radial_distance", "pca_sd1"):
        assert b[k] == pytest.approx(2 * a[k], rel=1e-6), k


def test_typing_free_lengths_agree_with_neurom(rat_cells):
    import neurom as nm

    for s in rat_cells.values():
        t = strip_axon(s)
        f = typing_free_features(s)
        m = to_neurom(t)
        stems = (t.types != 1) & (t.parent >= 0) & (t.types[np.maximum(t.parent, 0)] == 1)
        soma_links = t.segment_lengths()[stems].sum()  # L-Measure counts the stems' links to the soma, NeuroM not
        assert f["total_length"] == pytest.approx(nm.get("total_length", m) + soma_links, rel=1e-4)
        assert f["n_stems"] == nm.get("number_of_neurites", m)
        assert f["n_tips"] == nm.get("number_of_leaves", m)
        assert f["max_radial_distance"] == pytest.approx(nm.get("max_radial_distance", m), rel=1e-3)


def test_hand_cell_stem_and_axis_features():
    f = typing_free_features(read_swc(FIX / "y_cell.swc"))
    d = np.hypot(10, 10)
    basal, apical = 30 + 4 * d, 10 + 50 + 50
    assert f["n_stems"] == 2 and f["n_major_stems"] == 2
    assert f["stem_share1"] == pytest.approx(apical / (basal + apical), rel=1e-6)
    assert f["pc1_heavy_side"] > 0.5 and 0.5 <= f["pc1_extent_asymmetry"] <= 1
    assert f["shell1"] + f["shell2"] + f["shell3"] + f["shell4"] == pytest.approx(1)


def test_tmd_diagram_equals_tmd_reading_the_file(rat_cells, data_mirror):
    """Our arrays handed to tmd give the diagram tmd gets by reading the file itself."""
    import tmd

    from neuro_lib.morphology import persistence

    s = rat_cells["principal"]
    for code, name in ((3, "basal_dendrite"), (4, "apical_dendrite")):
        ours = np.sort(persistence.diagram(persistence.neurite_trees(s, [code])), axis=0)
        theirs = np.sort(np.array(tmd.methods.get_ph_neuron(tmd.io.load_neuron(str(s.path)), neurite_type=name)),
                         axis=0)
        assert ours.shape == theirs.shape and np.allclose(ours, theirs, atol=1e-3), name


def test_tmd_images_typing_free_ignores_types_axon_and_orientation(rat_cells):
    from scipy.spatial.transform import Rotation

    from neuro_lib.morphology import persistence

    s = rat_cells["principal"]
    base = persistence.cell_images(s, resolution=8)
    R = Rotation.random(random_state=3).as_matrix() @ np.diag([-1, 1, 1])
    t = s.types.copy()
    moved = s.copy(xyz=s.xyz @ R.T, types=np.where(t == 4, 3, t))
    other = persistence.cell_images(moved, resolution=8)
    assert np.allclose(base["typing-free"], other["typing-free"], atol=1e-6)
    assert np.allclose(base["typing-free"], persistence.cell_images(strip_axon(s), resolution=8)["typing-free"])
    assert base["typing-free"].shape == (64,) and base["typing-aware"].shape == (192,)
    assert not np.allclose(base["typing-aware"], other["typing-aware"])  # the apical channel emptied
    assert not other["typing-aware"][128:].any() and base["typing-aware"][128:].any()


def _frame(sources, labels):
    return pd.DataFrame({"source": sources, "label": labels, "reconstruction": "full"})


def test_leave_one_source_out_never_mixes_sources():
    src = ["a"] * 6 + ["b"] * 6 + ["c"] * 5 + ["allen_cajal"] * 8 + ["tiny"] * 2
    lab = (["interneuron", "principal"] * 3 + ["interneuron", "principal"] * 3 + ["principal"] * 5
           + ["interneuron", "principal"] * 4 + ["interneuron"] * 2)
    df = _frame(src, lab)
    splits, held = al.leave_one_source_out(df)
    assert held == ["a", "b", "c"]  # Allen excluded, "tiny" below min_cells
    s = df["source"].to_numpy()
    for sp, h in zip(splits, held):
        assert set(s[sp.test]) == {h}
        assert h not in set(s[sp.train]) and "allen_cajal" not in set(s[sp.train]) | set(s[sp.test])
    # a source that is the only one of its class is not held out
    df2 = _frame(["a"] * 6 + ["b"] * 6, ["interneuron"] * 6 + ["principal", "interneuron"] * 3)
    _, held2 = al.leave_one_source_out(df2)
    assert held2 == ["a"]


def test_external_split_never_trains_on_the_test_source():
    df = _frame(["rat_s1_markram"] * 4 + ["allen_cajal"] * 3 + ["other"] * 2, ["principal"] * 9)
    sp = al.external_split(df, train_sources=al.RAT_S1_SOURCES)
    assert set(df["source"][sp.train]) == {"rat_s1_markram"} and set(df["source"][sp.test]) == {"allen_cajal"}
    sp_all = al.external_split(df)
    assert "allen_cajal" not in set(df["source"][sp_all.train]) and len(sp_all.train) == 6
    with pytest.raises(ValueError, match="among the training sources"):
        al.external_split(df, train_sources=["allen_cajal", "other"])
    mask = np.ones(9, bool)
    mask[[0, 4]] = False
    sp_m = al.external_split(df, train_sources=al.RAT_S1_SOURCES, mask=mask)
    assert 0 not in sp_m.train and 4 not in sp_m.test


def test_label_audit_rule():
    df = pd.DataFrame({"cell_id": list("abcdef"), "source": ["rat_s1_markram"] * 5 + ["allen_cajal"],
                       "label": ["interneuron", "interneuron", "principal", "principal", "interneuron", "interneuron"],
                       "cell_type": None,
                       "neuron_name": ["C1-I1", "C170898A-P3.CNG", "x", "y", "C2-I2", "z"]})
    feats = pd.DataFrame({"n_apical_samples": [10, 0, 0, 30, 0, 99], "n_axon_samples": 5, "n_samples": 100})
    audit = al.label_audit(df, feats).set_index("cell_id")["reasons"].to_dict()
    # Allen ("f") is outside the rule's archives; "d" (principal with apical) and "e" are consistent
    assert audit == {"a": "interneuron_with_apical", "b": "pyramidal_name", "c": "principal_without_apical"}


def test_same_source_share_detects_clustering_by_lab():
    rng = np.random.default_rng(0)
    src = np.repeat(["a", "b", "c"], 60)
    mixed = rng.normal(size=(180, 4))
    offset = {"a": [6, 0, 0, 0], "b": [0, 6, 0, 0], "c": [0, 0, 6, 0]}
    by_lab = mixed + np.array([offset[x] for x in src])
    assert al.same_source_share(mixed, src) == pytest.approx(1.0, abs=0.25)
    assert al.same_source_share(by_lab, src) > 2.5


def _cv(pred, y, name):
    classes = np.array(["interneuron", "principal"])
    proba = np.stack([pred == classes[0], pred == classes[1]], 1).astype(float)
    sp = Split(np.array([100]), np.array([], int), np.arange(len(y)))
    return CVResult(name, classes, y, [sp], [proba], pd.DataFrame())


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    y = np.array(["interneuron"] * 60 + ["principal"] * 40)
    good, coin = y.copy(), rng.choice(["interneuron", "principal"], len(y))
    d = al.paired_bootstrap(_cv(good, y, "good"), _cv(coin, y, "coin"))
    assert d.lo > 0 and d.mean == pytest.approx(1 - ((coin == y)[:60].mean() + (coin == y)[60:].mean()) / 2)
    same = al.paired_bootstrap(_cv(coin, y, "a"), _cv(coin, y, "b"))
    assert same.mean == same.lo == same.hi == 0
    with pytest.raises(ValueError, match="metric"):
        al.paired_bootstrap(_cv(coin, y, "a"), _cv(coin, y, "b"), metric="auc")


def test_fusion_reads_each_branch_on_its_own_columns_and_survives_an_empty_feature():
    """The fusion stacks the hand-feature branches (first n_hand columns) and the TMD branch (the rest): when only
    the image columns carry the class, its TMD branch must get the weight; a feature missing in every cell of an
    inner fold (here: in every cell) must not stop the gradient boosting."""
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    y = np.repeat(["interneuron", "principal"], 60)
    hand = rng.normal(size=(120, 5))
    hand[:, 0] = np.nan  # a feature no cell has
    image = rng.normal(size=(120, 8)) + (y == "principal")[:, None] * 1.5
    X = np.hstack([hand, image])
    fused = al.fusion_model(5, 8, gb_iter=20)
    assert cross_val_score(fused, X, y, cv=3).mean() > 0.85  # only the image columns know the class
    hand_only = al.fusion_model(5, 0, gb_iter=20)
    assert cross_val_score(hand_only, X[:, :5], y, cv=3).mean() < 0.75  # noise: the hand branches alone cannot
    fit = fused.fit(X, y)
    weights = fit.final_estimator_.coef_.ravel()  # one probability column per branch for 2 classes
    assert [n for n, _ in fit.estimators] == ["logistic", "gradient_boosting", "tmd"]
    assert abs(weights[2]) > max(abs(weights[0]), abs(weights[1]))
    assert fit.predict_proba(X).shape == (120, 2)
    with pytest.raises(ValueError, match="needs hand features"):
        al.fusion_model(0, 8)


def test_lab_copy_drops_axon_and_types_and_rescales(rat_cells):
    """The augmented copy: no axon, one dendrite type, and every length scaled (NeuroM's total dendrite length of the
    copy is the scale times the original's)."""
    import neurom as nm

    from neuro_lib.morphology.augment import lab_copy

    s = rat_cells["principal"]
    c = lab_copy(s, 1.3)
    assert not (c.types == 2).any() and set(np.unique(c.types)) <= {1, 3} and c.metadata["scale"] == 1.3
    basal = nm.NeuriteType.basal_dendrite
    dendrites = (nm.NeuriteType.basal_dendrite, nm.NeuriteType.apical_dendrite)
    before = sum(nm.get("total_length", to_neurom(s), neurite_type=t) for t in dendrites)
    assert nm.get("total_length", to_neurom(c), neurite_type=basal) == pytest.approx(1.3 * before, rel=1e-6)
    with pytest.raises(ValueError, match="scale must be positive"):
        lab_copy(s, 0.0)


def test_truncated_copy_cuts_the_axon_keeps_the_rest_and_rescales(rat_cells):
    """The truncated copy: the axon's samples beyond the fraction of its longest path are gone (NeuroM's axon length
    falls with the fraction), the dendrites and every type code stay, lengths scale."""
    import neurom as nm

    from neuro_lib.morphology.augment import copy_features, truncate_axon, truncated_copy
    from neuro_lib.morphology.topology import path_distances

    s = rat_cells["interneuron"]
    axon, dendrite = s.types == 2, np.isin(s.types, (3, 4))
    reach = path_distances(s)[axon].max()
    lengths = []
    for f in (0.25, 0.5, 1.0):
        t = truncate_axon(s, f)
        d = path_distances(t)
        assert d[t.types == 2].max() <= f * reach + 1e-6
        assert (t.types == 2).sum() < axon.sum() or f == 1.0
        assert np.isin(t.types, (3, 4)).sum() == dendrite.sum()  # the dendrites, their type codes kept
        assert t.metadata["axon_removed"] == len(s) - len(t)
        lengths.append(nm.get("total_length", to_neurom(t), neurite_type=nm.NeuriteType.axon))
    assert lengths[0] < lengths[1] < lengths[2]
    assert truncate_axon(s, 0.0).types.tolist().count(2) == 0
    no_axon = strip_axon(s)
    assert len(truncate_axon(no_axon, 0.5)) == len(no_axon)  # nothing to cut
    c = truncated_copy(s, 0.8, 0.5)
    half = truncate_axon(s, 0.5)
    dend = (nm.NeuriteType.basal_dendrite, nm.NeuriteType.apical_dendrite)
    assert sum(nm.get("total_length", to_neurom(c), neurite_type=t) for t in dend) == pytest.approx(
        0.8 * sum(nm.get("total_length", to_neurom(half), neurite_type=t) for t in dend), rel=1e-6)
    assert c.metadata["scale"] == 0.8 and c.metadata["axon_fraction"] == 0.5
    with pytest.raises(ValueError, match="fraction must be in"):
        truncate_axon(s, 1.5)
    with pytest.raises(ValueError, match="unknown kind"):
        copy_features([], kind="mirrored")
    # the two kinds are cached apart: the lab copy has no axon, the truncated one keeps part of it
    lab, cut = (copy_features([s.path], kind=k, n_jobs=1) for k in ("lab", "truncated"))
    assert lab["axon_length"].iloc[0] == 0 and cut["axon_length"].iloc[0] > 0
    assert lab["scale"].iloc[0] == cut["scale"].iloc[0]


def test_with_copies_trains_on_cells_and_copies_and_predicts_from_the_cells():
    from sklearn.linear_model import LogisticRegression

    from neuro_lib.morphology.augment import WithCopies

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    cells = np.c_[y + rng.normal(0, 0.3, 100), rng.normal(size=100)]  # feature 0 names the class
    copies = np.c_[rng.normal(size=100), y + rng.normal(0, 0.3, 100)]  # in the copies, feature 1 does
    copies[:10] = np.nan  # unreadable files: no copy
    m = WithCopies(LogisticRegression(), 2).fit(np.hstack([cells, copies]), y)
    assert m.n_copies_ == 90 and m.estimator_.coef_[0, 1] > 0.5  # the copies were trained on
    plain = LogisticRegression().fit(cells, y)
    swapped = np.hstack([cells, copies[:, ::-1]])  # predictions never read the copy columns
    assert np.allclose(m.predict_proba(swapped), m.predict_proba(np.hstack([cells, copies])))
    assert not np.allclose(m.predict_proba(np.hstack([cells, copies])), plain.predict_proba(cells))
    with pytest.raises(ValueError, match="expects 4 columns"):
        m.predict_proba(cells)
    two = WithCopies(LogisticRegression(), 2, n_copies=2).fit(np.hstack([cells, copies, copies]), y)
    assert two.n_copies_ == 180 and two.predict_proba(np.hstack([cells, copies, cells])).shape == (100, 2)
    with pytest.raises(ValueError, match="expects 6 columns"):
        two.fit(np.hstack([cells, copies]), y)


def test_predict_principal_interneuron(tmp_path, data_mirror):
    """The CLI's across-labs task: trained on every source (smoke subset), one row per file, a bad file gets its
    error; the typing-free default gives the same answer for a rotated, mirrored, retyped and axon-less copy."""
    import csv

    from scipy.spatial.transform import Rotation

    from neuro_lib import predict
    from neuro_lib.morphology import predict as mp
    from neuro_lib.morphology.io import write_swc

    good = tmp_path / "y_cell.swc"
    good.write_text((FIX / "y_cell.swc").read_text())
    bad = tmp_path / "cycle.swc"
    bad.write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 3\n3 3 2 0 0 1 2\n")
    out = tmp_path / "p.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert predict.main(["morphology", "--task", "principal_interneuron", "--profile", "smoke", "--out",
                             str(out), str(good), str(bad)]) == 0
        model = mp.fitted_model("principal_interneuron", mp.MODELS["principal_interneuron"][0], profile="smoke",
                                progress=False)
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["predicted"] in ("interneuron", "principal") and "cycle" in rows[1]["error"]
    assert float(rows[0]["p_interneuron"]) + float(rows[0]["p_principal"]) == pytest.approx(1, abs=1e-6)
    assert mp.MODELS["principal_interneuron"][0] == "svm_free" and model.view == "typing-free"
    s = read_swc(good)
    R = Rotation.random(random_state=5).as_matrix() @ np.diag([1, -1, 1])
    other = s.copy(xyz=s.xyz @ R.T, types=np.where(s.types == 4, 3, s.types))
    moved = tmp_path / "moved.swc"
    write_swc(other, moved)
    p1, p2 = model.predict_proba([s]), model.predict_proba([read_swc(moved)])
    assert np.allclose(p1, p2, atol=1e-6)
    with pytest.raises(KeyError, match="unknown task/model"):
        mp.fitted_model("principal_interneuron", "colour", profile="smoke")


def test_smoke_page(smoke_book):
    from conftest import check_smoke_page

    from neuro_lib.results import key

    t = "principal_interneuron"
    metrics = check_smoke_page(smoke_book, "morphology", "08_across_labs", [
        key(t, "logistic_free", "balanced_accuracy", split="rat_s1_5fold"),
        key(t, "gradient_boosting_aware", "balanced_accuracy", split="loso"),
        key(t, "logistic_free", "balanced_accuracy", split="external_rat_s1", group="dendrite-only"),
        key(t, "gradient_boosting_free", "balanced_accuracy", split="external_all", group="full"),
        key(t, "logistic_free", "balanced_accuracy", split="rat_s1_5fold", vs="logistic_aware"),
        key(t, "fusion_free", "balanced_accuracy", split="loso"),
        key(t, "gradient_boosting_augmented_aware", "balanced_accuracy", split="external_rat_s1", group="full",
            vs="gradient_boosting_aware"),
        key(t, "fusion_free", "balanced_accuracy", split="rat_s1_5fold", vs="gradient_boosting_free"),
        key(t, "fusion_free", "balanced_accuracy", split="external_rat_s1", group="dendrite-only",
            vs="logistic_free"),
        key(t, "label_audit", "n_flagged"),
        key(t, "network_free", "balanced_accuracy", split="loso"),
        key(t, "lab_adversarial_free", "balanced_accuracy", split="external_all", group="dendrite-only",
            vs="network_free"),
        key(t, "lab_adversarial_free", "balanced_accuracy", split="rat_s1_5fold", vs="network_free"),
        key(t, "lab_adversarial", "same_source_share")], all_figures_glued=True)
    # the networks are candidates, not branches of the fusion, and have no typing-aware twin to be paired with
    assert not [k for k in metrics if "diff_vs_network" in k and "/fusion_" in k]
    assert not [k for k in metrics if "diff_vs_lab_adversarial" in k]
