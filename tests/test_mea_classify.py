"""The MEA chapter's estimator, its fit cache, its splits, per-cell tables, results keys and predict."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone

from neuro_lib import evaluation as ev
from neuro_lib import results
from neuro_lib.mea import MEAError
from neuro_lib.mea.classify import (cross_validate_dataset, cv_metrics, per_cell_table, split_by_position,
                                    split_spikes)
from neuro_lib.mea.cnn import CachedFit, MEACNNClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # as the chapter trains (threads in its profiles)

CELLS = ["L5_BP_bAC217_1", "L5_MC_bAC217_1", "L5_UTPC_cADpyr232_1"]


def _images(n=180, seed=0):
    """Toy feature images (n, 4, 10, 10): the class shifts the amplitude image; channel 3 is noise."""
    rng = np.random.default_rng(seed)
    cell = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(n, 4, 10, 10)).astype(np.float32)
    X[:, 0] += 1.5 * cell[:, None, None]
    return X * 20, cell


def _toy_dataset(n=180, seed=0):
    X, cell = _images(n, seed)
    rng = np.random.default_rng(seed + 1)
    return SimpleNamespace(cells=CELLS, cell=cell, features=X.reshape(n, 4, 100), regime="3drot",
                           mtype=np.array(["BP", "MC", "UTPC"])[cell], excitatory=(cell == 2).astype(np.int64),
                           positions=rng.uniform(-75, 75, size=(n, 3)),
                           images=lambda ch=(0, 1): X[:, list(ch)])


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---- the estimator -----------------------------------------------------------------------------------------
def test_cnn_is_a_seeded_scikit_learn_classifier():
    X, y = _images()
    sp = split_spikes(y, seed=0)[0]
    est = MEACNNClassifier(epochs=6, patience=3, device="cpu", random_state=1)
    assert clone(est).get_params() == est.get_params()
    est.fit(X[sp.train], y[sp.train], X_val=X[sp.val], y_val=y[sp.val])
    p = est.predict_proba(X[sp.test])
    assert p.shape == (len(sp.test), 3) and np.allclose(p.sum(1), 1)
    assert est.score(X[sp.test], y[sp.test]) > 0.6
    # early stopping watches the validation accuracy and keeps its best epoch
    h = est.history_
    assert len(h.val_score) == len(h.train_loss) and h.best_epoch == int(np.argmax(h.val_score))
    again = MEACNNClassifier(epochs=6, patience=3, device="cpu", random_state=1).fit(
        X[sp.train], y[sp.train], X_val=X[sp.val], y_val=y[sp.val])
    other = MEACNNClassifier(epochs=6, patience=3, device="cpu", random_state=2).fit(
        X[sp.train], y[sp.train], X_val=X[sp.val], y_val=y[sp.val])
    assert np.array_equal(again.predict_proba(X[sp.test]), p)
    assert not np.array_equal(other.predict_proba(X[sp.test]), p)
    back = MEACNNClassifier.from_state(est.get_state())
    assert np.array_equal(back.predict_proba(X[sp.test]), p)


def test_cnn_picks_its_channels_and_scales_on_training_spikes():
    X, y = _images(60)
    four = MEACNNClassifier(channels=(0, 1, 2, 3), epochs=1, device="cpu").fit(X, y)
    two = MEACNNClassifier(channels=(0, 1), epochs=1, device="cpu").fit(X, y)
    assert four.module_.in_channels == 4 and two.module_.in_channels == 2
    assert np.allclose(two.module_.mean.numpy().ravel(), X[:, :2].mean(axis=(0, 2, 3)), rtol=1e-5)
    with pytest.raises(ValueError, match=r"feature images \(n, features > 3"):
        MEACNNClassifier(channels=(0, 1, 2, 3)).fit(X[:, :2], y)
    with pytest.raises(ValueError, match="feature images"):
        two.predict(X.reshape(60, 4, 100))


def test_cached_fit_trains_once_per_data_and_seed(tmp_cache):
    X, y = _images(90)
    sp = split_spikes(y, seed=0)[0]
    kw = dict(X_val=X[sp.val], y_val=y[sp.val])
    base = CachedFit(MEACNNClassifier(epochs=2, device="cpu"), name="t")
    a = clone(base).fit(X[sp.train], y[sp.train], **kw)
    b = clone(base).fit(X[sp.train], y[sp.train], **kw)
    assert not a.from_cache_ and b.from_cache_
    assert np.array_equal(a.predict_proba(X[sp.test]), b.predict_proba(X[sp.test]))
    c = clone(base).fit(X[sp.train] + 1, y[sp.train], **kw)                  # other data: trained
    d = ev.seed_estimator(base, 5).fit(X[sp.train], y[sp.train], **kw)       # other seed: trained
    assert not c.from_cache_ and not d.from_cache_
    assert d.estimator_.random_state == 5
    assert len(list((tmp_cache / "mea" / "models").glob("t-*.pt"))) == 3


# ---- splits --------------------------------------------------------------------------------------------------
def test_split_spikes_are_stratified_by_cell_and_seeded():
    cell = np.repeat(np.arange(13), 100)
    sp = split_spikes(cell, seed=3, n_repeats=3)
    assert all(isinstance(s, ev.Split) for s in sp) and [s.repeat for s in sp] == [0, 1, 2]
    for s in sp:
        assert sorted(np.concatenate([s.train, s.val, s.test]).tolist()) == list(range(len(cell)))
        assert np.all(np.bincount(cell[s.test], minlength=13) == 20)           # 20% of each cell
        assert np.all(np.bincount(cell[s.val], minlength=13) == 10)
    assert sp[0] == split_spikes(cell, seed=3)[0]
    assert np.array_equal(sp[1].test, split_spikes(cell, seed=4)[0].test)
    assert not np.array_equal(sp[0].test, sp[1].test)


def test_split_by_position_holds_out_the_positions():
    ds = _toy_dataset()
    s = split_by_position(ds, axis=2, test_above=35.0, seed=0)[0]
    assert np.all(ds.positions[s.test, 2] > 35) and np.all(ds.positions[s.fit, 2] <= 35)
    assert len(s.test) + len(s.fit) == len(ds.cell) and len(s.val) > 0
    with pytest.raises(ValueError, match="both sides need spikes"):
        split_by_position(ds, test_above=100.0)


# ---- cross-validation on a dataset, per-cell tables and keys ----------------------------------------------
def test_cross_validate_dataset_scores_each_cell_and_writes_slot_keys(tmp_cache):
    ds = _toy_dataset()
    splits = split_spikes(ds, seed=0, n_repeats=2)
    cvs = cross_validate_dataset(ds, "mtype", splits, ("cnn", "cnn_4ch"), epochs=2, patience=None, device="cpu",
                                 progress=False)
    cv = cvs["cnn"]
    assert set(cv.groups) == {"all", "BP", "MC", "UTPC"} and len(cv.extras["model"]) == 2
    df, summ = per_cell_table(cv, ds)
    for _, row in df.iterrows():                       # each cell's accuracy: mean over splits of its test spikes
        c = CELLS.index(row["cell"])
        want = np.mean([(cv.classes[p.argmax(1)] == cv.y[s.test])[ds.cell[s.test] == c].mean()
                        for s, p in zip(cv.splits, cv.proba)])
        assert row["accuracy"] == pytest.approx(want) and row["test spikes"] == 12
    assert summ["min"] <= summ["median"] <= summ["max"]
    keys = cv_metrics(cv, "mtype", "cnn", "3drot", ds)
    for k in keys:
        results.parse_key(k)
    assert keys["mtype/cnn/split=3drot/accuracy"] == pytest.approx(cv.summary()["accuracy"])
    assert "mtype/cnn/split=3drot/accuracy_sd" in keys and "mtype/cnn/split=3drot/group=MC/accuracy" in keys
    assert keys["mtype/cnn/split=3drot/cell_accuracy_median"] == pytest.approx(summ["median"])
    # the two networks saw the same splits, so they can be compared pairwise
    d = ev.paired_difference(cvs["cnn_4ch"], cv)
    assert d.n_splits == 2


# ---- predict -----------------------------------------------------------------------------------------------
def _write_inputs(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(0, 5, size=(3, 100, 224)).astype(np.float32)
    good[:, 40, 64] = -120
    np.save(tmp_path / "good.npy", good)
    nan = good.copy()
    nan[1, 3, 5] = np.nan
    np.save(tmp_path / "with_nan.npy", nan)
    np.save(tmp_path / "one.npy", good[0])                         # (100, samples): one template
    np.save(tmp_path / "transposed.npy", good.transpose(0, 2, 1))
    (tmp_path / "notes.npy").write_text("not an array\n")
    return [str(tmp_path / f) for f in ("good.npy", "with_nan.npy", "one.npy", "transposed.npy", "notes.npy")]


def test_read_inputs_names_the_bad_file_and_keeps_the_rest(tmp_path):
    from neuro_lib.mea.predict import read_inputs

    paths = _write_inputs(tmp_path)
    inp = read_inputs(paths, "binary")
    assert inp.ids[:4] == [f"{paths[0]}:{i}" for i in range(3)] + [f"{paths[1]}:0"]
    assert len(inp.valid) == 3 + 2 + 1 and inp.X.shape == (6, 4, 10, 10)
    errs = {inp.ids[k]: v for k, v in inp.errors.items()}
    assert set(errs) == {f"{paths[1]}:1", paths[3], paths[4]}
    assert "template 1 holds NaN" in errs[f"{paths[1]}:1"] and paths[1] in errs[f"{paths[1]}:1"]
    assert "expected EAP templates of shape (n, 100 channels, samples)" in errs[paths[3]]
    assert "channels last" in errs[paths[3]]
    assert "not a readable NumPy .npy array" in errs[paths[4]]
    from neuro_lib.mea.predict import _load

    with pytest.raises(MEAError, match="notes.npy"):
        _load(paths[4])


def test_predict_cli_classifies_templates_in_the_smoke_profile(tmp_path):
    from neuro_lib.mea.predict import example_templates
    from neuro_lib.predict import main

    sim = example_templates(tmp_path / "bp.npy", n=3, cell="L5_BP_bAC217_1")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 64, 224)))
    out = tmp_path / "pred.csv"
    assert main(["mea", "--task", "binary", "--profile", "smoke", "--out", str(out), str(sim), str(bad)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [r["input"] for r in rows] == [f"{sim}:{i}" for i in range(3)] + [str(bad)]
    for r in rows[:3]:
        assert r["predicted"] in {"excitatory", "inhibitory"} and not r["error"]
        assert float(r["p_excitatory"]) + float(r["p_inhibitory"]) == pytest.approx(1, abs=1e-5)
    assert rows[3]["predicted"] == "" and "bad.npy" in rows[3]["error"] and "64" in rows[3]["error"]
    # the second call reads the cached fit: the same probabilities
    out2 = tmp_path / "pred2.csv"
    main(["mea", "--task", "binary", "--profile", "smoke", "--out", str(out2), str(sim)])
    assert [r["p_excitatory"] for r in csv.DictReader(open(out2))] == [r["p_excitatory"] for r in rows[:3]]


# ---- settings and the numba cache -------------------------------------------------------------------------
def test_chapter_threads_and_numba_cache_under_neuro_lib_cache(tmp_path):
    from neuro_lib.mea import chapter

    assert chapter.settings("cpu")["threads"] == 2 and chapter.settings("smoke")["threads"] == 1
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"NEURO_LIB_CACHE": str(tmp_path)}
    code = ("from neuro_lib.mea.extracellular import _numba_kernel; _numba_kernel(); import numba; "
            "print(numba.config.CACHE_DIR)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / "numba")


def test_max_steps_caps_the_optimisation_steps(tmp_cache):
    from neuro_lib.mea.classify import cnn_estimators

    X, y = _images(90)
    kw = dict(epochs=50, patience=None, device="cpu", progress=False)
    capped = cnn_estimators(("cnn",), max_steps=2, **kw)["cnn"].set_params(estimator__batch_size=8)
    net = clone(capped.estimator).fit(X, y, X_val=X[:9], y_val=y[:9])
    assert len(net.history_.train_loss) == 1                          # 2 of the first epoch's 12 batches of 8
    assert len(net.classes_) == 3 and net.predict_proba(X[:4]).shape == (4, 3)
    full = clone(capped.estimator).set_params(max_steps=None, epochs=1).fit(X, y, X_val=X[:9], y_val=y[:9])
    w = [next(iter(e.module_.parameters())).detach().numpy() for e in (net, full)]
    assert not np.allclose(*w)                                        # the capped fit stopped inside the epoch
    assert capped.cache_key(X, y)["params"]["max_steps"] == 2         # never read for an uncapped fit
    assert capped.fit(X, y, X_val=X[:9], y_val=y[:9]).estimator_.max_steps == 2


def test_training_step_memory_counts_the_paper_network():
    from neuro_lib.mea.classify import training_step_memory

    m = training_step_memory(2, 13, 128, repeats=1)
    assert m["parameters"] == 2 * 32 * 9 + 32 + 32 * 64 * 9 + 64 + 576 * 1024 + 1024 + 1024 * 13 + 13
    assert m["persistent_bytes"] >= 4 * 4 * m["parameters"]     # weights, gradients, Adam's two moments, float32
    assert m["peak_bytes"] > m["persistent_bytes"]              # the step's activations come on top


def test_describe_difference_claims_only_what_the_interval_shows():
    from neuro_lib.evaluation import PairedDifference
    from neuro_lib.mea.classify import describe_difference

    def d(mean, lo, hi, n=3):
        return describe_difference(PairedDifference("cnn_4ch", "cnn", "accuracy", mean, lo, hi, 0.04, n))

    assert "cnn_4ch better: the interval excludes 0" in d(0.087, 0.011, 0.164)
    assert "cnn_4ch worse" in d(-0.05, -0.09, -0.01)
    assert "no difference shown" in d(0.02, -0.01, 0.05)
    assert "no claim" in d(0.02, np.nan, np.nan, n=1)
    assert "no width" in d(0.0023, 0.0023, 0.0023) and "better" not in d(0.0023, 0.0023, 0.0023)
