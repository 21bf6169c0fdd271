"""A lab-adversarial classifier: the ephys chapter's DANN idea (Ganin et al. 2016) with the source lab as the domain.

The across-labs page (:mod:`~neuro_lib.morphology.across_labs`) finds that models trained on a few labs read how
those labs trace and type their files. A domain-adversarial network learns features from which a second head, trained
against them through a gradient-reversal layer, cannot tell which lab a cell came from. Here the domains are the
training sources (``labels.csv``'s ``source``): two labs when trained on rat S1 alone, every training source
otherwise. The class shares differ from lab to lab (some sources hold only interneurons), so the default adversary
is class-conditional (:class:`~neuro_lib.models.dann.ConditionalDANN`, Li et al. 2018): it removes what the
features say about the lab beyond what the class says, not the class itself. ``domain_weight=0`` trains the same
network without the adversary: the paired control.
"""
from __future__ import annotations

import numpy as np

from ..ephys.models import DANNClassifier, _holdout
from ..models.dann import DANN, ConditionalDANN

__all__ = ["LabAdversarialClassifier"]


class LabAdversarialClassifier(DANNClassifier):
    """Domain-adversarial network on tabular morphometrics with any number of domains (labs), a scikit-learn
    estimator.

    ``fit(X, y, domain=None)``: ``X`` (n, n_features) features (NaN allowed: median-imputed), ``y`` (n,) labels,
    ``domain`` (n,) the source lab of each cell (any hashable values; :func:`neuro_lib.evaluation.cross_validate`
    passes it from ``fit_params={"domain": ...}``); without ``domain`` every cell is one domain and the adversary
    learns nothing. Inputs go through the ephys chapter's :class:`~neuro_lib.ephys.models.Preprocessor` (median
    imputation, Yeo-Johnson, z-scores; the morphometrics span orders of magnitude). Network: ``n_features`` ->
    ``hidden`` -> 2 classes, a domain head behind the gradient reversal whose weight follows Ganin et al.'s schedule
    times ``domain_weight``; ``conditional`` (default) gives that head the class too
    (:class:`~neuro_lib.models.dann.ConditionalDANN`), else it is plain DANN over ``len(domains_)`` domains.
    Early stopping on a ``val_fraction`` of the training cells stratified by domain and class (by class alone when
    some (domain, class) pair has a single cell or there are more pairs than validation cells; a training part that
    would leave a last batch of one cell gives that cell to validation). After ``fit``:
    ``domains_`` (the sorted domain values), ``classes_``, ``history_``. ``predict_proba(X)`` (n, 2).

    Raises ``ValueError`` for a ``domain`` of another length than ``y``.
    """

    def __init__(self, hidden=(64, 32), dropout=0.2, domain_weight=1.0, conditional=True, lr=1e-3,
                 weight_decay=1e-4, epochs=150, batch_size=64, patience=25, val_fraction=0.15, max_steps=None,
                 mixed_precision=False, random_state=0, device="cpu", progress=False):
        self.hidden, self.dropout, self.domain_weight, self.conditional = hidden, dropout, domain_weight, conditional
        self.lr, self.weight_decay, self.epochs, self.batch_size = lr, weight_decay, epochs, batch_size
        self.patience, self.val_fraction, self.max_steps, self.mixed_precision = patience, val_fraction, max_steps, \
            mixed_precision
        self.random_state, self.device, self.progress = random_state, device, progress

    def fit(self, X, y, domain=None):
        """Train on ``X`` (n, n_features), ``y`` (n,) and the labs ``domain`` (n,). Returns ``self``."""
        n = len(y)
        if domain is None:
            domain = np.zeros(n, int)
        domain = np.asarray(domain)
        if len(domain) != n:
            raise ValueError(f"domain must have one value per cell ({n}), got {len(domain)}")
        self.domains_, codes = np.unique(domain.astype(str), return_inverse=True)
        return self._fit(X, y, None, None, dict(domain=codes, labelled=None, domain_val=None, labelled_val=None))

    def _side(self, n, domain, labelled, what=""):
        d = np.zeros(n, np.int64) if domain is None else np.asarray(domain).astype(np.int64)
        return d, np.ones(n, np.int64)

    def _train_module(self, module, X, y, X_val, y_val, domain=None, labelled=None, domain_val=None,
                      labelled_val=None):
        d = np.asarray(domain, np.int64)
        strata = d * len(self.classes_) + y
        _, counts = np.unique(strata, return_counts=True)
        if counts.min() < 2 or len(counts) > round(self.val_fraction * len(y)):
            strata = y
        tr, va = _holdout(strata, int(self.random_state), self.val_fraction)
        if len(tr) % int(self.batch_size) == 1:  # a last batch of one cell: BatchNorm cannot train on it
            tr, va = tr[:-1], np.append(va, tr[-1])
        return super()._train_module(module, X[tr], y[tr], X[va], y[va], domain=d[tr], domain_val=d[va])

    def _module_config(self, X, n_classes):
        return {**super()._module_config(X, n_classes), "n_domains": max(2, len(self.domains_)),
                "conditional": bool(self.conditional)}

    def _make_module(self, c):
        net = ConditionalDANN if c["conditional"] else DANN
        return net(c["n_features"], c["n_classes"], hidden=tuple(c["hidden"]), dropout=c["dropout"],
                   n_domains=c["n_domains"])
