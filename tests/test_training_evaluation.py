"""The shared fit loop and evaluation helpers."""
import numpy as np
import pytest
import torch
from torch import nn

from neuro_lib import evaluation as ev
from neuro_lib.profiles import select
from neuro_lib.training import fit, predict


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _train(seed):
    X, y = _toy()
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    hist = fit(model, (X[:300], y[:300]), (X[300:], y[300:]), loss_fn=nn.CrossEntropyLoss(), epochs=30, lr=1e-2,
               seed=seed, progress=False, device="cpu")
    return model, hist, X, y


def test_fit_learns_and_is_reproducible():
    m1, h1, X, y = _train(0)
    acc = (predict(m1, X[300:]).argmax(1) == y[300:]).mean()
    assert acc > 0.9
    assert h1.train_loss[-1] < h1.train_loss[0]
    m2, h2, _, _ = _train(0)
    assert h1.train_loss == h2.train_loss
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    _, h3, _, _ = _train(1)
    assert h3.train_loss != h1.train_loss


def test_early_stopping_restores_the_best_epoch():
    X, y = _toy(200)
    rng = np.random.default_rng(0)
    y_val = rng.integers(0, 2, 100)  # pure noise: validation loss gets worse as the model fits
    model = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 2))
    hist = fit(model, (X[:100], y[:100]), (X[100:], y_val), loss_fn=nn.CrossEntropyLoss(), epochs=200, lr=1e-2,
               patience=5, progress=False, device="cpu")
    assert hist.stopped_early and len(hist.val_loss) < 200
    assert hist.best_epoch == int(np.argmin(hist.val_loss))


def test_fit_needs_an_objective_and_cuda_is_checked():
    with pytest.raises(ValueError):
        fit(nn.Linear(2, 2), (np.zeros((4, 2), np.float32), np.zeros(4, np.int64)), progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            fit(nn.Linear(2, 2), (np.zeros((4, 2), np.float32), np.zeros(4, np.int64)),
                loss_fn=nn.CrossEntropyLoss(), device="cuda", progress=False)


def test_stratified_split_sizes_strata_and_groups():
    y = np.array([0] * 80 + [1] * 20)
    tr, va, te = ev.stratified_split(y, [0.8, 0.1, 0.1], seed=0)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert np.bincount(y[te]).tolist() == [8, 2]
    assert len(np.intersect1d(tr, te)) == 0
    groups = np.repeat(np.arange(50), 2)  # two augmented copies per cell
    yg = np.repeat(np.arange(50) % 2, 2)
    a, b = ev.stratified_split(yg, [0.8, 0.2], seed=0, groups=groups)
    assert len(np.intersect1d(groups[a], groups[b])) == 0 and len(a) + len(b) == 100
    with pytest.raises(ValueError):
        ev.stratified_split(y, [0.5, 0.2])


def test_grouped_kfold_keeps_cells_together():
    groups = np.repeat(np.arange(40), 3)
    y = np.repeat(np.arange(40) % 2, 3)
    for tr, te in ev.repeated_stratified_kfold(y, 4, 2, groups=groups):
        assert not set(groups[tr]) & set(groups[te])


def test_metrics_and_confusion_matrix():
    yt, yp = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    m = ev.metrics(yt, yp)
    assert m["accuracy"] == pytest.approx(0.6)
    # per class recall 1/2, 1, 0 -> balanced accuracy 1/2; precision 1/2, 2/3, 0; F1 1/2, 4/5, 0
    assert m["balanced_accuracy"] == pytest.approx(0.5) and m["macro_recall"] == pytest.approx(0.5)
    assert m["macro_precision"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert m["macro_f1"] == pytest.approx((1 / 2 + 4 / 5) / 3)
    counts, norm = ev.confusion_matrix(yt, yp, [0, 1, 2])
    assert counts.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert np.allclose(norm.sum(1), 1)


def test_profiles_select():
    assert select("smoke", smoke=dict(e=1), cpu=dict(e=10, n=5)) == {"e": 1, "n": 5}
    with pytest.raises(ValueError, match="unknown profile"):
        select("tpu", cpu={})


def test_max_steps_caps_the_optimisation_steps():
    X, y = _toy(400)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    steps = []
    base = nn.CrossEntropyLoss()

    def step(m, batch, progress):
        if m.training:  # validation batches run the same step under no_grad in eval mode
            steps.append(progress)
        xs, yy = batch
        return base(m(xs), yy)

    hist = fit(model, (X, y), (X[:50], y[:50]), train_step=step, epochs=50, batch_size=32, max_steps=3,
               progress=False, device="cpu")
    assert len(steps) == 3 and len(hist.train_loss) == 1
    with pytest.raises(ValueError, match="max_steps"):
        fit(model, (X, y), loss_fn=base, max_steps=0, progress=False)


def test_step_memory_counts_weights_gradients_adam_state_and_batch():
    import torch

    from neuro_lib.training import step_memory

    torch.manual_seed(0)
    model = torch.nn.Linear(100, 3)  # 303 parameters, float32
    x, y = torch.randn(8, 100), torch.randint(0, 3, (8,))
    m = step_memory(model, x, y, repeats=1)
    assert m["parameters"] == 303
    # weights + gradients + Adam's two moments (4 x 303 floats) + the batch (800 floats) + the labels (8 int64)
    assert m["persistent_bytes"] == 4 * 303 * 4 + 800 * 4 + 8 * 8
    assert m["peak_bytes"] > 0
