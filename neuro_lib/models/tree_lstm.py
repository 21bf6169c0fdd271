"""Child-Sum Tree-LSTM (Tai, Socher & Manning 2015, Eqs. 2-8) over a neuron's reduced tree, batched level by level.

For node ``j`` with children ``C(j)`` (Tai et al. 2015, Section 3.1)::

    h~_j = sum_k h_k
    i_j = sigmoid(W_i x_j + U_i h~_j + b_i)      o_j = sigmoid(W_o x_j + U_o h~_j + b_o)
    u_j = tanh(W_u x_j + U_u h~_j + b_u)
    f_jk = sigmoid(W_f x_j + U_f h_k + b_f)       (one forget gate per child)
    c_j = i_j * u_j + sum_k f_jk * c_k           h_j = o_j * tanh(c_j)

Zhang et al. (2021, Sci Rep 11:7291) run it from the terminals up to the soma of a neuron's reduced tree and use
the root's hidden state (128-d, Table 2) as the neuron's feature. A tree here is plain arrays: ``features`` (m, F)
float32 node features, ``parent`` (m,) int64 (-1 for the root, node 0; parents before children) and ``height`` (m,)
int64 (longest number of edges down to a terminal, :func:`tree_heights`). :func:`collate_trees` packs many trees
into one :class:`TreeBatch` whose nodes are sorted by height, and :class:`ChildSumTreeLSTM` computes every node of
the same height of every tree of the batch in one step (a few matrix products and ``index_add``), so the number of
Python steps is the height of the tallest tree, not the number of nodes.
:meth:`ChildSumTreeLSTM.forward_recursive` is the straightforward per-node recursion with the same weights, kept as
the reference for the tests and ``bench/tree_lstm.py``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["ChildSumTreeLSTM", "TreeLSTMNet", "TreeBatch", "collate_trees", "tree_heights", "IndexedTrees"]


def tree_heights(parent: np.ndarray) -> np.ndarray:
    """(m,) int64 height of every node (edges on the longest path down to a terminal; terminals 0) of a tree given
    by ``parent`` (m,) (-1 for the root; parents before children)."""
    parent = np.asarray(parent, dtype=np.int64)
    height = np.zeros(len(parent), dtype=np.int64)
    for j in range(len(parent) - 1, 0, -1):
        p = parent[j]
        if p >= 0 and height[j] + 1 > height[p]:
            height[p] = height[j] + 1
    return height


@dataclass
class TreeBatch:
    """Many trees packed for level-by-level processing (see :func:`collate_trees`).

    Attributes
    ----------
    x : (N, F) float32 node features, nodes sorted by height (all terminals first).
    levels : list of ``(start, end, child_index, child_slot)``: the nodes of one height are ``x[start:end]``;
        ``child_index`` (k,) int64 are the batch positions of all their children and ``child_slot`` (k,) the
        position of each child's parent within ``start:end``.
    roots : (B,) int64 batch position of each tree's root.
    """

    x: torch.Tensor
    levels: list
    roots: torch.Tensor

    def to(self, device) -> TreeBatch:
        return TreeBatch(self.x.to(device), [(s, e, c.to(device), p.to(device)) for s, e, c, p in self.levels],
                         self.roots.to(device))


def collate_trees(features: Sequence[np.ndarray], parents: Sequence[np.ndarray], heights: Sequence[np.ndarray]
                  ) -> TreeBatch:
    """Pack trees (the i-th given by ``features[i]`` (m_i, F), ``parents[i]`` (m_i,), ``heights[i]`` (m_i,), see
    the module docstring) into one :class:`TreeBatch` (no Python loop over nodes; one over heights). Raises
    ``ValueError`` for no trees."""
    if len(features) == 0:
        raise ValueError("collate_trees needs at least one tree")
    sizes = np.array([len(p) for p in parents])
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    x = np.concatenate(features)
    h = np.concatenate(heights)
    par = np.concatenate([np.where(p >= 0, p + o, -1) for p, o in zip(parents, offs)])
    order = np.argsort(h, kind="stable")
    newpos = np.empty_like(order)
    newpos[order] = np.arange(len(order))
    hs = h[order]
    par_new = np.where(par[order] >= 0, newpos[np.maximum(par[order], 0)], -1)
    bounds = np.searchsorted(hs, np.arange(hs[-1] + 2))
    # children grouped by the height of their parent
    child = np.flatnonzero(par_new >= 0)
    child_par = par_new[child]
    ph = hs[child_par]
    corder = np.argsort(ph, kind="stable")
    child, child_par, ph = child[corder], child_par[corder], ph[corder]
    cb = np.searchsorted(ph, np.arange(hs[-1] + 2))
    levels = []
    for lev in range(hs[-1] + 1):
        s, e = int(bounds[lev]), int(bounds[lev + 1])
        if e == s:
            continue
        c = child[cb[lev]:cb[lev + 1]]
        p = child_par[cb[lev]:cb[lev + 1]] - s
        levels.append((s, e, torch.from_numpy(c.astype(np.int64)), torch.from_numpy(p.astype(np.int64))))
    return TreeBatch(torch.from_numpy(x[order]), levels, torch.from_numpy(newpos[offs].astype(np.int64)))


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) as 2 sigmoid(2x) - 1: the same function (to float32 rounding), and several times faster than
    ``torch.tanh`` on the CPU builds we use (measured: 0.5 against 3.8 ms for 8,000 x 128 values on one thread)."""
    return x.mul(2).sigmoid_().mul_(2).sub_(1)


class ChildSumTreeLSTM(nn.Module):
    """Child-Sum Tree-LSTM cell applied over whole trees.

    Parameters
    ----------
    in_features : number of node features F.
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

    def forward_recursive(self, features: np.ndarray, parent: np.ndarray) -> torch.Tensor:
        """Reference: one Python call per node, children first (Tai et al. 2015 as written), for one tree
        (``features`` (m, F), ``parent`` (m,)). Returns the root's (hidden,) state."""
        kids: list[list[int]] = [[] for _ in range(len(parent))]
        for j, p in enumerate(parent):
            if p >= 0:
                kids[p].append(j)
        x = torch.from_numpy(np.asarray(features)).to(self.W_iou.weight.device)
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
    """A bank of trees (see the module docstring) addressed by integer index, so that a fit loop that batches
    tensors (:func:`neuro_lib.training.fit`) can train a tree model: the model receives a (B,) index tensor and
    collates those trees itself (:meth:`batch`)."""

    def __init__(self, features: Sequence[np.ndarray], parents: Sequence[np.ndarray], heights: Sequence[np.ndarray]):
        if not len(features) == len(parents) == len(heights):
            raise ValueError(f"{len(features)} feature arrays, {len(parents)} parent arrays, {len(heights)} heights")
        self.features, self.parents, self.heights = list(features), list(parents), list(heights)

    def batch(self, idx) -> TreeBatch:
        idx = np.asarray(idx.cpu() if torch.is_tensor(idx) else idx).astype(np.int64).ravel()
        return collate_trees([self.features[i] for i in idx], [self.parents[i] for i in idx],
                             [self.heights[i] for i in idx])

    def __len__(self) -> int:
        return len(self.features)


class TreeLSTMNet(nn.Module):
    """The Tree-LSTM branch of Zhang et al. 2021: the root state (``hidden``, 128 in the paper) -> dropout -> linear
    to ``n_classes`` logits.

    ``forward(batch: TreeBatch) -> (B, n_classes)``; ``features(batch) -> (B, hidden)`` the root states (the 128-d
    feature of the fusion model).
    """

    def __init__(self, in_features: int, n_classes: int, hidden: int = 128, dropout: float = 0.2):
        super().__init__()
        self.tree = ChildSumTreeLSTM(in_features, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.out_features = hidden

    def features(self, batch: TreeBatch) -> torch.Tensor:
        return self.tree(batch.to(self.head.weight.device))

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        return self.head(self.drop(self.features(batch)))
