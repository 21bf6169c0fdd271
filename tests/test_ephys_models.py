"""The ephys chapter's estimators and experiments: the seed reaches every model through the one CV driver, the
networks are scikit-learn estimators that preprocess on their training cells only, DANN's side information, the
source-only wrapper, the SVC's scores, the paper's splits and the results keys."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from neuro_lib import evaluation as ev
from neuro_lib import results
from neuro_lib.ephys import cre5_data, ei_data
from neuro_lib.ephys import experiments as ex
from neuro_lib.ephys import models as em
from neuro_lib.ephys.chapter import cre5_models, ei_models, settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cre():
    return ex.subsample(cre5_data(), 300, seed=0)


@pytest.fixture(scope="module")
def ei():
    return ex.subsample(ei_data(), 300, seed=0)


def _toy(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


# ---- the seed bug of issue 13: the seed must reach LSPIN and the baselines -------------------------------------
def _seeded_cv(seed):
    X, y = _toy(240)
    models = {
        "lspin": em.LSPINClassifier(epochs=2, n_ensemble=2, patience=None),
        "random_forest": em.baselines()["random_forest"].set_params(randomforestclassifier__n_estimators=20),
    }
    splits = ev.kfold_splits(y, 3, seed=0)  # the same splits for every seed: only the models' seeds differ
    return ev.cross_validate(models, X, y, splits, seed=seed, progress=False)


def test_two_seeds_give_different_lspin_and_baseline_scores_and_a_rerun_the_same():
    a, b, c = _seeded_cv(0), _seeded_cv(0), _seeded_cv(1)
    for m in ("lspin", "random_forest"):
        assert all(np.array_equal(p, q) for p, q in zip(a[m].proba, b[m].proba)), m
        assert np.array_equal(a[m].fold_values(), b[m].fold_values()), m
        assert not any(np.array_equal(p, q) for p, q in zip(a[m].proba, c[m].proba)), m
        assert not np.array_equal(a[m].fold_values(), c[m].fold_values()), m


def test_split_j_trains_with_seed_plus_j():
    """The driver's split j is the estimator fitted with random_state = seed + j (every ensemble member included)."""
    X, y = _toy(240)
    split = ev.kfold_splits(y, 3, seed=0)[2]
    cv = ev.cross_validate(
        {"lspin": em.LSPINClassifier(epochs=2, n_ensemble=2)}, X, y, [split] * 3, seed=4, progress=False
    )["lspin"]
    direct = em.LSPINClassifier(epochs=2, n_ensemble=2, random_state=6).fit(X[split.train], y[split.train])
    assert np.array_equal(cv.proba[2], direct.predict_proba(X[split.test]))
    assert not np.array_equal(cv.proba[0], cv.proba[2])


# ---- the estimators ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [lambda: cre5_models(settings("smoke", cre5_models=None)), lambda: ei_models(settings("smoke", ei_models=None))],
)
def test_every_chapter_model_is_a_clonable_estimator_with_a_random_state(make):
    for name, est in make().items():
        again = clone(est)
        assert type(again) is type(est) and again.get_params().keys() == est.get_params().keys(), name
        assert any(k == "random_state" or k.endswith("__random_state") for k in est.get_params(deep=True)), name


@pytest.mark.parametrize(
    "net", [em.LSPINClassifier(epochs=2, n_ensemble=2), em.MLPNetwork(epochs=2), em.DANNClassifier(epochs=2)]
)
def test_networks_round_trip_through_their_state_and_the_cache(net, tmp_path, monkeypatch):
    from neuro_lib import cache

    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    X, y = _toy()
    fitted = clone(net).set_params(random_state=3).fit(X[:120], y[:120])
    cache.cached("t", {"n": 1}, fitted.get_state, kind="pt")  # torch.save
    state = cache.cached("t", {"n": 1}, fitted.get_state, kind="pt")  # a hit: torch.load(weights_only=True)
    assert len(list(tmp_path.glob("t/*.pt"))) == 1
    back = type(net).from_state(state)
    assert np.array_equal(back.predict_proba(X[120:]), fitted.predict_proba(X[120:]))
    assert state["estimator"] == type(net).__name__ and set(back.classes_) == {0, 1}
    p = fitted.predict_proba(X[120:])
    assert p.shape == (40, 2) and np.allclose(p.sum(1), 1)
    assert np.array_equal(fitted.predict(X[120:]), fitted.classes_[p.argmax(1)])


def test_preprocessor_learns_from_its_training_cells_only():
    X, _ = _toy()
    prep = em.Preprocessor().fit(X[:100])
    assert np.allclose(prep.pipe_.named_steps["impute"].statistics_, np.nanmedian(X[:100], axis=0))
    assert prep.n_imputed_ == int(np.isnan(X[:100]).sum())
    shifted = X.copy()
    shifted[100:] += 50.0  # test cells far away: they change nothing the preprocessor learnt
    assert np.array_equal(em.Preprocessor().fit(shifted[:100]).transform(X[:100]), prep.transform(X[:100]))
    Z = prep.transform(shifted[100:])
    assert Z.dtype == np.float32 and Z.max() <= 8 and not np.isnan(Z).any()
    back = em.Preprocessor.from_state(prep.get_state())
    assert np.array_equal(back.transform(X), prep.transform(X))
    with pytest.raises(ValueError, match=r"expected \(n, 6\) features"):
        prep.transform(X[:, :5])


def test_lspin_members_each_have_their_seed_and_gates_in_0_1():
    X, y = _toy()
    net = em.LSPINClassifier(epochs=2, n_ensemble=3, random_state=0).fit(X, y)
    w = [next(m.parameters()).detach() for m in net.module_]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    # member k is the network of seed random_state + k (same training cells when the validation cells are given)
    given = em.LSPINClassifier(epochs=2, n_ensemble=2, random_state=0).fit(X, y, X_val=X[:30], y_val=y[:30])
    single = em.LSPINClassifier(epochs=2, n_ensemble=1, random_state=1).fit(X, y, X_val=X[:30], y_val=y[:30])
    assert torch.equal(next(given.module_[1].parameters()), next(single.module_[0].parameters()))
    G = net.gates(X)
    assert G.shape == X.shape and G.min() >= 0 and G.max() <= 1


def test_lspin_class_weights():
    X, y = _toy()
    y = np.where(np.arange(len(y)) < 20, 2, y)  # a rare third class
    a = em.LSPINClassifier(epochs=2, n_ensemble=1).fit(X, y)
    b = em.LSPINClassifier(epochs=2, n_ensemble=1, class_weight="balanced").fit(X, y)
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    with pytest.raises(ValueError, match="class_weight must be None or 'balanced'"):
        em.LSPINClassifier(epochs=1, n_ensemble=1, class_weight="inverse").fit(X, y)


def test_dann_without_target_labels_never_uses_them():
    X, y = _toy()
    d = (np.arange(len(y)) % 4 == 0).astype(int)
    y2 = y.copy()
    y2[d == 1] = 1 - y2[d == 1]  # other labels for the target cells
    a = em.DANNClassifier(epochs=3, target_labels=False).fit(X, y, domain=d)
    b = em.DANNClassifier(epochs=3, target_labels=False).fit(X, y2, domain=d)
    c = em.DANNClassifier(epochs=3, target_labels=True).fit(X, y2, domain=d)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    assert a.features(X).shape == (len(X), 32)
    with pytest.raises(ValueError, match="0 \\(source\\) or 1 \\(target\\)"):
        em.DANNClassifier(epochs=1).fit(X, y, domain=d + 1)
    with pytest.raises(ValueError, match="one value per cell"):
        em.DANNClassifier(epochs=1).fit(X, y, domain=d[:10])


def test_max_steps_caps_every_network_fit():
    X, y = _toy()
    for net in (em.LSPINClassifier(n_ensemble=2), em.MLPNetwork(), em.DANNClassifier()):
        fitted = net.set_params(max_steps=2, epochs=50, patience=None).fit(X, y)
        hist = fitted.history_ if isinstance(fitted.history_, list) else [fitted.history_]
        assert all(len(h.train_loss) == 1 for h in hist), type(net).__name__


def test_source_only_fits_its_estimator_on_source_cells_only():
    X, y = _toy()
    d = (np.arange(len(y)) % 3 == 0).astype(int)
    lr = em.baselines()["logistic_regression"]
    so = em.SourceOnly(lr).fit(X, y, domain=d)
    ref = clone(lr).fit(X[d == 0], y[d == 0])
    assert so.n_source_ == int((d == 0).sum()) and np.array_equal(so.predict_proba(X), ref.predict_proba(X))
    assert np.array_equal(so.classes_, [0, 1])
    with pytest.raises(ValueError, match="needs domain"):
        em.SourceOnly(lr).fit(X, y)
    with pytest.raises(ValueError, match="no cell of the source domain"):
        em.SourceOnly(lr, source=5).fit(X, y, domain=d)


def test_svc_scores_rank_as_the_svc_decides(cre):
    from sklearn.svm import SVC

    X = em.Preprocessor().fit(cre.X).transform(cre.X)
    for y in (cre.y, (cre.y == 0).astype(int)):  # five classes and two
        svc = em.SVCScores().fit(X[:200], y[:200])
        p = svc.predict_proba(X[200:])
        assert np.allclose(p.sum(1), 1)
        ties_broken = SVC(break_ties=True).fit(X[:200], y[:200]).predict(X[200:])
        assert np.array_equal(svc.classes_[p.argmax(1)], ties_broken)
        assert np.mean(svc.predict(X[200:]) == ties_broken) >= 0.97  # libsvm's vote differs only on ties


# ---- splits, runs and keys ------------------------------------------------------------------------------------
def test_the_papers_splits_have_the_papers_sizes():
    e = ei_data()
    [s] = ex.paper_split_ei(e.y, e.domain, seed=0)
    assert (e.domain[s.test] == 0).sum() == 285 and (e.domain[s.test] == 1).sum() == 60 and len(s.train) == 1378
    assert ex.paper_split_ei(e.y, e.domain, seed=0) == [s] and ex.paper_split_ei(e.y, e.domain, seed=1) != [s]
    c = cre5_data()
    [s5] = ex.paper_split_cre5(c.y, c.complete, seed=0)
    assert (len(s5.train), len(s5.test)) == (1105, 277) and c.complete[s5.fit].all() and c.complete[s5.test].all()
    # on a subsample, the same shares
    small = ex.subsample(e, 400, seed=0)
    [t] = ex.paper_split_ei(small.y, small.domain)
    assert 60 <= len(t.test) <= 90


def test_runs_write_keys_with_fixed_slots_and_paired_differences(cre, ei):
    cfg = settings("smoke", n_splits=2, n_repeats=2)
    exp5, expei = ex.run_cre5(cre, cfg, progress=False), ex.run_ei(ei, cfg, progress=False)
    m = {**ex.cre5_metrics(exp5), **ex.ei_metrics(expei)}
    for k in m:
        results.parse_key(k)  # every key has the fixed slots
    assert {
        "cre5/lspin/accuracy",
        "cre5/lspin/accuracy_sd",
        "cre5/lspin/split=folds/accuracy_sd",
        "cre5/lspin/split=paper/accuracy",
        "cre5/lspin/split=paper/accuracy_sd",
        "cre5/lspin/diff_vs_logistic_regression/accuracy",
        "cre5/lspin/diff_vs_logistic_regression/macro_f1_lo",
        "ei/dann/group=human/accuracy",
        "ei/dann/group=mouse/macro_f1_sd",
        "ei/source_only/split=paper/group=human/accuracy",
        "ei/dann/group=human/diff_vs_source_only/accuracy_hi",
        "ei/dann/group=human/diff_vs_source_only/accuracy_p",
    } <= set(m)
    # the paper's split is trained once per seed: two trainings of the same split, with seeds 0 and 1
    assert (
        len(exp5.paper["lspin"].splits) == 2
        and exp5.paper["lspin"].splits[0].test.tolist() == exp5.paper["lspin"].splits[1].test.tolist()
    )
    # the seed sd is the sd of the two seeds' means; the fold sd that of the four single folds
    v = exp5.cv["lspin"].fold_values("accuracy")
    assert np.isclose(m["cre5/lspin/accuracy"], v.mean())
    assert np.isclose(m["cre5/lspin/accuracy_sd"], np.std([v[:2].mean(), v[2:].mean()], ddof=1))
    assert np.isclose(m["cre5/lspin/split=folds/accuracy_sd"], np.std(v, ddof=1))
    d = expei.diff("dann", "source_only", "human")
    assert np.isclose(m["ei/dann/group=human/diff_vs_source_only/accuracy"], d.mean) and d.n_splits == 4


def test_differences_are_stated_with_their_interval():
    d = ev.PairedDifference("lspin", "svc", "accuracy", 0.004, -0.01, 0.018, 0.5, 15)
    txt = ex.say_difference(d, {"lspin": "LSPIN", "svc": "SVC"})
    assert txt.startswith("LSPIN - SVC: +0.4 points of accuracy (95% interval -1.0 to +1.8")
    assert "includes 0, so neither is shown to be better" in txt
    assert ex.say_difference(ev.PairedDifference("a", "b", "accuracy", 0.03, 0.01, 0.05, 0.01, 15)).endswith(
        "a is better"
    )
    assert ex.say_difference(ev.PairedDifference("a", "b", "accuracy", -0.03, -0.05, -0.01, 0.01, 15)).endswith("worse")
    assert "no interval" in ex.say_difference(ev.PairedDifference("a", "b", "accuracy", 0.1, np.nan, np.nan, np.nan, 1))
