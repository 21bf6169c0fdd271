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


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) as 2 sigmoid(2x) - 1: the same function (to float32 rounding), and several times faster than
    ``torch.tanh`` on the CPU builds we use (measured: 0.5 against 3.8 ms for 8,000 x 128 values on one thread)."""
    return x.mul(2).sigmoid_().mul_(2).sub_(1)


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

    def forward(self, batch: TreeBatch, autograd: bool = False) -> torch.Tensor:
        """Root hidden states (B, hidden) of the trees of ``batch``.

        By default the level loop runs inside :class:`_LevelwiseTreeLSTM`, whose hand-written backward pass touches
        only the nodes of each level; ``autograd=True`` uses plain autograd through the loop instead (same numbers,
        but each level's backward allocates full-size buffers, O(nodes x height) work; kept for the tests).
        """
        if autograd:
            return self._forward_autograd(batch)
        if not torch.is_grad_enabled():
            return self._forward_inference(batch)
        return _LevelwiseTreeLSTM.apply(batch, batch.x, self.W_iou.weight, self.W_iou.bias, self.U_iou.weight,
                                        self.W_f.weight, self.W_f.bias, self.U_f.weight)

    @torch.no_grad()
    def _forward_inference(self, batch: TreeBatch) -> torch.Tensor:
        """The level loop without autograd (``forward`` under ``torch.no_grad()``): the same equations, with no gates
        kept for a backward pass, the input and output gates' sigmoids in one call, and each level's states written
        straight into the (N, H) buffers."""
        H = self.hidden
        x = batch.x
        wiou = self.W_iou(x)
        wf = self.W_f(x)
        Hs, Cs = x.new_empty(x.shape[0], H), x.new_empty(x.shape[0], H)
        U_iou, U_f = self.U_iou.weight.t(), self.U_f.weight.t()
        for s, e, child, slot in batch.levels:
            iou = wiou[s:e]
            fc = None
            if len(child):
                hc, cc = Hs.index_select(0, child), Cs.index_select(0, child)
                hsum = hc.new_zeros(e - s, H).index_add_(0, slot, hc)
                iou = iou.addmm_(hsum, U_iou)  # in place: wiou[s:e] is not needed again
                f = wf[s:e].index_select(0, slot).addmm_(hc, U_f).sigmoid_()
                fc = cc.new_zeros(e - s, H).index_add_(0, slot, f.mul_(cc))
            io = torch.sigmoid(iou[:, :2 * H])
            c = torch.mul(io[:, :H], _tanh(iou[:, 2 * H:]), out=Cs[s:e])
            if fc is not None:
                c.add_(fc)
            torch.mul(io[:, H:], _tanh(c), out=Hs[s:e])
        return Hs.index_select(0, batch.roots)

    def _forward_autograd(self, batch: TreeBatch) -> torch.Tensor:
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


class _LevelwiseTreeLSTM(torch.autograd.Function):
    """Level-by-level Child-Sum Tree-LSTM with a hand-written backward pass (Tai et al. 2015, Eqs. 2-8).

    Forward runs without autograd, writing each level's states into (N, H) buffers and keeping the gates; backward
    walks the levels from the roots down, accumulating the gradients of the children of each level with
    ``index_add_`` into (N, H) buffers, so every level costs work proportional to its own nodes and children.
    """

    @staticmethod
    def forward(ctx, batch, x, W_iou, b_iou, U_iou, W_f, b_f, U_f):
        H = U_f.shape[0]
        N = x.shape[0]
        with torch.no_grad():
            wiou = torch.addmm(b_iou, x, W_iou.t())
            wf = torch.addmm(b_f, x, W_f.t())
            Hs, Cs = x.new_zeros(N, H), x.new_zeros(N, H)
            hsum_all = x.new_zeros(N, H)
            F = []
            iou_all = x.new_empty(N, 3 * H)
            for s, e, child, slot in batch.levels:
                n = e - s
                iou = wiou[s:e]
                c_extra = None
                if len(child):
                    hc, cc = Hs.index_select(0, child), Cs.index_select(0, child)
                    hsum = hsum_all[s:e]
                    hsum.index_add_(0, slot, hc)
                    iou = iou + hsum @ U_iou.t()
                    f = torch.sigmoid(wf[s:e].index_select(0, slot) + hc @ U_f.t())
                    c_extra = x.new_zeros(n, H).index_add_(0, slot, f * cc)
                    F.append(f)
                else:
                    F.append(None)
                i = torch.sigmoid(iou[:, :H])
                o = torch.sigmoid(iou[:, H:2 * H])
                u = _tanh(iou[:, 2 * H:])
                c = i * u if c_extra is None else i * u + c_extra
                Cs[s:e] = c
                Hs[s:e] = o * _tanh(c)
                iou_all[s:e, :H], iou_all[s:e, H:2 * H], iou_all[s:e, 2 * H:] = i, o, u
        ctx.batch, ctx.F = batch, F
        ctx.save_for_backward(x, W_iou, U_iou, W_f, U_f, Hs, Cs, hsum_all, iou_all)
        return Hs.index_select(0, batch.roots)

    @staticmethod
    def backward(ctx, g_root):
        x, W_iou, U_iou, W_f, U_f, Hs, Cs, hsum_all, iou_all = ctx.saved_tensors
        batch, F = ctx.batch, ctx.F
        H = U_f.shape[0]
        N = x.shape[0]
        dH = x.new_zeros(N, H)
        dC = x.new_zeros(N, H)
        dH.index_add_(0, batch.roots, g_root)
        d_iou = x.new_zeros(N, 3 * H)
        d_fx = x.new_zeros(N, H)
        dU_iou = torch.zeros_like(U_iou)
        dU_f = torch.zeros_like(U_f)
        for (s, e, child, slot), f in zip(reversed(batch.levels), reversed(F)):
            i, o, u = iou_all[s:e, :H], iou_all[s:e, H:2 * H], iou_all[s:e, 2 * H:]
            tc = _tanh(Cs[s:e])
            dh = dH[s:e]
            dc = dC[s:e] + dh * o * (1 - tc * tc)
            da = d_iou[s:e]
            da[:, :H] = dc * u * i * (1 - i)
            da[:, H:2 * H] = dh * tc * o * (1 - o)
            da[:, 2 * H:] = dc * i * (1 - u * u)
            if f is None:
                continue
            dU_iou += da.t() @ hsum_all[s:e]
            dhc = (da @ U_iou).index_select(0, slot)        # d h~ flows to every child
            hc, cc = Hs.index_select(0, child), Cs.index_select(0, child)
            dcs = dc.index_select(0, slot)
            df = dcs * cc * f * (1 - f)                      # through the forget gate's pre-activation
            dU_f += df.t() @ hc
            d_fx.index_add_(0, slot + s, df)
            dhc = dhc + df @ U_f
            dH.index_add_(0, child, dhc)
            dC.index_add_(0, child, dcs * f)
        dW_iou = d_iou.t() @ x
        db_iou = d_iou.sum(0)
        dW_f = d_fx.t() @ x
        db_f = d_fx.sum(0)
        dx = d_iou @ W_iou + d_fx @ W_f if ctx.needs_input_grad[1] else None
        return None, dx, dW_iou, db_iou, dU_iou, dW_f, db_f, dU_f


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
