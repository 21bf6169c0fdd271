"""The classifier head of Zhang et al.'s (2021, Sci Rep 11:7291, Figure 1 and Methods) "Multi" model: a 3-layer
fully connected network on the concatenated features of several branches (their ResNet18's 512-d and Tree-LSTM's
128-d, 640 in all)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLPHead"]


class MLPHead(nn.Module):
    """3-layer classifier: ``in_features -> 256 -> 64 -> n_classes`` with ReLU and dropout (Zhang et al. 2021).

    ``forward(x)``: (B, in_features) -> (B, n_classes) logits."""

    def __init__(self, in_features: int, n_classes: int, hidden: Sequence[int] = (256, 64), dropout: float = 0.3):
        super().__init__()
        a, b = hidden
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, a), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(a, b), nn.ReLU(), nn.Linear(b, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
