"""Reduced tree, node sequence, batching, Child-Sum Tree-LSTM (batched vs per-node reference), LSTM and fusion."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro_lib.models.fusion import (FusionClassifier, MLPHead, cross_validate_all, cross_validate_branches,
                                     cross_validate_fusion, cross_validate_late_fusion, cv_metrics, make_folds)
from neuro_lib.models.lstm import IndexedSequences, SequenceLSTM
from neuro_lib.models.tree_lstm import ChildSumTreeLSTM, IndexedTrees, TreeLSTMClassifier
from neuro_lib.morphology.tree import (FEATURES, ReducedTree, collate_trees, node_sequence, pad_sequences,
                                       reduce_tree)

F = {name: i for i, name in enumerate(FEATURES)}


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one intra-op thread is much faster than two on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    b = collate_trees(trees)
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
    b = collate_trees(cast)
    out = m(b)
    ref = torch.stack([m.forward_recursive(t) for t in cast])
    assert out.shape == (9, 128)
    assert float((out - ref).abs().max()) < tol
    with torch.no_grad():  # the inference path (no gates kept) computes the same states
        assert float((m(b) - ref.detach()).abs().max()) < tol
    # gradients agree too
    out.pow(2).sum().backward()
    g = {k: p.grad.clone() for k, p in m.named_parameters()}
    m.zero_grad()
    torch.stack([m.forward_recursive(t) for t in cast]).pow(2).sum().backward()
    for k, p in m.named_parameters():
        assert float((g[k] - p.grad).abs().max()) < tol * 10, k


def test_batched_output_does_not_depend_on_batch_company():
    rng = np.random.default_rng(3)
    trees = [random_tree(rng) for _ in range(5)]
    m = ChildSumTreeLSTM(len(FEATURES), 16)
    with torch.no_grad():
        alone = m(collate_trees(trees[2:3]))
        together = m(collate_trees(trees))[2:3]
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


def test_fusion_concatenates_cnn_and_tree_features():
    class TinyCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3 * 8 * 8, 512)

        def features(self, x):
            return self.lin(x.flatten(1))

    rng = np.random.default_rng(5)
    bank = IndexedTrees([random_tree(rng) for _ in range(4)])
    tree = TreeLSTMClassifier(len(FEATURES), 2, bank=bank)
    fused = FusionClassifier(TinyCNN(), tree, n_classes=2)
    imgs = torch.randn(4, 3, 8, 8)
    assert fused.features(imgs, torch.arange(4)).shape == (4, 640)
    out = fused(imgs, torch.arange(4))
    assert out.shape == (4, 2)
    out.sum().backward()
    assert tree.tree.U_f.weight.grad is not None and fused.cnn.lin.weight.grad is not None
    assert sum(isinstance(m, torch.nn.Linear) for m in MLPHead(640, 3).modules()) == 3


def test_make_folds_partition_cells():
    y = np.array([0] * 30 + [1] * 20)
    folds = make_folds(y, 5, seed=0)
    tests = np.concatenate([f[2] for f in folds])
    assert sorted(tests.tolist()) == list(range(50))
    for tr, va, te in folds:
        assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
        assert len(tr) + len(va) + len(te) == 50
        assert y[te].mean() == pytest.approx(0.4)


def test_cv_metrics():
    m = cv_metrics([0, 1, 1, 0], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]))
    assert m["accuracy"] == 0.75 and m["auc"] == 1.0


def test_tree_models_learn_a_separable_toy_problem():
    """Chains (long unbranched paths, few nodes) against bushes: both branches must learn it."""
    rng = np.random.default_rng(6)
    trees, y = [], []
    for i in range(60):
        n = int(rng.integers(20, 40))
        if i % 2:
            parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])  # bushy
        else:
            parent = np.array([-1] + [i - 1 if i % 8 else 0 for i in range(1, n)])   # a few long stems
        trees.append(reduce_tree(np.cumsum(rng.normal(size=(n, 3)) * 10, 0), np.ones(n), parent,
                                 np.full(n, 3)))
        y.append(i % 2)
    y = np.array(y)
    folds = make_folds(y, 3, seed=0)
    res = cross_validate_branches({"tree_lstm": IndexedTrees(trees),
                                   "lstm": IndexedSequences([node_sequence(t) for t in trees])}, y, folds, 2,
                                  in_features=len(FEATURES), epochs=15, lr=3e-3, batch_size=8, hidden=32,
                                  patience=None, progress=False)
    for name, r in res.items():
        assert np.mean([m["accuracy"] for m in r.fold_metrics]) > 0.85, name
        assert r.features[0].shape == (60, 32)
        assert r.logits[0].shape == (60, 2)
        for k, (_, _, te) in enumerate(folds):   # the stored logits are the model that gave the test probabilities
            z = r.logits[k][te]
            p = np.exp(z - z.max(1, keepdims=True))
            np.testing.assert_allclose(p / p.sum(1, keepdims=True), r.proba[te], atol=1e-5)


def test_fusion_head_on_validation_cells_ignores_memorised_training_features():
    """Branch features that separate the training cells by a spurious dimension (memorised) and the other cells by
    the true one: a head trained on the training cells follows the spurious one and fails on the test cells; a head
    trained on the validation cells (``head_on="val"``) learns the true one."""
    rng = np.random.default_rng(0)
    n = 400
    y = np.arange(n) % 2
    folds = make_folds(y, 4, seed=0, val_fraction=0.3)
    feats_a, feats_b = [], []
    for tr, va, te in folds:
        true = (2 * y - 1) + rng.normal(scale=0.6, size=n)        # informative for every cell, noisy
        spur = rng.normal(size=n)
        spur[tr] = 4 * (2 * y[tr] - 1)                          # perfectly separates the training cells only
        true[tr] = rng.normal(size=len(tr))                     # ... whose true feature is memorised noise
        feats_a.append(np.c_[true, rng.normal(size=(n, 3))].astype(np.float32))
        feats_b.append(np.c_[spur, rng.normal(size=(n, 3))].astype(np.float32))
    on_train = cross_validate_fusion([feats_a, feats_b], y, folds, 2, head_on="train", epochs=60)
    on_val = cross_validate_fusion([feats_a, feats_b], y, folds, 2, head_on="val", epochs=60)
    acc = lambda r: np.mean([m["accuracy"] for m in r.fold_metrics])  # noqa: E731
    assert acc(on_val) > 0.85
    assert acc(on_train) < 0.7
    assert on_val.features[0].shape == (n, 8)
    with pytest.raises(ValueError, match="head_on"):
        cross_validate_fusion([feats_a], y, folds, 2, head_on="test")


def test_late_fusion_learns_how_far_to_trust_each_branch_from_validation_cells():
    """Branch A's logits are weakly informative, branch B's strongly informative but with the classes swapped (a
    branch whose output means the opposite): averaging their probabilities fails, the late fusion head, fitted on
    the validation cells, learns B's sign and weight."""
    rng = np.random.default_rng(0)
    n = 300
    y = np.arange(n) % 2
    folds = make_folds(y, 3, seed=0, val_fraction=0.3)
    sign = 2 * y - 1
    a = [np.c_[-sign, sign] * 0.5 + rng.normal(scale=1.5, size=(n, 2)) for _ in folds]
    b = [np.c_[sign, -sign] * 2.0 + rng.normal(scale=0.5, size=(n, 2)) for _ in folds]
    late = cross_validate_late_fusion([a, b], y, folds, 2)
    acc = np.mean([m["accuracy"] for m in late.fold_metrics])
    softmax = lambda z: np.exp(z) / np.exp(z).sum(1, keepdims=True)  # noqa: E731
    average = np.mean([((softmax(a[k]) + softmax(b[k]))[te].argmax(1) == y[te]).mean()
                       for k, (_, _, te) in enumerate(folds)])
    assert acc > 0.95
    assert average < 0.3
    assert late.features[0].shape == (n, 4)
    with pytest.raises(ValueError, match="expected"):
        cross_validate_late_fusion([[x[:, :1] for x in a]], y, folds, 2)


def test_cross_validate_all_refuses_an_unknown_fusion_head():
    with pytest.raises(ValueError, match="fusion_head"):
        cross_validate_all(np.zeros((4, 19)), np.zeros((4, 3, 8, 8)), [], np.array([0, 1, 0, 1]), [], 2,
                           tree_epochs=1, lstm_epochs=1, cnn_epochs=1, fusion_head="mean")


def test_branch_epochs_can_differ_per_model():
    rng = np.random.default_rng(1)
    trees = [random_tree(rng, 30) for _ in range(24)]
    y = np.arange(24) % 2
    folds = make_folds(y, 3, seed=0)
    res = cross_validate_branches({"tree_lstm": IndexedTrees(trees),
                                   "lstm": IndexedSequences([node_sequence(t) for t in trees])}, y, folds, 2,
                                  in_features=len(FEATURES), epochs={"tree_lstm": 3, "lstm": 1}, hidden=8,
                                  patience=None, progress=False)
    assert [len(h["train_loss"]) for h in res["tree_lstm"].history] == [3, 3, 3]
    assert [len(h["train_loss"]) for h in res["lstm"].history] == [1, 1, 1]


def test_chapter_settings_feed_cross_validate_all():
    import inspect

    from neuro_lib.models.fusion import cross_validate_all
    from neuro_lib.morphology import chapter

    cfg = chapter.settings("cpu", cnn_epochs=2, max_len=None)
    assert cfg["cnn_epochs"] == 2 and cfg["max_len"] == chapter.PROFILE_SETTINGS["cpu"]["max_len"]
    assert chapter.settings("smoke")["n_per_class"] and chapter.settings("gpu")["lr_conv"] == 1e-5
    params = inspect.signature(cross_validate_all).parameters
    assert set(chapter.model_kwargs(cfg)) <= set(params)
    with pytest.raises(ValueError, match="unknown morphology setting"):
        chapter.settings("cpu", epochs=3)
    with pytest.raises(ValueError, match="unknown profile"):
        chapter.settings("laptop")
