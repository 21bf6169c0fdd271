"""The one protocol every chapter uses: Split, cross_validate (seed + fold), CVResult, metrics, paired differences,
results keys, the cache and the torch estimator base class."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.ensemble import RandomForestClassifier
from torch import nn

from neuro_lib import cache, results
from neuro_lib import evaluation as ev
from neuro_lib.estimators import TorchClassifier
from neuro_lib.profiles import runtime


def _toy(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] + 0.7 * rng.normal(size=n) > 0, "excitatory", "inhibitory")
    return X, y


# ---- splits ------------------------------------------------------------------------------------------------
def test_split_refuses_overlap_and_names_it():
    with pytest.raises(ValueError, match="both train and test, e.g. index 3"):
        ev.Split([1, 2, 3], [], [3, 4])
    s = ev.Split([0, 1], [2], [3])
    assert s.fit.tolist() == [0, 1, 2]


def test_kfold_splits_cover_every_sample_once_per_repeat_and_are_seeded():
    _, y = _toy()
    a = ev.kfold_splits(y, 5, 2, seed=3, val_fraction=0.1)
    assert len(a) == 10 and [s.repeat for s in a] == [0] * 5 + [1] * 5
    for r in (0, 1):
        tests = np.concatenate([s.test for s in a if s.repeat == r])
        assert sorted(tests.tolist()) == list(range(len(y)))
    assert all(len(s.val) > 0 and not set(s.val) & set(s.train) for s in a)
    assert ev.kfold_splits(y, 5, 2, seed=3, val_fraction=0.1) == a
    assert ev.kfold_splits(y, 5, 2, seed=4, val_fraction=0.1) != a


def test_grouped_splits_keep_a_group_on_one_side():
    _, y = _toy(200)
    groups = np.repeat(np.arange(40), 5)  # e.g. 5 spikes per cell
    for s in ev.kfold_splits(y, 4, 1, seed=0, groups=groups, val_fraction=0.2):
        assert not set(groups[s.test]) & set(groups[s.fit])
        assert not set(groups[s.val]) & set(groups[s.train])


def test_as_splits_detects_repeats():
    sp = ev.as_splits([([0, 1], [2, 3]), ([2, 3], [0, 1]), ([0, 2], [1, 3])])
    assert [(s.fold, s.repeat) for s in sp] == [(0, 0), (1, 0), (0, 1)]


# ---- the driver ----------------------------------------------------------------------------------------------
def _cv(seed, models=None):
    X, y = _toy()
    models = models or {"forest": RandomForestClassifier(n_estimators=15),
                        "logreg": make_pipeline(StandardScaler(), LogisticRegression())}
    return ev.cross_validate(models, X, y, ev.kfold_splits(y, 4, 2, seed=0), seed=seed, progress=False,
                             groups=np.where(X[:, 1] > 0, "upper", "lower"))


def test_the_seed_reaches_every_fold_and_a_rerun_is_identical():
    a, b, c = _cv(0), _cv(0), _cv(1)
    assert np.array_equal(a["forest"].fold_values(), b["forest"].fold_values())
    assert not np.array_equal(a["forest"].fold_values(), c["forest"].fold_values())
    # seed + fold: two folds of one run do not share a seed (their forests differ on the same data)
    X, y = _toy()
    f0 = ev.seed_estimator(RandomForestClassifier(n_estimators=5), 0).fit(X, y)
    f1 = ev.seed_estimator(RandomForestClassifier(n_estimators=5), 1).fit(X, y)
    assert not np.array_equal(f0.predict_proba(X), f1.predict_proba(X))


def test_seed_estimator_reaches_nested_random_states():
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(random_state=0))
    assert ev.seed_estimator(pipe, 7).get_params()["randomforestclassifier__random_state"] == 7
    assert pipe.get_params()["randomforestclassifier__random_state"] == 0  # the argument is untouched


def test_cvresult_scores_groups_and_round_trips():
    r = _cv(0)["logreg"]
    assert r.groups == ["all", "upper", "lower"] or set(r.groups) == {"all", "upper", "lower"}
    assert len(r.fold_values()) == 8 and 0.6 < r.summary()["accuracy"] <= 1
    assert {"auc", "balanced_accuracy", "macro_f1"} <= set(r.summary())
    p = r.oof_proba(0)
    assert not np.isnan(p).any() and np.allclose(p.sum(1), 1)
    yt, yp = r.pooled(1)
    assert len(yt) == 240 and set(yp) <= {"excitatory", "inhibitory"}
    back = ev.CVResult.from_arrays(r.to_arrays())
    assert back.splits == r.splits and np.allclose(back.fold_values("auc", "upper"), r.fold_values("auc", "upper"))


class _RecordsVal(LogisticRegression):
    def fit(self, X, y, X_val=None, y_val=None, domain=None):
        self.n_fit_, self.n_val_ = len(X), (0 if X_val is None else len(X_val))
        self.domain_ = domain
        return super().fit(X, y)


def test_validation_samples_go_to_fit_or_into_training():
    X, y = _toy()
    sp = ev.kfold_splits(y, 4, 1, seed=0, val_fraction=0.25)
    seen = []
    ev.cross_validate({"a": _RecordsVal(), "b": LogisticRegression()}, X, y, sp, progress=False,
                      fit_params={"domain": np.arange(len(y))},
                      keep=lambda est, s: seen.append((type(est).__name__, getattr(est, "n_fit_", None),
                                                       getattr(est, "n_val_", None), len(s.train), len(s.val))))
    rec = [r for r in seen if r[0] == "_RecordsVal"]
    assert all(n_fit == tr and n_val == va and va > 0 for _, n_fit, n_val, tr, va in rec)
    assert len(rec) == 4 and len([r for r in seen if r[0] == "LogisticRegression"]) == 4


def test_cross_validate_checks_lengths_and_indices():
    X, y = _toy(40)
    with pytest.raises(ValueError, match="X has 39 samples but y has 40"):
        ev.cross_validate(LogisticRegression(), X[:39], y, ev.kfold_splits(y, 2), progress=False)
    with pytest.raises(ValueError, match="indexes sample 99"):
        ev.cross_validate(LogisticRegression(), X, y, [ev.Split(np.arange(30), [], [99])], progress=False)


def test_metrics_auc_and_errors():
    m = ev.metrics(np.array(["a", "b", "b", "a"]), proba=np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]),
                   classes=np.array(["a", "b"]))
    assert m["accuracy"] == 0.75 and m["auc"] == 1.0 and m["balanced_accuracy"] == 0.75
    with pytest.raises(ValueError):
        ev.metrics([0, 1])


# ---- paired comparisons -------------------------------------------------------------------------------------
def test_corrected_t_interval_matches_the_formula():
    d = np.array([0.02, 0.03, 0.01, 0.04, 0.00, 0.02, 0.03, 0.01, 0.02, 0.02])
    m, lo, hi, p = ev.corrected_t_interval(d, 0.25)
    from scipy import stats

    se = np.sqrt((1 / 10 + 0.25) * d.var(ddof=1))
    t = stats.t.ppf(0.975, 9)
    assert np.isclose(m, d.mean()) and np.isclose(lo, d.mean() - t * se) and np.isclose(hi, d.mean() + t * se)
    assert 0 < p < 0.05
    # the correction widens the naive interval
    assert (hi - lo) > 2 * t * d.std(ddof=1) / np.sqrt(10)
    assert np.isnan(ev.corrected_t_interval([0.1], 0.2)[1])


def test_paired_difference_needs_the_same_splits():
    a = _cv(0)
    d = ev.paired_difference(a["logreg"], a["forest"], "accuracy")
    assert d.n_splits == 8 and d.lo <= d.mean <= d.hi
    assert "corrected resampled t-test" in str(d)
    X, y = _toy()
    other = ev.cross_validate({"x": LogisticRegression()}, X, y, ev.kfold_splits(y, 4, 2, seed=9), progress=False)
    with pytest.raises(ValueError, match="same splits"):
        ev.paired_difference(a["logreg"], other["x"])
    keys = results.diff_metrics(d, "ei")
    assert set(keys) == {f"ei/logreg/diff_vs_forest/accuracy{s}" for s in ("", "_lo", "_hi", "_p")}


# ---- results keys -------------------------------------------------------------------------------------------
def test_results_keys_have_fixed_slots():
    k = results.key("ei", "dann", "accuracy", split="paper", group="human")
    assert k == "ei/dann/split=paper/group=human/accuracy"
    assert results.parse_key(k) == results.KeyParts("ei", "dann", "accuracy", split="paper", group="human")
    for bad in ["ei/dann/human/accuracy", "a/b", "a/b/group=x/split=y/m", "a//c"]:
        with pytest.raises(ValueError):
            results.parse_key(bad)
    with pytest.raises(ValueError, match="slot model"):
        results.key("ei", "da/nn", "accuracy")
    r = _cv(0)["logreg"]
    out = results.cv_metrics(r, "ei", split="cv")
    assert "ei/logreg/split=cv/accuracy_sd" in out and "ei/logreg/split=cv/group=upper/macro_f1" in out


def test_paper_numbers_come_from_the_yaml(tmp_path):
    (tmp_path / "data" / "paper_numbers").mkdir(parents=True)
    (tmp_path / "neuro_lib").mkdir()
    (tmp_path / "_config.yml").write_text("title: x\n")
    (tmp_path / "data" / "paper_numbers" / "x.yml").write_text(
        "rows:\n  - {task: t, model: m, metric: accuracy, key: t/m/accuracy, notebook: n, paper: 0.9}\n"
        "  - {task: t, model: m2, metric: accuracy, key: t/m2/accuracy, notebook: n}\n")
    assert results.paper_numbers("x", tmp_path) == {"t/m/accuracy": 0.9}


# ---- cache --------------------------------------------------------------------------------------------------
def test_cache_computes_once_and_is_keyed(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"w": np.arange(4.0)}

    a = cache.cached("t", {"n": 1}, compute)
    b = cache.cached("t", {"n": 1}, compute)
    c = cache.cached("t", {"n": 2}, compute)
    assert len(calls) == 2 and np.array_equal(a["w"], b["w"]) and np.array_equal(a["w"], c["w"])
    p = cache.cache_path("t", {"n": 1})
    assert p.exists() and json.loads(p.with_name(p.name + ".key.json").read_text())["key"] == {"n": 1}
    # a different package list or code list is a different item
    assert cache.cache_path("t", {"n": 1}, packages=("torch",)) != p
    assert cache.cache_path("t", {"n": 1}, code=["neuro_lib.results"]) != p
    # no temporary files left behind
    assert not [f for f in os.listdir(p.parent) if f.startswith(".")]


def test_cache_recomputes_an_unreadable_file_and_refuses_objects(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    p = cache.cache_path("t", {"n": 1}, kind="json")
    p.parent.mkdir(parents=True)
    p.write_text("{truncated")
    assert cache.cached("t", {"n": 1}, lambda: {"ok": 1}, kind="json") == {"ok": 1}
    with pytest.raises(cache.CacheError, match="Python objects"):
        cache.cached("t", {"n": 3}, lambda: {"x": np.array([object()])})
    assert not cache.cache_path("t", {"n": 3}).exists()
    with pytest.raises(cache.CacheError, match="JSON-able"):
        cache.cached("t", {"n": object()}, lambda: 1, kind="json")
    st = cache.cached("t", {"n": 4}, lambda: {"w": torch.ones(3)}, kind="pt")
    assert torch.equal(cache.cached("t", {"n": 4}, lambda: None, kind="pt")["w"], st["w"])


# ---- the torch estimator base class --------------------------------------------------------------------------
class TinyNet(TorchClassifier):
    def __init__(self, hidden=8, epochs=15, lr=1e-2, batch_size=32, patience=None, random_state=0, device="cpu",
                 progress=False):
        self.hidden, self.epochs, self.lr, self.batch_size = hidden, epochs, lr, batch_size
        self.patience, self.random_state, self.device, self.progress = patience, random_state, device, progress

    def _module_config(self, X, n_classes):
        return {"d": int(np.asarray(X).shape[1]), "h": int(self.hidden), "k": int(n_classes)}

    def _make_module(self, c):
        return nn.Sequential(nn.Linear(c["d"], c["h"]), nn.ReLU(), nn.Linear(c["h"], c["k"]))


def test_torch_classifier_is_a_scikit_learn_classifier():
    X, y = _toy()
    net = TinyNet(random_state=3)
    assert clone(net).get_params() == net.get_params()
    net.fit(X[:200], y[:200])
    p = net.predict_proba(X[200:])
    assert p.shape == (40, 2) and np.allclose(p.sum(1), 1)
    assert set(net.predict(X[200:])) <= set(net.classes_) and net.score(X[200:], y[200:]) > 0.6
    again = TinyNet(random_state=3).fit(X[:200], y[:200]).predict_proba(X[200:])
    other = TinyNet(random_state=4).fit(X[:200], y[:200]).predict_proba(X[200:])
    assert np.array_equal(p, again) and not np.array_equal(p, other)
    back = TinyNet.from_state(net.get_state())
    assert np.array_equal(back.predict_proba(X[200:]), p)
    with pytest.raises(ValueError, match="not one of the training classes"):
        TinyNet().fit(X, y, X_val=X[:5], y_val=np.array(["glia"] * 5))
    with pytest.raises(ValueError, match="at least two classes"):
        TinyNet().fit(X[:5], np.array(["a"] * 5))
    res = ev.cross_validate({"tiny": TinyNet()}, X, y, ev.kfold_splits(y, 3, seed=0, val_fraction=0.2), progress=False)
    assert res["tiny"].summary()["accuracy"] > 0.6


def test_runtime_resolves_device_and_threads():
    from threadpoolctl import threadpool_info, threadpool_limits

    before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    rt = runtime("cpu", "cpu", None, default_threads=1)
    assert rt.device == "cpu" and rt.threads == 1 and torch.get_num_threads() == 1
    assert threadpool_info() and all(p["num_threads"] == 1 for p in threadpool_info())  # OpenMP and BLAS too
    threadpool_limits(limits=max(before.values()))  # as it was, for the tests that follow
    with pytest.raises(ValueError, match="unknown profile"):
        runtime("laptop")
    with pytest.raises(ValueError, match="at least 1"):
        runtime("cpu", "cpu", 0)


def test_a_results_key_with_an_improvised_slot_is_refused(tmp_path):
    from neuro_lib import results

    (tmp_path / "neuro_lib").mkdir()
    ok = results.write_results("toy", "01", {results.key("ei", "dann", "accuracy", group="human"): 0.9}, root=tmp_path)
    assert json.loads(ok.read_text())["metrics"] == {"ei/dann/group=human/accuracy": 0.9}
    for bad in ("ei/dann/human/accuracy", "ei/dann/group=/accuracy", "ei/dann/colour=red/accuracy"):
        with pytest.raises(ValueError, match="results key"):
            results.write_results("toy", "01", {bad: 0.9}, root=tmp_path)
