"""Locally SParse Interpretable Network (LSPIN; Yang, Lindenbaum & Kluger 2022, ICML, PMLR 162).

A gating network maps each sample x to mu(x) in R^d; the stochastic gates are
``z = clip(0.5 + mu + eps, 0, 1)`` with ``eps ~ N(0, sigma^2)`` during training and ``eps = 0`` at inference
(Eq. 3). The prediction network sees ``x * z``. The expected number of open gates is penalised by the L0 surrogate
``lambda1 * mean_{i,d} Phi((0.5 + mu_id) / sigma)`` (Phi the standard normal CDF; Eq. 5), and the optional similarity
term ``lambda2 * sum_ij K_ij ||z_i - z_j||^2 / n^2`` with ``K_ij = exp(-||x_i - x_j||^2 / (2 s^2))`` on the
labels-agnostic input (Eq. 6) asks similar samples to open similar gates.

Used for the 5 mouse Cre classes of the ephys chapter (Ophir, Shefi & Lindenbaum 2023, Table 2, Figures 9-10).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .dann import mlp

__all__ = ["LSPIN"]


class LSPIN(nn.Module):
    """LSPIN classifier.

    Parameters
    ----------
    n_features, n_classes : input width d and number of classes.
    gate_hidden : widths of the gating network (its output has width d, tanh-activated).
    hidden : widths of the prediction network.
    sigma : gate noise sd (the paper uses 0.5).
    lambda1 : weight of the L0 surrogate; lambda2 : weight of the similarity term (0 disables it).
    dropout : dropout in the prediction network.
    """

    def __init__(self, n_features: int, n_classes: int, *, gate_hidden: tuple[int, ...] = (64,),
                 hidden: tuple[int, ...] = (128, 64), sigma: float = 0.5, lambda1: float = 0.01,
                 lambda2: float = 0.0, kernel_scale: float | None = None, dropout: float = 0.2):
        super().__init__()
        self.sigma, self.lambda1, self.lambda2, self.kernel_scale = sigma, lambda1, lambda2, kernel_scale
        self.gate_net = nn.Sequential(mlp([n_features, *gate_hidden], batchnorm=False),
                                      nn.Linear(gate_hidden[-1], n_features), nn.Tanh())
        self.classifier = nn.Sequential(mlp([n_features, *hidden], dropout=dropout),
                                        nn.Linear(hidden[-1], n_classes))

    def mu(self, x: torch.Tensor) -> torch.Tensor:
        """Gate means mu(x), shape (batch, d)."""
        return self.gate_net(x)

    def gates(self, x: torch.Tensor, *, noise: bool | None = None) -> torch.Tensor:
        """Gates z in [0, 1], shape (batch, d): noisy in training mode (or if ``noise``), deterministic otherwise."""
        mu = self.mu(x)
        noise = self.training if noise is None else noise
        eps = self.sigma * torch.randn_like(mu) if noise else torch.zeros_like(mu)
        return torch.clamp(0.5 + mu + eps, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (batch, n_classes) of the gated input."""
        return self.classifier(x * self.gates(x))

    def regularizer(self, x: torch.Tensor, mu: torch.Tensor | None = None, z: torch.Tensor | None = None
                    ) -> torch.Tensor:
        """lambda1 * L0 surrogate (+ lambda2 * similarity term), a scalar."""
        mu = self.mu(x) if mu is None else mu
        l0 = 0.5 * (1 + torch.erf((0.5 + mu) / (self.sigma * math.sqrt(2.0))))  # Phi((0.5 + mu) / sigma)
        reg = self.lambda1 * l0.mean()
        if self.lambda2 > 0:
            z = torch.clamp(0.5 + mu, 0, 1) if z is None else z
            d2 = torch.cdist(x, x).pow(2)
            s2 = (self.kernel_scale ** 2) if self.kernel_scale else d2.detach().median().clamp_min(1e-6)
            K = torch.exp(-d2 / (2 * s2))
            reg = reg + self.lambda2 * (K * torch.cdist(z, z).pow(2)).mean()
        return reg

    def train_step(self, loss_fn: nn.Module | None = None):
        """A ``train_step`` for :func:`neuro_lib.training.fit` on batches ``(x, y)``: cross-entropy + regulariser."""
        ce = loss_fn or nn.CrossEntropyLoss()

        def step(model, batch, progress):
            x, y = batch
            mu = model.mu(x)
            eps = model.sigma * torch.randn_like(mu) if model.training else torch.zeros_like(mu)
            z = torch.clamp(0.5 + mu + eps, 0.0, 1.0)
            return ce(model.classifier(x * z), y) + model.regularizer(x, mu, z)

        return step

    @torch.no_grad()
    def open_fraction(self, x: torch.Tensor) -> float:
        """Fraction of deterministic gates that are open (z > 0) on ``x``."""
        was = self.training
        self.eval()
        z = self.gates(x, noise=False)
        self.train(was)
        return float((z > 0).float().mean())
