"""Repair of reconstructions as in Zhang et al. 2021 (Methods, "Data preprocessing"): z-jump correction (Eq. 1) and
resampling to a fixed step.

*z-jumps.* Reconstructions traced from stacks of slices often show sudden steps along z where consecutive slices
were misaligned: a segment whose z change is far larger than its x-y change. Eq. 1 of the paper removes the step
and shifts everything distal to it by the same amount, so the tree stays connected and the rest of its shape is
kept. Our reading of Eq. 1, with ``dz_i = z_i - z_parent(i)``::

    jump_i = dz_i   if |dz_i| > threshold and |dz_i| > ratio * |dxy_i|   else 0
    z'_i   = z_i - sum(jump_j for j on the path from the root to i)

``threshold`` (um) is the paper's parameter; ``ratio`` (default 3) is ours: it keeps steep but genuine segments of
cells traced with coarse z steps from being flattened (without it, a 10 um threshold "corrects" hundreds of
ordinary segments in some Vasques cells). A jump is replaced by a step of 0 in z (the x-y part is kept).

*Resampling.* Every branch (soma or bifurcation to the next bifurcation or tip) is re-sampled at a fixed arc-length
``step`` (um); branch points, tips and the soma are kept, coordinates and radii are interpolated linearly along the
branch. This makes node counts comparable between labs that traced at different densities (the paper's sequence
models see node sequences).
"""
from __future__ import annotations

import numpy as np

from .io import SWC
from .topology import accumulate_to_root, nearest_marked_ancestor, path_distances

__all__ = ["correct_z_jumps", "resample", "z_jumps"]


def z_jumps(swc: SWC, threshold: float = 10.0, ratio: float = 3.0) -> np.ndarray:
    """(n,) z step in um of each sample whose ``|z - z_parent| > threshold`` and ``> ratio`` times its x-y
    displacement, 0 elsewhere (0 at the root). Raises ``ValueError`` for ``threshold <= 0``."""
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0 um, got {threshold}")
    dz = np.zeros(len(swc))
    dxy = np.zeros(len(swc))
    if len(swc) > 1:
        d = swc.xyz[1:] - swc.xyz[swc.parent[1:]]
        dz[1:] = d[:, 2]
        dxy[1:] = np.hypot(d[:, 0], d[:, 1])
    return np.where((np.abs(dz) > threshold) & (np.abs(dz) > ratio * dxy), dz, 0.0)


def correct_z_jumps(swc: SWC, threshold: float = 10.0, ratio: float = 3.0) -> SWC:
    """Remove z-jumps larger than ``threshold`` um and steeper than ``ratio`` (Zhang et al. 2021, Eq. 1; see the
    module docstring).

    Returns a new :class:`SWC` (same samples, corrected z); ``metadata["z_jumps"]`` counts the jumps removed and
    ``metadata["z_jump_total_um"]`` their summed absolute size. Raises ``ValueError`` for ``threshold <= 0``.
    """
    jumps = z_jumps(swc, threshold, ratio)
    shift = accumulate_to_root(swc.parent, jumps)
    out = swc.copy()
    out.xyz[:, 2] = swc.xyz[:, 2] - shift
    out.metadata["z_jumps"] = int(np.count_nonzero(jumps))
    out.metadata["z_jump_total_um"] = float(np.abs(jumps).sum())
    out.metadata["z_jump_threshold_um"] = float(threshold)
    return out


def resample(swc: SWC, step: float = 5.0) -> SWC:
    """Re-sample every branch at arc-length spacing ``step`` um, keeping the soma, branch points and tips.

    Each branch of path length ``P`` gets ``max(1, round(P / step))`` segments of equal length (so the spacing is
    within a factor 1.5 of ``step``, and exact where ``P`` is a multiple of it); x, y, z and radius are linearly
    interpolated along the original polyline. Soma samples are kept as they are. Types follow the branch's first
    sample. Raises ``ValueError`` for ``step <= 0``.
    """
    if step <= 0:
        raise ValueError(f"step must be > 0 um, got {step}")
    n = len(swc)
    parent, xyz, r, types = swc.parent, swc.xyz, swc.radius, swc.types
    soma = types == 1
    nchild = np.bincount(parent[parent >= 0], minlength=n)
    has_p = parent >= 0
    # branch starts: non-soma samples whose parent is the soma or a branch point (>= 2 children) or missing
    start = ~soma & (~has_p | soma[np.maximum(parent, 0)] | (nchild[np.maximum(parent, 0)] >= 2))
    sec = nearest_marked_ancestor(parent, start)
    pd_ = path_distances(swc)
    keep_soma = np.flatnonzero(soma)
    new_index = np.full(n, -1)  # old index -> new index, for samples that are kept (soma, branch ends)
    rows_xyz, rows_r, rows_t, rows_p = [], [], [], []

    def add(p_xyz, p_r, p_t, p_parent):
        rows_xyz.append(p_xyz)
        rows_r.append(p_r)
        rows_t.append(p_t)
        rows_p.append(p_parent)
        return len(rows_xyz) - 1

    for i in keep_soma:  # soma first, in its original (parent-first) order
        new_index[i] = add(xyz[i], r[i], types[i], new_index[parent[i]] if parent[i] >= 0 else -1)
    # the samples of each branch, ordered by path distance (a branch is a path, so this is its order)
    members = np.flatnonzero(~soma & (sec >= 0))
    order = np.lexsort((pd_[members], sec[members]))
    members = members[order]
    bounds = np.flatnonzero(np.diff(sec[members])) + 1
    groups = np.split(members, bounds) if len(members) else []
    # process branches parent-first: a branch's origin is processed before it because its start row comes later
    groups.sort(key=lambda g: g[0])
    for g in groups:
        origin = parent[g[0]]
        if origin >= 0:
            o_xyz, o_r, o_new = xyz[origin], r[origin], new_index[origin]
            base = pd_[origin]
        else:  # a neurite root without parent (no soma above): keep its first sample
            o_new = add(xyz[g[0]], r[g[0]], types[g[0]], -1)
            new_index[g[0]] = o_new
            o_xyz, o_r, base = xyz[g[0]], r[g[0]], pd_[g[0]]
            g = g[1:]
            if len(g) == 0:
                continue
        s = np.r_[0.0, pd_[g] - base]
        P = s[-1]
        k = max(1, int(round(P / step)))
        targets = np.linspace(0, P, k + 1)[1:]
        px = np.vstack([o_xyz, xyz[g]])
        pr = np.r_[o_r if origin >= 0 and not soma[origin] else r[g[0]], r[g]]
        nx = np.column_stack([np.interp(targets, s, px[:, j]) for j in range(3)])
        nr = np.interp(targets, s, pr)
        prev = o_new
        t = types[g[0]]
        for j in range(k):
            prev = add(nx[j], nr[j], t, prev)
        new_index[g[-1]] = prev
    out_xyz = np.asarray(rows_xyz, dtype=float).reshape(-1, 3)
    m = len(out_xyz)
    res = SWC(ids=np.arange(1, m + 1), types=np.asarray(rows_t, dtype=np.int64), xyz=out_xyz,
              radius=np.asarray(rows_r, dtype=float), parent=np.asarray(rows_p, dtype=np.int64), path=swc.path,
              lines=None, n_skipped=swc.n_skipped, metadata={**swc.metadata, "resampled_step_um": float(step)})
    return res
