"""The sequence branch of Zhang et al. 2021: a 2-layer LSTM (128 hidden, Table 2) over the neuron's node sequence.

The sequence is a neuron's node sequence (the pre-order walk of its reduced tree, at most 1,500 steps in the paper):
an (L, F) float32 array of per-step features. Padded batches (:func:`pad_sequences`) are packed so padding never
enters the recurrence; the feature of a neuron is the last layer's final hidden state.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["SequenceLSTM", "IndexedSequences", "pad_sequences"]


def pad_sequences(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad (L_i, F) sequences into (B, max L, F) float32 and return it with the (B,) int64 lengths."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    out = torch.zeros(len(seqs), int(lengths.max()), seqs[0].shape[1])
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return out, lengths


class IndexedSequences:
    """A bank of (L_i, F) sequences addressed by index, so that a fit loop that batches tensors can train the LSTM:
    the model receives a (B,) index tensor and pads those sequences itself (see
    :class:`neuro_lib.models.tree_lstm.IndexedTrees`)."""

    def __init__(self, seqs: Sequence[np.ndarray]):
        self.seqs = [np.asarray(s, dtype=np.float32) for s in seqs]

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(idx.cpu() if torch.is_tensor(idx) else idx).astype(np.int64).ravel()
        return pad_sequences([self.seqs[i] for i in idx])

    def __len__(self) -> int:
        return len(self.seqs)


class SequenceLSTM(nn.Module):
    """2-layer LSTM classifier on node sequences.

    Parameters
    ----------
    in_features : per-step features F; n_classes : outputs; hidden : 128 (paper); layers : 2 (paper).
    bank : an :class:`IndexedSequences`, so that ``forward(idx)`` can take a (B,) index tensor.

    ``forward(idx)`` or ``forward((x, lengths))`` with ``x`` (B, L, F) zero-padded and ``lengths`` (B,) returns
    (B, n_classes) logits; ``features(...)`` the (B, hidden) final hidden state of the last layer.
    """

    def __init__(self, in_features: int, n_classes: int, hidden: int = 128, layers: int = 2, dropout: float = 0.2,
                 bank: IndexedSequences | None = None):
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.bank = bank
        self.out_features = hidden

    def features(self, idx_or_padded) -> torch.Tensor:
        if isinstance(idx_or_padded, (tuple, list)):
            x, lengths = idx_or_padded
        else:
            x, lengths = self.bank.batch(idx_or_padded)
        x = x.to(self.head.weight.device)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]

    def forward(self, idx_or_padded) -> torch.Tensor:
        return self.head(self.drop(self.features(idx_or_padded)))
