"""The reduced tree of a neuron and the node sequence, the inputs of the LSTM and the Tree-LSTM of Zhang et al. 2021.

A reconstruction (SWC) is a tree of thousands of sample points; almost all of them are on an unbranched stretch of
neurite and carry no topological information. Following Zhang et al. (2021, Sci Rep 11:7291, "Methods": the
Tree-LSTM runs over a tree whose nodes are the soma, the branch points and the terminals), :func:`reduce_tree` keeps
only

* the root (the soma; all soma-typed rows of a NeuroMorpho 3-point or contour soma are merged into it),
* branch points (two or more children) and
* terminals (no children),

and links each kept node to its nearest kept ancestor. Every node gets the :data:`FEATURES` below, computed from the
unbranched path to its parent. Functions here take plain arrays (``xyz``, ``radius``, ``parent``, ``types``, as in
:class:`neuro_lib.morphology.io.SWC`) so they do not depend on a reader.

:func:`node_sequence` is the pre-order (depth first) walk of that tree, the input of the 2-layer LSTM (Table 2 of the
paper: maximum length 1,500; longer sequences are subsampled evenly, keeping the order). :func:`collate_trees` packs
many reduced trees into one :class:`TreeBatch` whose nodes are sorted by *height* (the longest path down to a
terminal), so a Child-Sum Tree-LSTM can process all nodes of the same height of all neurons in one step
(:class:`neuro_lib.models.tree_lstm.ChildSumTreeLSTM`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = ["FEATURES", "ReducedTree", "TreeBatch", "reduce_tree", "node_sequence", "collate_trees",
           "pad_sequences", "trees_from_files", "LENGTH_SCALE_UM"]

LENGTH_SCALE_UM = 100.0
"""Lengths and positions are divided by this (micrometres) so that features are of order one."""

FEATURES = (
    "x", "y", "z",              # position relative to the root, / LENGTH_SCALE_UM
    "path_to_parent",           # path length along the neurite to the parent node, / LENGTH_SCALE_UM
    "euclid_to_parent",         # straight-line distance to the parent node, / LENGTH_SCALE_UM
    "path_to_root",             # path length to the root, / (10 * LENGTH_SCALE_UM)
    "radius",                   # radius at the node, micrometres
    "branch_order",             # number of branch points between the root and the node (root 0), / 10
    "n_children",               # number of children in the reduced tree (0 terminal, >= 2 branch point)
    "is_axon", "is_basal", "is_apical", "is_other",   # SWC type of the node (2, 3, 4, other); root: all 0
)
"""Names of the per-node features (columns of :attr:`ReducedTree.features`)."""


@dataclass
class ReducedTree:
    """A neuron reduced to its root, branch points and terminals.

    Attributes
    ----------
    features : (m, len(FEATURES)) float32, see :data:`FEATURES`.
    parent : (m,) int64, index of the parent node, -1 for the root (node 0); parents come before children.
    rows : (m,) int64, the SWC row of each node.
    height : (m,) int64, longest number of edges from the node down to a terminal (terminals 0).
    """

    features: np.ndarray
    parent: np.ndarray
    rows: np.ndarray
    height: np.ndarray

    def __len__(self) -> int:
        return len(self.parent)

    def children(self) -> list[list[int]]:
        """Child lists, in node order (used by the per-node recursive reference)."""
        kids: list[list[int]] = [[] for _ in range(len(self.parent))]
        for j, p in enumerate(self.parent):
            if p >= 0:
                kids[p].append(j)
        return kids


def _pointer_jump_sum(values: np.ndarray, up: np.ndarray, root: int) -> np.ndarray:
    """Sum of ``values`` over each row and all its ancestors by pointer jumping (log depth numpy steps).

    ``up`` is each row's parent with ``up[root] == root``; ``values[root]`` must be 0.
    """
    val = values.astype(float).copy()
    anc = up.copy()
    while not (anc == root).all():
        val = val + val[anc]
        anc = anc[anc]
    return val


def reduce_tree(xyz: np.ndarray, radius: np.ndarray, parent: np.ndarray, types: np.ndarray | None = None
                ) -> ReducedTree:
    """Reduce an SWC tree to root, branch points and terminals, with per-node :data:`FEATURES`.

    Parameters
    ----------
    xyz : (n, 3) coordinates in micrometres.
    radius : (n,) radii in micrometres.
    parent : (n,) index of each row's parent row, -1 for the single root; parents must come before children.
    types : (n,) SWC structure types (1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite) or ``None``. Soma rows
        other than the root are merged into the root (NeuroMorpho's 3-point soma), so their children become the
        root's children.

    Returns a :class:`ReducedTree`. Raises ``ValueError`` if the arrays disagree in length, there is not exactly
    one root, or a parent index is not smaller than its child's (not topologically ordered).
    """
    xyz = np.asarray(xyz, dtype=float)
    radius = np.asarray(radius, dtype=float)
    parent = np.asarray(parent, dtype=np.int64)
    n = len(parent)
    if xyz.shape != (n, 3) or radius.shape != (n,):
        raise ValueError(f"expected xyz (n, 3) and radius (n,) with n = {n}, got {xyz.shape} and {radius.shape}")
    roots = np.flatnonzero(parent < 0)
    if len(roots) != 1:
        raise ValueError(f"expected exactly one root (parent -1), found {len(roots)}")
    idx = np.arange(n)
    if (parent[parent >= 0] >= idx[parent >= 0]).any():
        bad = int(np.flatnonzero((parent >= idx) & (parent >= 0))[0])
        raise ValueError(f"row {bad} has parent row {parent[bad]}: parents must come before children")
    root = int(roots[0])
    types = np.zeros(n, dtype=np.int64) if types is None else np.asarray(types, dtype=np.int64)
    if types.shape != (n,):
        raise ValueError(f"types has shape {types.shape}, expected ({n},)")
    # soma rows connected to the root through soma rows are merged into the root
    up = np.where(parent >= 0, parent, root)
    not_soma = (types != 1).astype(float)
    not_soma[root] = 0.0
    soma = _pointer_jump_sum(not_soma, up, root) == 0
    eparent = np.where(parent >= 0, parent, root)
    eparent = np.where(soma[eparent], root, eparent)
    eparent[soma] = root
    member = ~soma
    nchild = np.bincount(eparent[member], minlength=n)
    keep = member & (nchild != 1)
    keep[root] = True
    # segment lengths, then path length to the root by pointer jumping
    seg = np.linalg.norm(xyz - xyz[eparent], axis=1)
    seg[soma] = 0.0
    plen = _pointer_jump_sum(seg, eparent, root)
    # nearest kept ancestor-or-self of every row
    near = np.where(keep, idx, eparent)
    while True:
        nxt = near[near]
        if np.array_equal(nxt, near):
            break
        near = nxt
    rows = np.flatnonzero(keep)
    rows = np.concatenate([[root], rows[rows != root]])
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    prow = near[eparent[rows]]
    prow[0] = -1
    rparent = np.where(prow >= 0, pos[np.maximum(prow, 0)], -1)
    rparent[0] = -1
    m = len(rows)
    order = np.zeros(m, dtype=np.int64)
    height = np.zeros(m, dtype=np.int64)
    for j in range(1, m):
        order[j] = order[rparent[j]] + 1
    for j in range(m - 1, 0, -1):
        p = rparent[j]
        if height[j] + 1 > height[p]:
            height[p] = height[j] + 1
    rnchild = np.bincount(rparent[1:], minlength=m)
    prow_safe = np.where(prow >= 0, prow, root)
    rel = (xyz[rows] - xyz[root]) / LENGTH_SCALE_UM
    t = types[rows]
    feats = np.column_stack([
        rel,
        (plen[rows] - plen[prow_safe]) / LENGTH_SCALE_UM,
        np.linalg.norm(xyz[rows] - xyz[prow_safe], axis=1) / LENGTH_SCALE_UM,
        plen[rows] / (10 * LENGTH_SCALE_UM),
        radius[rows],
        order / 10.0,
        rnchild,
        t == 2, t == 3, t == 4, ~np.isin(t, [1, 2, 3, 4]) & (np.arange(m) > 0),
    ]).astype(np.float32)
    return ReducedTree(features=feats, parent=rparent.astype(np.int64), rows=rows.astype(np.int64),
                       height=height)


def node_sequence(tree: ReducedTree, max_len: int = 1500) -> np.ndarray:
    """Pre-order depth-first walk of ``tree`` (children in node order): (L, len(FEATURES)) float32, L <= max_len.

    Longer walks are subsampled at evenly spaced positions (the root is always the first step), the paper's maximum
    sequence length being 1,500 (Zhang et al. 2021, Table 2).
    """
    kids = tree.children()
    out, stack = [], [0]
    while stack:
        j = stack.pop()
        out.append(j)
        stack.extend(reversed(kids[j]))
    walk = np.asarray(out, dtype=np.int64)
    if len(walk) > max_len:
        walk = walk[np.unique(np.linspace(0, len(walk) - 1, max_len).round().astype(np.int64))]
    return tree.features[walk]


@dataclass
class TreeBatch:
    """Many reduced trees packed for level-by-level processing (see :func:`collate_trees`).

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

    def to(self, device) -> "TreeBatch":
        return TreeBatch(self.x.to(device), [(s, e, c.to(device), p.to(device)) for s, e, c, p in self.levels],
                         self.roots.to(device))


def collate_trees(trees: Sequence[ReducedTree]) -> TreeBatch:
    """Pack ``trees`` into one :class:`TreeBatch` (no Python loop over nodes; one over heights)."""
    if len(trees) == 0:
        raise ValueError("collate_trees needs at least one tree")
    sizes = np.array([len(t) for t in trees])
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    x = np.concatenate([t.features for t in trees])
    h = np.concatenate([t.height for t in trees])
    par = np.concatenate([np.where(t.parent >= 0, t.parent + o, -1) for t, o in zip(trees, offs)])
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


def pad_sequences(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad (L_i, F) sequences into (B, max L, F) float32 and return it with the (B,) int64 lengths."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    out = torch.zeros(len(seqs), int(lengths.max()), seqs[0].shape[1])
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return out, lengths


def trees_from_files(paths: Sequence, *, read=None, progress: bool = True, cache: bool = True,
                     on_error: str = "raise") -> list[ReducedTree | None]:
    """Read every SWC in ``paths`` and reduce it (:func:`reduce_tree`); cached in ``cache_dir()/morphology``.

    ``on_error="raise"`` (default) lets the reader's error (``SWCError`` naming file and line) through;
    ``on_error="skip"`` puts ``None`` in place of a file that fails, warns with the count and the first reasons.

    ``read(path)`` returns an object with ``xyz``, ``radius``, ``parent``, ``types`` arrays (default:
    :func:`neuro_lib.morphology.io.read_swc`, which raises ``SWCError`` for malformed files). The cache is keyed by
    the paths, the file sizes and modification times and the feature list, so a changed file is re-read.
    """
    import hashlib
    import os
    import pickle

    from tqdm.auto import tqdm

    from neuro_lib.datasets import cache_dir

    paths = [str(p) for p in paths]
    if read is None:
        from neuro_lib.morphology.io import read_swc as read
    key = hashlib.sha256(repr([(p, os.path.getsize(p), int(os.path.getmtime(p))) for p in paths]
                              + list(FEATURES) + ["v1", on_error]).encode()).hexdigest()[:16]
    path = cache_dir() / "morphology" / f"trees-{key}.pkl"
    if cache and path.exists():
        return pickle.loads(path.read_bytes())
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    out, errors = [], []
    for p in tqdm(paths, desc="reducing trees", disable=not progress):
        try:
            s = read(p)
            out.append(reduce_tree(s.xyz, s.radius, s.parent, s.types))
        except ValueError as err:  # SWCError is a ValueError
            if on_error == "raise":
                raise
            errors.append(str(err))
            out.append(None)
    if errors:
        import warnings

        warnings.warn(f"trees_from_files skipped {len(errors)} of {len(paths)} files; first: {errors[:3]}")
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(out))
        os.replace(tmp, path)
    return out
