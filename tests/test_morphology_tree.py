"""Reduced tree, node sequence, batching, Child-Sum Tree-LSTM (batched vs per-node reference), LSTM, the sequence
models as estimators, and the fusion estimators."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from neuro_lib import evaluation as ev
from neuro_lib.models.fusion import MLPHead
from neuro_lib.models.lstm import IndexedSequences, SequenceLSTM, pad_sequences
from neuro_lib.models.tree_lstm import ChildSumTreeLSTM, collate_trees, tree_heights
from neuro_lib.morphology.fusion import LateFusion, MLPFusion
from neuro_lib.morphology.networks import LSTMClassifier, TreeLSTMClassifier
from neuro_lib.morphology.tree import (
    FEATURES,
    ReducedTree,
    node_sequence,
    reduce_tree,
    trees_from_arrays,
    trees_to_arrays,
)


def collate(trees):
    return collate_trees([t.features for t in trees], [t.parent for t in trees], [t.height for t in trees])

F = {name: i for i, name in enumerate(FEATURES)}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: one thread is much faster under load


def y_tree():
    """soma (0,0,0) -> 1 (10,0,0) -> 2 (20,0,0) branch -> 3 (30,10,0) -> 4 (40,20,0) terminal; 2 -> 5 (30,-10,0)."""
    xyz = np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0], [30, 10, 0], [40, 20, 0], [30, -10, 0]], float)
    radius = np.array([5, 1, 1, 0.5, 0.5, 0.4])
    parent = np.array([-1, 0, 1, 2, 3, 2])
    types = np.array([1, 3, 3, 3, 3, 4])
    return xyz, radius, parent, types


def random_tree(rng, n=None):
    n = int(rng.integers(3, 400)) if n is None else n
    parent = np.array([-1] + [int(rng.integers(max(0, i - 8), i)) for i in range(1, n)])
    return reduce_tree(rng.normal(size=(n, 3)) * 40, rng.random(n) + 0.1, parent, rng.integers(2, 5, n))


def test_reduce_tree_keeps_root_branch_points_and_terminals_with_known_features():
    t = reduce_tree(*y_tree())
    assert t.rows.tolist() == [0, 2, 4, 5]
    assert t.parent.tolist() == [-1, 0, 1, 1]
    assert t.height.tolist() == [2, 1, 0, 0]
    f = t.features
    assert f.shape == (4, len(FEATURES))
    np.testing.assert_allclose(f[1, F["path_to_parent"]], 0.20, atol=1e-6)
    np.testing.assert_allclose(f[2, F["path_to_parent"]], 2 * np.hypot(10, 10) / 100, atol=1e-6)
    np.testing.assert_allclose(f[2, F["euclid_to_parent"]], np.hypot(20, 20) / 100, atol=1e-6)
    np.testing.assert_allclose(f[2, F["path_to_root"]], (20 + 2 * np.hypot(10, 10)) / 1000, atol=1e-6)
    np.testing.assert_allclose(f[2, [F["x"], F["y"], F["z"]]], [0.4, 0.2, 0.0], atol=1e-6)
    assert f[:, F["branch_order"]].tolist() == pytest.approx([0, 0.1, 0.2, 0.2])
    assert f[:, F["n_children"]].tolist() == [1, 2, 0, 0]
    assert f[3, F["is_apical"]] == 1 and f[2, F["is_basal"]] == 1 and f[0, F["is_basal"]] == 0
    assert f[:, F["radius"]].tolist() == pytest.approx([5, 1, 0.5, 0.4])


def test_three_point_soma_is_merged_into_the_root():
    # NeuroMorpho 3-point soma: rows 1 and 2 are soma points, a dendrite hangs from row 2 and one from the root
    xyz = np.array([[0, 0, 0], [0, -5, 0], [0, 5, 0], [0, 15, 0], [0, 25, 0], [10, 0, 0]], float)
    parent = np.array([-1, 0, 0, 2, 3, 0])
    types = np.array([1, 1, 1, 3, 3, 3])
    t = reduce_tree(xyz, np.ones(6), parent, types)
    assert t.rows.tolist() == [0, 4, 5]          # soma rows 1, 2 are not nodes; 3 is unbranched
    assert t.parent.tolist() == [-1, 0, 0]
    # the merged soma is the root point: the path runs from the root (0,0,0) to row 3 (15 um), then 10 um
    np.testing.assert_allclose(t.features[1, F["path_to_parent"]], 0.25, atol=1e-6)
    # without types, soma point 1 is a terminal of the root
    assert reduce_tree(xyz, np.ones(6), parent).rows.tolist() == [0, 1, 4, 5]  # untyped: soma point 1 is a tip


def test_reduce_tree_rejects_bad_arrays():
    xyz, r, p, t = y_tree()
    with pytest.raises(ValueError, match="one root"):
        reduce_tree(xyz, r, np.array([-1, -1, 1, 2, 3, 2]), t)
    with pytest.raises(ValueError, match="before children"):
        reduce_tree(xyz, r, np.array([-1, 2, 0, 2, 3, 2]), t)
    with pytest.raises(ValueError, match="xyz"):
        reduce_tree(xyz[:3], r, p, t)


def test_node_sequence_is_preorder_and_subsampled():
    t = reduce_tree(*y_tree())
    seq = node_sequence(t)
    np.testing.assert_array_equal(seq, t.features[[0, 1, 2, 3]])
    big = random_tree(np.random.default_rng(1), 400)
    s = node_sequence(big, max_len=50)
    assert s.shape == (50, len(FEATURES))
    np.testing.assert_array_equal(s[0], big.features[0])


def test_collate_orders_by_height_and_links_children():
    rng = np.random.default_rng(0)
    trees = [random_tree(rng) for _ in range(6)]
    b = collate(trees)
    assert b.x.shape == (sum(len(t) for t in trees), len(FEATURES))
    n_children = 0
    for s, e, child, slot in b.levels:
        assert (child < s).all()                       # children are computed before their parents
        assert slot.min() >= 0 and slot.max() < e - s if len(slot) else True
        n_children += len(child)
    assert n_children == sum(len(t) - 1 for t in trees)
    np.testing.assert_array_equal(b.x[b.roots].numpy(), np.stack([t.features[0] for t in trees]))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_batched_tree_lstm_equals_recursive_reference(dtype, tol):
    rng = np.random.default_rng(2)
    trees = [random_tree(rng) for _ in range(8)] + [reduce_tree(*y_tree())]
    torch.manual_seed(0)
    m = ChildSumTreeLSTM(len(FEATURES), 128).to(dtype)
    cast = [ReducedTree(t.features.astype(np.float64 if dtype == torch.float64 else np.float32), t.parent, t.rows,
                        t.height) for t in trees]
    b = collate(cast)
    out = m(b)
    ref = torch.stack([m.forward_recursive(t.features, t.parent) for t in cast])
    assert out.shape == (9, 128)
    assert float((out - ref).abs().max()) < tol
    with torch.no_grad():  # the inference path (no gates kept) computes the same states
        assert float((m(b) - ref.detach()).abs().max()) < tol
    # gradients agree too
    out.pow(2).sum().backward()
    g = {k: p.grad.clone() for k, p in m.named_parameters()}
    m.zero_grad()
    torch.stack([m.forward_recursive(t.features, t.parent) for t in cast]).pow(2).sum().backward()
    for k, p in m.named_parameters():
        assert float((g[k] - p.grad).abs().max()) < tol * 10, k


def test_batched_output_does_not_depend_on_batch_company():
    rng = np.random.default_rng(3)
    trees = [random_tree(rng) for _ in range(5)]
    m = ChildSumTreeLSTM(len(FEATURES), 16)
    with torch.no_grad():
        alone = m(collate(trees[2:3]))
        together = m(collate(trees))[2:3]
    torch.testing.assert_close(alone, together, atol=1e-6, rtol=1e-5)


def test_lstm_ignores_padding():
    rng = np.random.default_rng(4)
    seqs = [rng.normal(size=(n, len(FEATURES))).astype(np.float32) for n in (3, 40, 17)]
    m = SequenceLSTM(len(FEATURES), 3, bank=IndexedSequences(seqs)).eval()
    with torch.no_grad():
        alone = m(torch.tensor([0]))
        batch = m(torch.tensor([1, 0, 2]))
    assert batch.shape == (3, 3)
    torch.testing.assert_close(alone[0], batch[1], atol=1e-6, rtol=1e-5)
    x, lengths = pad_sequences(seqs)
    assert x.shape == (3, 40, len(FEATURES)) and lengths.tolist() == [3, 40, 17]
    assert float(x[0, 3:].abs().sum()) == 0.0


def test_heights_and_array_round_trip():
    rng = np.random.default_rng(7)
    trees = [random_tree(rng) for _ in range(4)] + [None]
    for t in trees[:4]:
        np.testing.assert_array_equal(tree_heights(t.parent), t.height)
    back = trees_from_arrays(trees_to_arrays(trees))
    assert back[4] is None
    for a, b in zip(trees[:4], back[:4]):
        for k in ("features", "parent", "rows", "height"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def chains_and_bushes(n=60, seed=6):
    """Chains (long unbranched paths, few nodes) against bushes, labelled "chain"/"bush"."""
    rng = np.random.default_rng(seed)
    trees, y = [], []
    for i in range(n):
        m = int(rng.integers(20, 40))
        if i % 2:
            parent = np.array([-1] + [int(rng.integers(0, j)) for j in range(1, m)])  # bushy
        else:
            parent = np.array([-1] + [j - 1 if j % 8 else 0 for j in range(1, m)])   # a few long stems
        trees.append(reduce_tree(np.cumsum(rng.normal(size=(m, 3)) * 10, 0), np.ones(m), parent, np.full(m, 3)))
        y.append("bush" if i % 2 else "chain")
    return trees, np.array(y)


def test_sequence_estimators_learn_a_separable_toy_problem():
    trees, y = chains_and_bushes()
    splits = ev.kfold_splits(y, 3, seed=0, val_fraction=0.15)
    models = {"tree_lstm": TreeLSTMClassifier(hidden=32, epochs=15, lr=3e-3, batch_size=8, patience=None),
              "lstm": LSTMClassifier(hidden=32, epochs=15, lr=3e-3, batch_size=8, patience=None)}
    res = ev.cross_validate(models, trees, y, splits, seed=0, progress=False,
                            keep=lambda est, s: {"feat": est.transform([trees[i] for i in s.test]),
                                                 "z": est.decision_logits([trees[i] for i in s.test])})
    for name, r in res.items():
        assert r.summary()["accuracy"] > 0.85, name
        assert r.extras["feat"][0].shape == (len(splits[0].test), 32)
        for p, z in zip(r.proba, r.extras["z"]):  # the probabilities are the softmax of the logits
            e = np.exp(z - z.max(1, keepdims=True))
            np.testing.assert_allclose(e / e.sum(1, keepdims=True), p, atol=1e-6)


def test_sequence_estimators_are_seeded_clonable_and_restorable():
    from sklearn.base import clone

    trees, y = chains_and_bushes(24)
    net = LSTMClassifier(hidden=8, epochs=2, max_len=10, random_state=3)
    assert clone(net).get_params() == net.get_params()
    a = net.fit(trees[:16], y[:16], trees[16:20], y[16:20]).predict_proba(trees[20:])
    b = LSTMClassifier(hidden=8, epochs=2, max_len=10, random_state=3).fit(trees[:16], y[:16], trees[16:20],
                                                                         y[16:20]).predict_proba(trees[20:])
    c = LSTMClassifier(hidden=8, epochs=2, max_len=10, random_state=4).fit(trees[:16], y[:16], trees[16:20],
                                                                         y[16:20]).predict_proba(trees[20:])
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(net.history_.train_loss) == 2 and len(net.history_.val_loss) == 2
    back = LSTMClassifier.from_state(net.get_state())
    assert np.array_equal(back.predict_proba(trees[20:]), a) and back.history_.train_loss == net.history_.train_loss
    t = TreeLSTMClassifier(hidden=8, epochs=3, patience=None).fit(trees[:16], y[:16])  # no validation cells
    assert len(t.history_.train_loss) == 3 and not t.history_.val_loss


def test_fits_are_cached_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    trees, y = chains_and_bushes(24)
    est = TreeLSTMClassifier(hidden=8, epochs=2, cache=True)
    p = est.fit(trees[:16], y[:16], trees[16:20], y[16:20]).predict_proba(trees[20:])
    files = sorted((tmp_path / "morphology" / "fits").glob("*.pt"))
    assert len(files) == 1
    calls = []
    monkeypatch.setattr("neuro_lib.estimators.TorchClassifier.fit", lambda *a, **k: calls.append(1))
    again = TreeLSTMClassifier(hidden=8, epochs=2, cache=True).fit(trees[:16], y[:16], trees[16:20], y[16:20])
    assert not calls and np.array_equal(again.predict_proba(trees[20:]), p)
    assert again.history_.train_loss == est.history_.train_loss
    other = TreeLSTMClassifier(hidden=8, epochs=2, cache=True, random_state=1)
    monkeypatch.undo()
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    other.fit(trees[:16], y[:16], trees[16:20], y[16:20])   # another seed is another fit
    assert len(sorted((tmp_path / "morphology" / "fits").glob("*.pt"))) == 2


class _Branch(ClassifierMixin, BaseEstimator):
    """A toy branch: column ``col`` of X (n, d) as its feature; logits +-(scale x feature)."""

    def __init__(self, col=0, scale=1.0, random_state=0):
        self.col, self.scale, self.random_state = col, scale, random_state

    def fit(self, X, y, X_val=None, y_val=None):
        self.classes_ = np.unique(y)
        self.n_val_ = 0 if X_val is None else len(X_val)
        return self

    def transform(self, X):
        return np.asarray(X, np.float32)[:, [self.col, self.col + 1, self.col + 2, self.col + 3]]

    def decision_logits(self, X):
        f = np.asarray(X, float)[:, self.col]
        return self.scale * np.c_[-f, f]

    def predict_proba(self, X):
        z = self.decision_logits(X)
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def test_late_fusion_learns_how_far_to_trust_each_branch_from_validation_cells():
    """Branch A is weakly informative, branch B strongly but with the classes swapped: averaging their probabilities
    fails, the late fusion head, fitted on the validation cells, learns B's sign and weight."""
    rng = np.random.default_rng(0)
    n = 300
    y = np.where(np.arange(n) % 2, "b", "a")
    sign = np.where(y == "b", 1.0, -1.0)
    X = np.c_[0.5 * sign + rng.normal(scale=1.5, size=n), rng.normal(size=(n, 3)),
              -2.0 * sign + rng.normal(scale=0.5, size=n), rng.normal(size=(n, 3))]
    fus = LateFusion([("a", _Branch(0)), ("b", _Branch(4))])
    splits = ev.kfold_splits(y, 3, seed=0, val_fraction=0.3)
    res = ev.cross_validate({"late": fus, "a": _Branch(0), "b": _Branch(4)}, X, y, splits, seed=0, progress=False)
    average = np.mean([((_Branch(0).fit(X, y).predict_proba(X) + _Branch(4).fit(X, y).predict_proba(X))[s.test]
                         .argmax(1) == (y[s.test] == "b")).mean() for s in splits])
    assert res["late"].summary()["accuracy"] > 0.95 and res["b"].summary()["accuracy"] < 0.1
    assert average < 0.3
    fitted = LateFusion([("a", _Branch(0)), ("b", _Branch(4))]).fit(X[:200], y[:200], X[200:], y[200:])
    assert fitted.transform(X).shape == (n, 4) and [b.n_val_ for _, b in fitted.branches_] == [100, 100]
    with pytest.raises(ValueError, match="validation cells"):
        LateFusion([("a", _Branch(0))]).fit(X, y)


def test_fusion_estimators_route_parameters_to_their_branches():
    fus = MLPFusion([("a", _Branch(0)), ("b", _Branch(4))])
    seeded = ev.seed_estimator(fus, 7)
    assert seeded.get_params()["a__random_state"] == 7 and seeded.random_state == 7
    assert fus.get_params()["a__random_state"] == 0
    seeded.set_params(b__scale=3.0)
    assert dict(seeded.branches)["b"].scale == 3.0


def test_fusion_head_on_validation_cells_ignores_memorised_training_features():
    """Branch features that separate the training cells by a spurious dimension (memorised) and the other cells by
    the true one: a head trained on the training cells follows the spurious one and fails on the test cells; a head
    trained on the validation cells (``head_on="val"``) learns the true one."""

    class Memoriser(_Branch):
        def fit(self, X, y, X_val=None, y_val=None):
            self.classes_ = np.unique(y)
            self.seen_ = dict(zip(np.asarray(X)[:, 0].astype(int), y))
            return self

        def transform(self, X):
            X = np.asarray(X, float)
            ids = X[:, 0].astype(int)
            seen = np.array([i in self.seen_ for i in ids])
            lab = np.array([1.0 if self.seen_.get(i) == "b" else -1.0 for i in ids])
            true = np.where(seen, X[:, 2], X[:, 1])            # training cells: noise; others: informative
            spur = np.where(seen, 4 * lab, X[:, 2])             # training cells: their label; others: noise
            return np.c_[true, spur, X[:, 3:5]].astype(np.float32)

    rng = np.random.default_rng(0)
    n = 400
    y = np.where(np.arange(n) % 2, "b", "a")
    X = np.c_[np.arange(n), np.where(y == "b", 1.0, -1.0) + rng.normal(scale=0.6, size=n), rng.normal(size=(n, 3))]
    splits = ev.kfold_splits(y, 4, seed=0, val_fraction=0.3)
    res = ev.cross_validate({"val": MLPFusion([("m", Memoriser())], head_on="val", epochs=60),
                             "train": MLPFusion([("m", Memoriser())], head_on="train", epochs=60)}, X, y, splits,
                            seed=0, progress=False)
    assert res["val"].summary()["accuracy"] > 0.85
    assert res["train"].summary()["accuracy"] < 0.7
    with pytest.raises(ValueError, match="head_on"):
        MLPFusion([("m", Memoriser())], head_on="test").fit(X[:300], y[:300], X[300:], y[300:])
    assert sum(isinstance(m, torch.nn.Linear) for m in MLPHead(640, 3).modules()) == 3


def test_chapter_models_follow_the_settings():
    from neuro_lib.morphology import chapter, experiment

    cfg = chapter.settings("cpu", cnn_epochs=2, max_len=None)
    assert cfg["cnn_epochs"] == 2 and cfg["max_len"] == chapter.PROFILE_SETTINGS["cpu"]["max_len"]
    assert chapter.settings("smoke")["n_per_class"] and chapter.settings("gpu")["lr_conv"] == 1e-5
    models = experiment.chapter_models(cfg)
    assert list(models) == ["svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion", "neurite_gb"]
    p = models["fusion"].get_params()
    assert p["cnn__estimator__epochs"] == 2 and p["tree_lstm__estimator__epochs"] == cfg["tree_epochs"]
    assert p["cnn__estimator__cache"] and models["lstm"].get_params()["estimator__max_len"] == 100
    assert list(experiment.chapter_models(dict(cfg, fusion_head="train"), names=["fusion"])) == ["fusion"]
    with pytest.raises(ValueError, match="fusion_head"):
        experiment.chapter_models(dict(cfg, fusion_head="mean"))
    with pytest.raises(ValueError, match="unknown morphology setting"):
        chapter.settings("cpu", epochs=3)
    with pytest.raises(ValueError, match="unknown profile"):
        chapter.settings("laptop")
    v = chapter.virtual_settings("cpu", epochs=2)
    assert v["cnn_epochs"] == v["tree_epochs"] == v["lstm_epochs"] == 2 and v["n_per_class"] == 500
