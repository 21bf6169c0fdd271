"""ResNet18 on projections (neuro_lib.models.resnet): shapes, the two learning rates, a fold of training that learns,
autoencoder pretraining."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from neuro_lib.models.resnet import (PAPER_LR_CONV, PAPER_LR_HEAD, ConvDecoder, ProjectionResNet, param_groups,
                                     pretrain_autoencoder, train_projection_cnn)


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
    y = np.arange(n) % 2
    for i in range(n):
        c = rng.integers(8, size - 8)
        if y[i]:
            X[i, :, :, c - 1:c + 1] = 1
        else:
            X[i, :, c - 1:c + 1, :] = 1
    return X, y


def test_one_fold_learns_a_toy_problem():
    torch.set_num_threads(2)
    X, y = _toy()
    idx = np.arange(len(y))
    fold = SimpleNamespace(train=idx[:32], val=idx[32:40], test=idx[40:])
    model, proba, hist = train_projection_cnn(X, y, fold, epochs=4, lr_conv=1e-3, lr_head=1e-3, batch_size=16,
                                              augment=False, seed=0, device="cpu")
    assert proba.shape == (8, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert (proba.argmax(1) == y[fold.test]).mean() >= 0.75


def test_training_is_seeded():
    X, y = _toy(12, 32)
    idx = np.arange(12)
    fold = SimpleNamespace(train=idx[:8], val=idx[8:10], test=idx[10:])
    a = train_projection_cnn(X, y, fold, epochs=1, batch_size=8, seed=3, device="cpu")[1]
    b = train_projection_cnn(X, y, fold, epochs=1, batch_size=8, seed=3, device="cpu")[1]
    np.testing.assert_allclose(a, b, atol=1e-6)


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
