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
paper: maximum length 1,500; longer sequences are subsampled evenly, keeping the order). Batching many trees for
the Tree-LSTM (nodes sorted by height, one step per height) is the model's business:
:func:`neuro_lib.models.tree_lstm.collate_trees` takes each tree's ``features``, ``parent`` and ``height`` arrays.
This module needs no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURES", "ReducedTree", "reduce_tree", "node_sequence", "trees_from_files", "trees_to_arrays",
           "trees_from_arrays", "LENGTH_SCALE_UM"]

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


def trees_to_arrays(trees: Sequence[ReducedTree | None]) -> dict[str, np.ndarray]:
    """Reduced trees (``None`` for a missing one) as flat arrays, for an npz cache: ``features`` (N, F), ``parent``,
    ``rows``, ``height`` (N,) concatenated, ``offsets`` (len(trees) + 1,) and ``present`` (len(trees),) bool.
    Inverse: :func:`trees_from_arrays`."""
    kept = [t for t in trees if t is not None]
    sizes = np.array([len(t) if t is not None else 0 for t in trees], dtype=np.int64)

    def cat(a, dt, w=None):
        return np.concatenate([getattr(t, a) for t in kept]) if kept else np.zeros((0,) + ((w,) if w else ()), dt)

    return {"features": cat("features", np.float32, len(FEATURES)), "parent": cat("parent", np.int64),
            "rows": cat("rows", np.int64), "height": cat("height", np.int64),
            "offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            "present": np.array([t is not None for t in trees], dtype=bool)}


def trees_from_arrays(d) -> list[ReducedTree | None]:
    """The trees of :func:`trees_to_arrays` again (``None`` where ``present`` is false)."""
    off = d["offsets"]
    return [ReducedTree(d["features"][a:b], d["parent"][a:b], d["rows"][a:b], d["height"][a:b]) if ok else None
            for a, b, ok in zip(off[:-1], off[1:], d["present"])]


def _reduce_files(paths: list[str], on_error: str, progress: bool) -> list[ReducedTree | None]:
    from tqdm.auto import tqdm

    from .io import load_swc

    out, errors = [], []
    for p in tqdm(paths, desc="reducing trees", disable=not progress):
        try:
            s = load_swc(p)
            out.append(reduce_tree(s.xyz, s.radius, s.parent, s.types))
        except ValueError as err:  # SWCError is a ValueError
            if on_error == "raise":
                raise
            errors.append(str(err))
            out.append(None)
    if errors:
        import warnings

        warnings.warn(f"trees_from_files skipped {len(errors)} of {len(paths)} files; first: {errors[:3]}",
                      stacklevel=2)
    return out


def trees_from_files(paths: Sequence, *, progress: bool = True, cache: bool = True,
                     on_error: str = "raise") -> list[ReducedTree | None]:
    """Read every SWC in ``paths`` (:func:`~neuro_lib.morphology.io.load_swc`, the book's reading policy) and
    reduce it (:func:`reduce_tree`).

    ``on_error="raise"`` (default) lets the reader's error (``SWCError`` naming file and line) through;
    ``on_error="skip"`` puts ``None`` in place of a file that fails and warns with the count and the first reasons.
    With ``cache`` the trees are kept in :func:`neuro_lib.cache.cached` as arrays (npz, :func:`trees_to_arrays`),
    keyed by the paths, their sizes and modification times (:func:`~neuro_lib.morphology.io.file_key`),
    ``on_error`` and the source of this module and the reader. Raises ``ValueError`` for another ``on_error``.
    """
    from .. import cache as _cache
    from .io import file_key

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    paths = [str(p) for p in paths]
    if not cache:
        return _reduce_files(paths, on_error, progress)
    d = _cache.cached("morphology/trees", {"files": file_key(paths), "on_error": on_error},
                      lambda: trees_to_arrays(_reduce_files(paths, on_error, progress)), name="trees",
                      code=("neuro_lib.morphology.io",))
    return trees_from_arrays(d)
