"""Child-Sum Tree-LSTM (Tai, Socher & Manning 2015, Eqs. 2-8) over a neuron's reduced tree, batched level by level.

For node ``j`` with children ``C(j)`` (Tai et al. 2015, Section 3.1)::

    h~_j = sum_k h_k
    i_j = sigmoid(W_i x_j + U_i h~_j + b_i)      o_j = sigmoid(W_o x_j + U_o h~_j + b_o)
    u_j = tanh(W_u x_j + U_u h~_j + b_u)
    f_jk = sigmoid(W_f x_j + U_f h_k + b_f)       (one forget gate per child)
    c_j = i_j * u_j + sum_k f_jk * c_k           h_j = o_j * tanh(c_j)

Zhang et al. (2021, Sci Rep 11:7291) run it from the terminals up to the soma and use the root's hidden state
(128-d, Table 2) as the neuron's feature. :class:`ChildSumTreeLSTM` computes every node of the same *height* of every
neuron of a :class:`~neuro_lib.morphology.tree.TreeBatch` in one step (a few matrix products and ``index_add``), so
the number of Python steps is the height of the tallest tree, not the number of nodes.
:meth:`ChildSumTreeLSTM.forward_recursive` is the straightforward per-node recursion with the same weights, kept as
the reference for the tests and ``bench/tree_lstm.py``.
"""
from __future__ import annotations

import sys
from typing import Sequence

import numpy as np
import torch
from torch import nn

from neuro_lib.morphology.tree import ReducedTree, TreeBatch, collate_trees

__all__ = ["ChildSumTreeLSTM", "TreeLSTMClassifier", "IndexedTrees"]


class ChildSumTreeLSTM(nn.Module):
    """Child-Sum Tree-LSTM cell applied over whole trees.

    Parameters
    ----------
    in_features : number of node features F (``len(neuro_lib.morphology.tree.FEATURES)``).
    hidden : hidden and cell size (128 in Zhang et al. 2021, Table 2).

    ``forward(batch: TreeBatch) -> (B, hidden)``: the root hidden state of each tree.
    """

    def __init__(self, in_features: int, hidden: int = 128):
        super().__init__()
        self.hidden = hidden
        self.W_iou = nn.Linear(in_features, 3 * hidden)
        self.U_iou = nn.Linear(hidden, 3 * hidden, bias=False)
        self.W_f = nn.Linear(in_features, hidden)
        self.U_f = nn.Linear(hidden, hidden, bias=False)

    def _node(self, wiou, wf, h_children, c_children, slot, n):
        """States of ``n`` nodes from their input projections and their children's states (``slot``: parent)."""
        H = self.hidden
        if h_children is None:
            iou = wiou
            fc = None
        else:
            h_sum = h_children.new_zeros(n, H).index_add(0, slot, h_children)
            iou = wiou + self.U_iou(h_sum)
            f = torch.sigmoid(wf.index_select(0, slot) + self.U_f(h_children))
            fc = c_children.new_zeros(n, H).index_add(0, slot, f * c_children)
        i, o, u = iou.split(H, dim=1)
        c = torch.sigmoid(i) * torch.tanh(u)
        if fc is not None:
            c = c + fc
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        x = batch.x
        wiou = self.W_iou(x)
        wf = self.W_f(x)
        N = x.shape[0]
        Hs = x.new_zeros(N, self.hidden)
        Cs = x.new_zeros(N, self.hidden)
        for s, e, child, slot in batch.levels:
            if len(child):
                hc, cc = Hs.index_select(0, child), Cs.index_select(0, child)
            else:
                hc = cc = None
            h, c = self._node(wiou[s:e], wf[s:e], hc, cc, slot, e - s)
            # in-place writes of disjoint slices: index_select saves only sizes, so autograd stays valid
            Hs[s:e] = h
            Cs[s:e] = c
        return Hs.index_select(0, batch.roots)

    def forward_recursive(self, tree: ReducedTree) -> torch.Tensor:
        """Reference: one Python call per node, children first (Tai et al. 2015 as written). Returns (hidden,)."""
        kids = tree.children()
        x = torch.from_numpy(tree.features).to(self.W_iou.weight.device)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10 * len(kids) + 100))

        def node(j):
            xj = x[j:j + 1]
            wiou, wf = self.W_iou(xj), self.W_f(xj)
            if not kids[j]:
                return self._node(wiou, wf, None, None, None, 1)
            states = [node(k) for k in kids[j]]
            hc = torch.cat([s[0] for s in states])
            cc = torch.cat([s[1] for s in states])
            slot = torch.zeros(len(kids[j]), dtype=torch.int64, device=x.device)
            return self._node(wiou, wf, hc, cc, slot, 1)

        try:
            return node(0)[0][0]
        finally:
            sys.setrecursionlimit(limit)


class IndexedTrees:
    """A bank of reduced trees addressed by integer index, so that the book's ``fit`` loop (which batches tensors)
    can train tree models: the model receives a (B,) index tensor and collates the trees itself."""

    def __init__(self, trees: Sequence[ReducedTree]):
        self.trees = list(trees)

    def batch(self, idx) -> TreeBatch:
        idx = np.asarray(idx.cpu() if torch.is_tensor(idx) else idx).astype(np.int64).ravel()
        return collate_trees([self.trees[i] for i in idx])

    def __len__(self) -> int:
        return len(self.trees)


class TreeLSTMClassifier(nn.Module):
    """Tree-LSTM branch of Zhang et al. 2021: root state (128-d) -> dropout -> linear to ``n_classes`` logits.

    ``forward(idx)`` takes a (B,) int64 tensor of indices into ``bank`` (an :class:`IndexedTrees`) or a
    :class:`TreeBatch`; ``features(...)`` returns the (B, hidden) root states (the 128-d feature of the fusion model).
    """

    def __init__(self, in_features: int, n_classes: int, hidden: int = 128, dropout: float = 0.2,
                 bank: IndexedTrees | None = None):
        super().__init__()
        self.tree = ChildSumTreeLSTM(in_features, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.bank = bank
        self.out_features = hidden

    def features(self, idx_or_batch) -> torch.Tensor:
        batch = idx_or_batch if isinstance(idx_or_batch, TreeBatch) else self.bank.batch(idx_or_batch)
        return self.tree(batch.to(self.head.weight.device))

    def forward(self, idx_or_batch) -> torch.Tensor:
        return self.head(self.drop(self.features(idx_or_batch)))
