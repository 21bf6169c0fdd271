"""Domain-adversarial neural network (DANN; Ganin et al. 2016, JMLR 17(59)).

A feature extractor G_f, a label classifier G_y and a domain classifier G_d behind a gradient-reversal layer (GRL).
The GRL is the identity in the forward pass and multiplies the gradient by -lambda in the backward pass (Ganin et
al. 2016, Eq. 13-14), so G_f learns features that predict the label but not the domain. lambda follows the paper's
schedule lambda_p = 2 / (1 + exp(-gamma p)) - 1 with gamma = 10 and p the training progress in [0, 1] (Section 5.2.2).

Used in the ephys chapter with mouse as the source domain and human as the target (Ophir, Shefi & Lindenbaum 2023),
and, class-conditional (:class:`ConditionalDANN`), in the morphology chapter with the source lab as the domain.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["grad_reverse", "lambda_schedule", "DANN", "ConditionalDANN", "mlp"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lambd):
        ctx.lambd = float(lambd)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lambd * grad, None


def grad_reverse(x: torch.Tensor, lambd: float = 1.0) -> torch.Tensor:
    """Identity forward; gradient multiplied by ``-lambd`` backward (Ganin et al. 2016, Eq. 13-14)."""
    return _GradReverse.apply(x, lambd)


def lambda_schedule(progress: float, gamma: float = 10.0) -> float:
    """lambda_p = 2 / (1 + exp(-gamma * p)) - 1 for training progress p in [0, 1] (Ganin et al. 2016, Sec. 5.2.2)."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def mlp(sizes: list[int], dropout: float = 0.0, batchnorm: bool = True, last_activation: bool = True) -> nn.Sequential:
    """Linear layers of the given sizes with BatchNorm, ReLU and dropout between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last or last_activation:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DANN(nn.Module):
    """DANN for tabular features.

    Parameters: ``n_features`` (input width), ``n_classes``, ``hidden`` (feature-extractor widths), ``dropout``,
    ``n_domains`` (2: source, target). ``forward(x)`` returns class logits (batch, n_classes);
    ``forward_all(x, lambd)`` returns ``(class_logits, domain_logits, features)``, the domain head behind
    :func:`grad_reverse` with coefficient ``lambd``. :meth:`train_step` with ``domain_weight=0`` trains the same
    network without the adversary (the domain head then gets no gradient).
    """

    def __init__(self, n_features: int, n_classes: int = 2, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.2,
                 n_domains: int = 2, domain_hidden: int = 32):
        super().__init__()
        self.feature_extractor = mlp([n_features, *hidden], dropout=dropout)
        self.label_classifier = nn.Linear(hidden[-1], n_classes)
        self.domain_classifier = nn.Sequential(nn.Linear(hidden[-1], domain_hidden), nn.ReLU(),
                                               nn.Linear(domain_hidden, n_domains))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Learned representation (batch, hidden[-1])."""
        return self.feature_extractor(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.label_classifier(self.feature_extractor(x))

    def forward_all(self, x: torch.Tensor, lambd: float):
        f = self.feature_extractor(x)
        return self.label_classifier(f), self.domain_classifier(grad_reverse(f, lambd)), f

    def train_step(self, *, domain_weight: float = 1.0, gamma: float = 10.0):
        """A ``train_step`` for :func:`neuro_lib.training.fit` on batches ``(x, y, domain, labelled)``.

        Label loss: cross-entropy over the samples with ``labelled == 1`` (unlabelled target cells contribute only
        to the domain loss); domain loss: cross-entropy of the domain head, weighted by ``domain_weight``, with the
        GRL coefficient following :func:`lambda_schedule`.
        """
        ce = nn.CrossEntropyLoss(reduction="none")

        def step(model, batch, progress):
            x, y, d, lab = batch
            logits, dlogits, _ = model.forward_all(x, lambda_schedule(progress, gamma))
            mask = lab.float()
            label_loss = (ce(logits, y) * mask).sum() / mask.sum().clamp_min(1.0)
            return label_loss + domain_weight * ce(dlogits, d).mean()

        return step


class ConditionalDANN(DANN):
    """DANN whose domain head reads the class as well as the features: ``[GRL(f), one_hot(y)]``, so the adversary
    removes what the features say about the domain *beyond what the class says*.

    Plain DANN asks the features to carry no information about the domain at all. When the classes' shares differ
    from domain to domain (a lab that sent only interneurons), that information includes the class itself, and the
    adversary would fight the label classifier. Conditioning the discriminator on the class asks instead for
    P(features | class) to be the same in every domain: the conditional invariance of Li et al. 2018 (ECCV,
    "Deep domain generalization via conditional invariant adversarial networks"; they train one discriminator per
    class, this is one discriminator with the class as an input). Every training cell must be labelled (the label is
    an input of the adversary): domain generalisation, not unsupervised adaptation.

    Parameters as :class:`DANN`; ``n_domains`` the number of domains (labs). ``forward(x)`` (batch, n_classes)
    logits; ``forward_all(x, lambd, y)`` ``(class_logits, domain_logits, features)``.
    """

    def __init__(self, n_features: int, n_classes: int = 2, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.2,
                 n_domains: int = 2, domain_hidden: int = 32):
        super().__init__(n_features, n_classes, hidden=hidden, dropout=dropout, n_domains=n_domains,
                         domain_hidden=domain_hidden)
        self.n_classes = int(n_classes)
        self.domain_classifier = nn.Sequential(nn.Linear(hidden[-1] + n_classes, domain_hidden), nn.ReLU(),
                                               nn.Linear(domain_hidden, n_domains))

    def forward_all(self, x: torch.Tensor, lambd: float, y: torch.Tensor | None = None):
        if y is None:
            raise ValueError("ConditionalDANN.forward_all needs the labels y: its domain head reads the class")
        f = self.feature_extractor(x)
        onehot = nn.functional.one_hot(y, self.n_classes).to(f.dtype)
        return self.label_classifier(f), self.domain_classifier(torch.cat([grad_reverse(f, lambd), onehot], 1)), f

    def train_step(self, *, domain_weight: float = 1.0, gamma: float = 10.0):
        """As :meth:`DANN.train_step` on batches ``(x, y, domain, labelled)``; ``labelled`` must be all 1 (raises
        ``ValueError`` otherwise: the adversary needs every cell's class)."""
        ce = nn.CrossEntropyLoss()

        def step(model, batch, progress):
            x, y, d, lab = batch
            if not bool(lab.all()):
                raise ValueError("ConditionalDANN: every training cell needs a label (the adversary reads the class)")
            logits, dlogits, _ = model.forward_all(x, lambda_schedule(progress, gamma), y)
            return ce(logits, y) + domain_weight * ce(dlogits, d)

        return step
