"""The CNN of Buccino et al. (2018), Section II-D, on per-site feature images of a 10x10 MEA.

``conv 3x3 (32) + ReLU -> max-pool to 5x5 -> conv 3x3 (64) + ReLU -> max-pool to 3x3 -> dense 1024 + ReLU ->
dropout 0.7 -> dense n_classes`` (2 for excitatory/inhibitory, 13 for the m-types), trained with Adam on the softmax
cross-entropy. The paper's "dropout 0.7" does not say whether 0.7 is the keep or the drop probability (TensorFlow 1's
``tf.nn.dropout`` took a *keep* probability); ``dropout`` here is the probability of *dropping* a unit, default 0.3,
i.e. we read the paper's number as a keep probability. The second pooling (5x5 -> 3x3) is an adaptive max-pool with
overlapping windows, the PyTorch counterpart of TensorFlow's 'same'-padded 2x2 pooling.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MEACNN"]


class MEACNN(nn.Module):
    """Input (batch, channels, 10, 10) (channels 2: amplitude, width), output logits (batch, n_classes).

    Inputs are standardised per channel with ``mean``/``std`` buffers (set by :meth:`fit_scaler` from training
    data), so raw uV and ms can be fed in. Raises ``ValueError`` for an input whose channel or spatial size
    differs from the model's.
    """

    def __init__(self, n_classes: int, in_channels: int = 2, side: int = 10, dropout: float = 0.3,
                 hidden: int = 1024):
        super().__init__()
        self.in_channels, self.side = in_channels, side
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveMaxPool2d(5),            # 10x10 -> 5x5 (2x2 pooling, stride 2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveMaxPool2d(3),            # 5x5 -> 3x3 (the paper's 'same'-padded 2x2 pooling)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 9, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))

    @torch.no_grad()
    def fit_scaler(self, x) -> MEACNN:
        """Set the per-channel mean and sd from training images ``x`` (n, channels, side, side)."""
        x = torch.as_tensor(x, dtype=torch.float32)
        self.mean.copy_(x.mean(dim=(0, 2, 3), keepdim=True))
        self.std.copy_(x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.side or x.shape[3] != self.side:
            raise ValueError(f"MEACNN expects (batch, {self.in_channels}, {self.side}, {self.side}) images, got "
                             f"{tuple(x.shape)}")
        x = (x.float() - self.mean) / self.std
        return self.classifier(self.features(x))
