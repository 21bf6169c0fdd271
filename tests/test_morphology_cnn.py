"""ResNet18 on projections: the network (neuro_lib.models.resnet) and the chapter's estimator
(neuro_lib.morphology.networks.ProjectionCNN): shapes, the two learning rates, training that learns, seeding,
autoencoder pretraining, saving as tensors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from neuro_lib.models.resnet import (
    PAPER_LR_CONV,
    PAPER_LR_HEAD,
    ConvDecoder,
    ProjectionResNet,
    param_groups,
    pretrain_autoencoder,
)
from neuro_lib.morphology.networks import ProjectionCNN


def test_features_and_logits_shapes():
    torch.manual_seed(0)
    m = ProjectionResNet(3).eval()
    x = torch.rand(2, 3, 64, 64)
    assert m.features(x).shape == (2, 512)
    assert m(x).shape == (2, 3)
    torch.testing.assert_close(m.fc(m.features(x)), m(x))


def test_param_groups_use_the_papers_two_learning_rates():
    m = ProjectionResNet(2)
    opt = torch.optim.Adam(param_groups(m))
    assert [g["lr"] for g in opt.param_groups] == [PAPER_LR_CONV, PAPER_LR_HEAD] == [1e-5, 1e-4]
    n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_params == sum(p.numel() for p in m.parameters())
    assert {id(p) for p in opt.param_groups[1]["params"]} == {id(p) for p in m.fc.parameters()}


def _toy(n=48, size=32, seed=0):
    """Two trivially different image classes: a horizontal bar or a vertical bar in every channel."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 3, size, size), np.float32)
    y = np.where(np.arange(n) % 2, "vertical", "horizontal")
    for i in range(n):
        c = rng.integers(size // 4, size - size // 4)
        if i % 2:
            X[i, :, :, c - 1:c + 1] = 1
        else:
            X[i, :, c - 1:c + 1, :] = 1
    return X, y


@pytest.mark.usefixtures("one_torch_thread")
def test_the_estimator_learns_a_toy_problem():
    X, y = _toy()
    cnn = ProjectionCNN(epochs=4, lr_conv=1e-3, lr_head=1e-3, batch_size=16, augment=False, random_state=0)
    assert clone(cnn).get_params() == cnn.get_params()
    cnn.fit(X[:32], y[:32], X[32:40], y[32:40])
    proba = cnn.predict_proba(X[40:])
    assert proba.shape == (8, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert cnn.history_.train_loss[-1] < cnn.history_.train_loss[0] and len(cnn.history_.val_score) >= 1
    assert (cnn.predict(X[40:]) == y[40:]).mean() >= 0.75
    assert cnn.transform(X[40:]).shape == (8, 512) and cnn.decision_logits(X[40:]).shape == (8, 2)


def test_training_is_seeded_and_saved_as_tensors():
    X, y = _toy(12, 16)
    a = ProjectionCNN(epochs=1, batch_size=8, random_state=3).fit(X[:8], y[:8], X[8:10], y[8:10])
    b = ProjectionCNN(epochs=1, batch_size=8, random_state=3).fit(X[:8], y[:8], X[8:10], y[8:10])
    np.testing.assert_array_equal(a.predict_proba(X[10:]), b.predict_proba(X[10:]))
    back = ProjectionCNN.from_state(a.get_state())
    np.testing.assert_array_equal(back.predict_proba(X[10:]), a.predict_proba(X[10:]))
    assert back.history_.train_loss == a.history_.train_loss


def test_autoencoder_pretraining_changes_the_backbone():
    X, _ = _toy(8, 32)
    m = ProjectionResNet(2)
    before = {k: v.clone() for k, v in m.backbone.state_dict().items()}
    hist = pretrain_autoencoder(m, X, epochs=1, batch_size=8, device="cpu", progress=False)
    assert len(hist.train_loss) == 1 and np.isfinite(hist.train_loss[0])
    after = m.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].dtype.is_floating_point)
    assert ConvDecoder(32)(torch.zeros(2, 512)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError):
        ConvDecoder(30)


def test_the_estimator_pretrains_on_its_training_and_validation_images():
    X, y = _toy(12, 16)
    plain = ProjectionCNN(epochs=1, batch_size=8).fit(X[:8], y[:8], X[8:10], y[8:10])
    pre = ProjectionCNN(epochs=1, batch_size=8, pretrain_epochs=1).fit(X[:8], y[:8], X[8:10], y[8:10])
    assert plain.pretrain_history_ is None and len(pre.pretrain_history_.train_loss) == 1
    # the same initial weights, a different start for the classifier's training
    assert not np.array_equal(plain.predict_proba(X[10:]), pre.predict_proba(X[10:]))
