"""SWC-level augmentation as in Zhang et al. 2021 (they used the Trees toolbox): pruning terminal branches and adding
small branches. Applied to training cells only, after the split.

Both functions take and return :class:`~neuro_lib.morphology.io.SWC` objects (parent-before-child order kept) and
draw from a ``numpy.random.Generator`` so that an augmentation is reproducible.
"""
from __future__ import annotations

import numpy as np

from .features import nearest_marked_ancestor
from .io import SWC

__all__ = ["prune_terminals", "add_branches", "random_augment", "subset"]


def subset(swc: SWC, keep: np.ndarray) -> SWC:
    """The samples with ``keep`` true (a boolean mask closed under parents: every kept sample's parent is kept)."""
    keep = np.asarray(keep, bool)
    idx = np.flatnonzero(keep)
    new = np.full(len(swc), -1)
    new[idx] = np.arange(len(idx))
    par = swc.parent[idx]
    if ((par >= 0) & ~keep[np.maximum(par, 0)]).any():
        raise ValueError("subset: a kept sample's parent is not kept")
    return swc.copy(ids=swc.ids[idx], types=swc.types[idx], xyz=swc.xyz[idx], radius=swc.radius[idx],
                    parent=np.where(par >= 0, new[np.maximum(par, 0)], -1),
                    lines=None if swc.lines is None else swc.lines[idx])


def prune_terminals(swc: SWC, fraction: float = 0.1, rng: np.random.Generator | None = None) -> SWC:
    """Remove a random ``fraction`` (0-1) of the terminal branches (from the last branch point to the tip).

    Raises ``ValueError`` for a fraction outside [0, 1].
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    rng = rng or np.random.default_rng()
    n = len(swc)
    nchild = np.bincount(swc.parent[swc.parent >= 0], minlength=n)
    soma = swc.types == 1
    has_p = swc.parent >= 0
    start = ~soma & (~has_p | soma[np.maximum(swc.parent, 0)] | (nchild[np.maximum(swc.parent, 0)] >= 2))
    sec = nearest_marked_ancestor(swc.parent, start)
    tips = np.flatnonzero(~soma & (nchild == 0))
    # only terminal branches that hang from a bifurcation (never remove a whole stem)
    tip_sec = sec[tips]
    from_bif = ~soma[np.maximum(swc.parent[tip_sec], 0)] & (swc.parent[tip_sec] >= 0)
    cands = np.unique(tip_sec[from_bif])
    k = int(round(fraction * len(cands)))
    if k == 0:
        return swc.copy()
    drop = rng.choice(cands, size=k, replace=False)
    keep = ~np.isin(sec, drop) | soma
    out = subset(swc, keep)
    out.metadata["pruned_branches"] = int(k)
    return out


def add_branches(swc: SWC, n_branches: int = 5, length: tuple[float, float] = (10.0, 40.0), step: float = 2.0,
                 rng: np.random.Generator | None = None) -> SWC:
    """Attach ``n_branches`` short new branches at random non-soma samples.

    Each branch is a persistent random walk of total length uniform in ``length`` um, with ``step`` um segments,
    starting in a random direction at 30-90 degrees from the parent segment, radius that of the attachment point
    times 0.7, and the attachment point's type.
    """
    rng = rng or np.random.default_rng()
    cand = np.flatnonzero((swc.types != 1) & (swc.parent >= 0))
    if len(cand) == 0 or n_branches <= 0:
        return swc.copy()
    at = rng.choice(cand, size=min(n_branches, len(cand)), replace=False)
    xyz, rad, typ, par = [swc.xyz], [swc.radius], [swc.types], [swc.parent]
    n = len(swc)
    for a in at:
        L = rng.uniform(*length)
        k = max(1, int(round(L / step)))
        d0 = swc.xyz[a] - swc.xyz[swc.parent[a]]
        d0 = d0 / (np.linalg.norm(d0) + 1e-12)
        v = rng.normal(size=3)
        v -= v.dot(d0) * d0
        v /= np.linalg.norm(v) + 1e-12
        ang = np.deg2rad(rng.uniform(30, 90))
        d = np.cos(ang) * d0 + np.sin(ang) * v
        pts = []
        p = swc.xyz[a].copy()
        for _ in range(k):
            d = d + 0.3 * rng.normal(size=3)
            d /= np.linalg.norm(d)
            p = p + step * d
            pts.append(p.copy())
        pts = np.asarray(pts)
        xyz.append(pts)
        rad.append(np.full(k, swc.radius[a] * 0.7))
        typ.append(np.full(k, swc.types[a]))
        par.append(np.r_[a, n + np.arange(k - 1)])
        n += k
    out = swc.copy(ids=np.arange(1, n + 1), types=np.concatenate(typ), xyz=np.vstack(xyz),
                   radius=np.concatenate(rad), parent=np.concatenate(par).astype(np.int64), lines=None)
    out.metadata["added_branches"] = int(len(at))
    return out


def random_augment(swc: SWC, rng: np.random.Generator, *, prune: float = 0.1, n_add: int = 5) -> SWC:
    """Prune up to ``prune`` of the terminal branches (uniform 0..prune) and add 0..``n_add`` small branches."""
    out = prune_terminals(swc, rng.uniform(0, prune), rng)
    return add_branches(out, int(rng.integers(0, n_add + 1)), rng=rng)
