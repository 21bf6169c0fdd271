"""The lab-adversarial network of the across-labs page (issue 17): the class-conditional domain head reads the class
and sends a reversed gradient to the features; the estimator takes any lab labels, trains on small and lopsided
sets, and gets its labs from cross_validate's fit_params (never the held-out lab's)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from neuro_lib.evaluation import Split, cross_validate
from neuro_lib.models.dann import DANN, ConditionalDANN
from neuro_lib.morphology.adversarial import LabAdversarialClassifier


def _data(n=240, seed=0, n_labs=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    lab = np.array([f"lab_{k}" for k in rng.integers(0, n_labs, n)])
    X = rng.normal(size=(n, 6))
    X[:, 0] += 3.0 * y  # the class
    X[:, 1] += 2.0 * (np.unique(lab, return_inverse=True)[1])  # the lab
    return X, y, lab


def test_conditional_domain_head_reads_the_class_and_plain_dann_does_not():
    torch.manual_seed(0)
    x = torch.randn(8, 5)
    y0, y1 = torch.zeros(8, dtype=torch.long), torch.ones(8, dtype=torch.long)
    cond = ConditionalDANN(5, 2, hidden=(8, 4), n_domains=3).eval()
    assert cond.domain_classifier[0].in_features == 4 + 2
    _, d0, f0 = cond.forward_all(x, 1.0, y0)
    _, d1, f1 = cond.forward_all(x, 1.0, y1)
    assert torch.equal(f0, f1) and not torch.allclose(d0, d1)
    assert d0.shape == (8, 3)
    with pytest.raises(ValueError, match="needs the labels"):
        cond.forward_all(x, 1.0)
    plain = DANN(5, 2, hidden=(8, 4), n_domains=3).eval()
    assert plain.forward_all(x, 1.0)[1].shape == (8, 3)


def test_conditional_head_sends_the_reversed_gradient_to_the_features():
    """The domain loss's gradient on the feature extractor is minus lambda times the plain one (GRL), while the
    domain head itself gets the plain gradient."""
    torch.manual_seed(1)
    net = ConditionalDANN(5, 2, hidden=(8, 4), n_domains=3).eval()
    x, y, d = torch.randn(10, 5), torch.randint(0, 2, (10,)), torch.randint(0, 3, (10,))
    ce = torch.nn.CrossEntropyLoss()

    def grads(reverse: bool, lambd: float = 0.5):
        net.zero_grad()
        if reverse:
            loss = ce(net.forward_all(x, lambd, y)[1], d)
        else:
            f = net.feature_extractor(x)
            onehot = torch.nn.functional.one_hot(y, 2).float()
            loss = ce(net.domain_classifier(torch.cat([f, onehot], 1)), d)
        loss.backward()
        return ([p.grad.clone() for p in net.feature_extractor.parameters() if p.grad is not None],
                [p.grad.clone() for p in net.domain_classifier.parameters()])

    (fe_rev, head_rev), (fe, head) = grads(True), grads(False)
    assert all(torch.allclose(a, -0.5 * b, atol=1e-6) for a, b in zip(fe_rev, fe))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(head_rev, head))
    assert any(g.abs().sum() > 0 for g in fe)


def test_conditional_step_refuses_unlabelled_cells():
    net = ConditionalDANN(5, 2, hidden=(8, 4))
    step = net.train_step()
    batch = (torch.randn(4, 5), torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 0, 1]))
    with pytest.raises(ValueError, match="every training cell needs a label"):
        step(net, batch, 0.5)


def test_lab_adversarial_classifier_takes_lab_names_and_learns_the_class():
    X, y, lab = _data()
    est = LabAdversarialClassifier(epochs=25, random_state=3).fit(X, y, domain=lab)
    assert list(est.domains_) == ["lab_0", "lab_1", "lab_2"]
    assert est.module_config_["n_domains"] == 3 and est.module_config_["conditional"]
    p = est.predict_proba(X)
    assert p.shape == (len(y), 2) and np.allclose(p.sum(1), 1)
    assert (est.predict(X) == y).mean() > 0.9
    again = clone(est).fit(X, y, domain=lab)  # seeded: the same network
    assert np.allclose(again.predict_proba(X), p)
    assert est.features(X).shape == (len(y), 32)
    with pytest.raises(ValueError, match="one value per cell"):
        LabAdversarialClassifier(epochs=2).fit(X, y, domain=lab[:-1])


def test_lab_adversarial_classifier_trains_on_tiny_lopsided_sets():
    """A (lab, class) pair with one cell (validation stratified by class alone then) and a training part that would
    leave a last batch of one cell (BatchNorm cannot train on it)."""
    X, y, lab = _data(n=40)
    lab = np.full(len(y), "big", dtype=object)
    lab[0] = "single"  # one cell, one class: stratifying by (lab, class) is impossible
    est = LabAdversarialClassifier(epochs=3, batch_size=16, random_state=0).fit(X, y, domain=lab)
    assert est.predict_proba(X).shape == (len(X), 2) and list(est.domains_) == ["big", "single"]
    # 6 validation cells (15% of 40), 34 training cells: batches of 33 would end with one cell
    est = LabAdversarialClassifier(epochs=2, batch_size=33, val_fraction=0.15).fit(X, y, domain=lab)
    assert est.predict_proba(X[:3]).shape == (3, 2)


def test_cross_validate_hands_each_fit_the_labs_of_its_training_cells_only():
    X, y, lab = _data(n=180)
    held = np.flatnonzero(lab == "lab_2")
    split = Split(np.flatnonzero(lab != "lab_2"), np.array([], int), held)

    def keep(est, s):
        return {"labs": list(est.domains_)}

    cv = cross_validate({"adv": LabAdversarialClassifier(epochs=5)}, X, y, [split], fit_params={"domain": lab},
                        keep=keep, progress=False)
    assert cv["adv"].extras["labs"] == [["lab_0", "lab_1"]]
    assert cv["adv"].proba[0].shape == (len(held), 2)
