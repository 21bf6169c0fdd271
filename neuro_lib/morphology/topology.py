"""One precomputed topology per cell: the arrays every morphometric of :mod:`neuro_lib.morphology.features` shares.

A :class:`Topology` wraps one :class:`~neuro_lib.morphology.io.SWC` and computes, the first time a feature asks for
it, each shared array (children counts, compartment lengths, stems, bifurcations, sections, path distances, branch
orders, the daughters of every bifurcation...), vectorised over the samples with NumPy; a second feature that needs
the same array reads it. This is the split NeuroM makes between ``neurom.core`` (the morphology and its sections)
and ``neurom/features/neurite.py`` (one small function per feature), without NeuroM's per-section Python objects,
which cost about 0.7 s per cell (see :mod:`~neuro_lib.morphology.features` for why we compute our own).

Conventions (L-Measure's, Scorcioni, Polavaram & Ascoli 2008): a *compartment* is a non-soma sample and the segment
to its parent; a *stem* is a neurite sample whose parent is a soma sample (or a neurite root without parent); a
*bifurcation* is a neurite sample with two or more children; a *section* (L-Measure's branch) starts at a stem or at
a child of a bifurcation and runs to the next bifurcation or terminal (its *end*); its *origin* is the start's parent
(the bifurcation or soma sample it leaves). Lengths are in micrometres.

The tree helpers :func:`accumulate_to_root`, :func:`nearest_marked_ancestor` and :func:`path_distances` work by
pointer jumping (O(n log depth), no Python loop over samples); :mod:`~neuro_lib.morphology.repair` uses them too.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .io import SWC

__all__ = ["Topology", "accumulate_to_root", "nearest_marked_ancestor", "path_distances"]


def accumulate_to_root(parent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n,) float: the sum of ``values`` (n,) over each node and all its ancestors, by pointer jumping.

    ``parent`` (n,) int holds each node's parent index, -1 at the root(s)."""
    acc = values.astype(float).copy()
    anc = parent.copy()
    while True:
        has = anc >= 0
        if not has.any():
            return acc
        idx = np.flatnonzero(has)
        acc[idx] += acc[anc[idx]]
        anc[idx] = anc[anc[idx]]


def path_distances(swc: SWC) -> np.ndarray:
    """(n,) path length in um from the root to every sample along the tree."""
    return accumulate_to_root(swc.parent, swc.segment_lengths())


def nearest_marked_ancestor(parent: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """(n,) int: index of the nearest node at or above each node with ``marked`` (n,) bool true (-1 if none), by
    pointer jumping."""
    n = len(parent)
    jump = np.where(marked, np.arange(n), parent)
    while True:
        nxt = jump.copy()
        ok = jump >= 0
        nxt[ok] = np.where(marked[jump[ok]], jump[ok], jump[jump[ok]])
        if np.array_equal(nxt, jump):
            return jump
        jump = nxt


def _is_three_point(swc: SWC, s_idx: np.ndarray) -> bool:
    """NeuroMorpho's 3-point soma: three type-1 samples, two children of the first at +-r along one axis."""
    if len(s_idx) != 3:
        return False
    c = swc.xyz[s_idx[0]]
    d = swc.xyz[s_idx[1:]] - c
    r = swc.radius[s_idx[0]]
    return bool(np.allclose(d[0], -d[1], atol=1e-2 * max(r, 1e-6)) and
                abs(np.linalg.norm(d[0]) - r) < 0.05 * max(r, 1e-6) + 1e-3)


class Topology:
    """The shared arrays of one cell's morphometrics, each computed once on first use (see the module docstring).

    Every array attribute has one entry per SWC sample (n,) unless said otherwise; masks are bool, indices int.
    """

    def __init__(self, swc: SWC):
        self.swc = swc
        self.n = len(swc)
        self.parent, self.xyz, self.radius = swc.parent, swc.xyz, swc.radius

    # ---- samples ------------------------------------------------------------------------------------------------
    @cached_property
    def soma(self) -> np.ndarray:
        """Soma samples (SWC type 1)."""
        return self.swc.types == 1

    @cached_property
    def neurite(self) -> np.ndarray:
        """Non-soma samples (the compartments)."""
        return ~self.soma

    @cached_property
    def has_parent(self) -> np.ndarray:
        return self.parent >= 0

    @cached_property
    def n_children(self) -> np.ndarray:
        """Children of each sample."""
        p = self.parent
        return np.bincount(p[p >= 0], minlength=self.n)

    @cached_property
    def segment_lengths(self) -> np.ndarray:
        """Length in um of each sample's segment to its parent (0 for the root)."""
        return self.swc.segment_lengths()

    @cached_property
    def compartment_lengths(self) -> np.ndarray:
        """The segment of every non-soma sample (its connection to the soma included), 0 for soma samples; um."""
        return np.where(self.neurite, self.segment_lengths, 0.0)

    @cached_property
    def path_distances(self) -> np.ndarray:
        """Path length in um from the root along the tree (the soma connection included)."""
        return accumulate_to_root(self.parent, self.segment_lengths)

    def _parent_in(self, mask: np.ndarray) -> np.ndarray:
        """Samples that have a parent and whose parent is in ``mask``."""
        out = self.has_parent.copy()
        out[self.has_parent] &= mask[np.maximum(self.parent[self.has_parent], 0)]
        return out

    # ---- soma ---------------------------------------------------------------------------------------------------
    @cached_property
    def soma_rows(self) -> np.ndarray:
        return np.flatnonzero(self.soma)

    @cached_property
    def point_soma(self) -> bool:
        """One soma sample, or NeuroMorpho's 3-point soma (a sphere of the first sample's radius)."""
        return len(self.soma_rows) == 1 or _is_three_point(self.swc, self.soma_rows)

    @cached_property
    def soma_compartments(self) -> np.ndarray:
        """Soma samples whose parent is a soma sample (a contour or cylinder soma's segments)."""
        return self.soma & self._parent_in(self.soma)

    @cached_property
    def _soma_surface_volume(self) -> tuple:
        r = self.radius
        if self.point_soma:  # L-Measure: a sphere's surface, and the volume of a cylinder of length 2r
            rs = r[self.soma_rows[0]] if len(self.soma_rows) else 0.0
            return 4 * np.pi * rs**2, 2 * np.pi * rs**3
        sc, seg = self.soma_compartments, self.segment_lengths
        return float((2 * np.pi * r[sc] * seg[sc]).sum()), float((np.pi * r[sc] ** 2 * seg[sc]).sum())

    @property
    def soma_surface(self) -> float:
        """um^2: 4 pi r^2 of a point soma, else the summed cylinder surfaces of the soma compartments."""
        return self._soma_surface_volume[0]

    @property
    def soma_volume(self) -> float:
        """um^3: 2 pi r^3 of a point soma (a cylinder of length 2r), else the summed soma compartment cylinders."""
        return self._soma_surface_volume[1]

    # ---- stems, bifurcations, sections --------------------------------------------------------------------------
    @cached_property
    def stems(self) -> np.ndarray:
        """Neurite samples leaving the soma (parent a soma sample), or neurite roots without a parent."""
        return (self.neurite & self._parent_in(self.soma)) | (self.neurite & ~self.has_parent)

    @cached_property
    def bifurcations(self) -> np.ndarray:
        """Neurite samples with two or more children."""
        return self.neurite & (self.n_children >= 2)

    @cached_property
    def branch_orders(self) -> np.ndarray:
        """Bifurcations strictly above each sample (0 on a stem's first section)."""
        below_bif = np.zeros(self.n)
        below_bif[1:] = self.bifurcations[self.parent[1:]]
        return accumulate_to_root(self.parent, below_bif)

    @cached_property
    def section_start_mask(self) -> np.ndarray:
        """Stems and the neurite children of bifurcations."""
        start = self.stems.copy()
        hp = self.has_parent
        start[hp] |= self.bifurcations[np.maximum(self.parent[hp], 0)] & self.neurite[hp]
        return start & self.neurite

    @cached_property
    def section_starts(self) -> np.ndarray:
        """(s,) the start sample of every section, in row order."""
        return np.flatnonzero(self.section_start_mask)

    @cached_property
    def section_of(self) -> np.ndarray:
        """The start sample of each sample's section (-1 for soma samples)."""
        return nearest_marked_ancestor(self.parent, self.section_start_mask)

    @cached_property
    def section_origins(self) -> np.ndarray:
        """(s,) each section's origin: its start's parent (a bifurcation or soma sample), or the start itself for a
        root section."""
        origin = self.parent[self.section_starts]
        return np.where(origin >= 0, origin, self.section_starts)

    @cached_property
    def end_of_section(self) -> np.ndarray:
        """(n,) for a section's start sample, the sample that ends it (its bifurcation or terminal); -1 elsewhere."""
        ends = self.neurite & (self.n_children != 1)
        end_of = np.full(self.n, -1)
        end_of[self.section_of[ends]] = np.flatnonzero(ends)
        return end_of

    @cached_property
    def section_ends(self) -> np.ndarray:
        """(s,) the end sample of every section (-1 if it has none)."""
        return self.end_of_section[self.section_starts]

    @cached_property
    def daughters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bifurcation rows (b,), first daughter (b,), second daughter (b,))``: the first two neurite children of
        every bifurcation, in row order."""
        b_idx = np.flatnonzero(self.bifurcations)
        kids = np.flatnonzero(self.has_parent & self.neurite)
        kp = self.parent[kids]
        sel = self.bifurcations[kp]
        kids, kp = kids[sel], kp[sel]
        ordk = np.argsort(kp, kind="stable")
        kids, kp = kids[ordk], kp[ordk]
        first = np.searchsorted(kp, b_idx)
        return b_idx, kids[first], kids[first + 1]

    @cached_property
    def subtree_tips(self) -> np.ndarray:
        """(n,) for a section's start sample, the terminal tips in the subtree that the section roots (the section
        and every section below it); 0 elsewhere. Accumulated up the sections, deepest first (a Python loop over
        sections, hundreds per cell, not over samples)."""
        n, parent, sec, starts = self.n, self.parent, self.section_of, self.section_starts
        tips_sec = np.zeros(n)
        np.add.at(tips_sec, sec[self.neurite & (self.n_children == 0)], 1.0)
        par_sec = np.full(n, -1)
        par_sec[starts] = np.where(parent[starts] >= 0, sec[np.maximum(parent[starts], 0)], -1)
        sub = tips_sec.copy()
        for s_ in starts[np.argsort(-self.path_distances[starts])]:  # deepest first
            ps = par_sec[s_]
            if ps >= 0:
                sub[ps] += sub[s_]
        return sub
