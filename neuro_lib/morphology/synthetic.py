"""Virtual neurons for the paper's synthetic 2-class set (basket against pyramidal, 500 each; Zhang et al. 2021 made
theirs with the Trees toolbox), grown with the minimum-spanning-tree rule of Cuntz, Forstner, Borst & Haeusser
(2010, PLoS Comput Biol 6:e1000877).

*The rule.* Carrier points are scattered in the volume a neurite should fill. Starting from the root, the tree
grows greedily, Prim-style: at each step the unconnected point ``p`` and tree node ``t`` with the least cost

    cost(p, t) = |p - t| + bf * (PL(t) + |p - t|)

are joined, where ``PL(t)`` is the path length from the root to ``t`` and ``bf`` the *balancing factor* (0: shortest
total wiring, a minimum spanning tree; larger: shorter paths to the root, more stems). This is the Trees toolbox's
``MST_tree`` cost. Edges are then cut into ``step``-um segments and radii taper with path distance.

*The classes* (shapes from the textbook picture; parameters drawn per cell):

- ``pyramidal``: basal dendrites (type 3) from a sphere around the soma, an apical dendrite (type 4) from points on
  a vertical line up to 400-800 um ending in a tuft, a descending axon (type 2) with a few collaterals;
- ``basket``: short multipolar dendrites (type 3) in a small sphere and a dense, wide axonal arbour (type 2) around
  the soma.
"""
from __future__ import annotations

import numpy as np

from .io import SWC

__all__ = ["mst_tree", "grow", "pyramidal_cell", "basket_cell", "virtual_dataset", "virtual_dataset_cached", "CLASSES"]

CLASSES = ("basket", "pyramidal")


def mst_tree(points: np.ndarray, root: np.ndarray, bf: float = 0.5, max_dist: float | None = None) -> np.ndarray:
    """Connect ``points`` (m, 3) um to ``root`` (3,) with the MST growth rule; return the parent of each point as an
    index into ``[root, *points]`` (0 = root). Points farther than ``max_dist`` from every tree node when nothing
    closer is left stay unconnected (parent -1). O(m^2), vectorised over points.
    """
    pts = np.vstack([root[None, :], np.asarray(points, float)])
    m = len(pts)
    parent = np.full(m, -1)
    in_tree = np.zeros(m, bool)
    in_tree[0] = True
    pl = np.zeros(m)
    d = np.linalg.norm(pts - pts[0], axis=1)
    best = d + bf * d
    best_par = np.zeros(m, int)
    best[0] = np.inf
    if max_dist is not None:
        best[d > max_dist] = np.inf
    for _ in range(m - 1):
        cand = np.where(in_tree, np.inf, best)
        q = int(np.argmin(cand))
        if not np.isfinite(cand[q]):
            break
        in_tree[q] = True
        parent[q] = best_par[q]
        pl[q] = pl[parent[q]] + np.linalg.norm(pts[q] - pts[parent[q]])
        dq = np.linalg.norm(pts - pts[q], axis=1)
        c = dq + bf * (pl[q] + dq)
        if max_dist is not None:
            c[dq > max_dist] = np.inf
        better = (c < best) & ~in_tree
        best[better] = c[better]
        best_par[better] = q
    return parent


def grow(points: np.ndarray, root: np.ndarray, bf: float, swc_type: int, r_root: float, step: float = 5.0,
         max_dist: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An MST tree over ``points`` as samples: returns (xyz (k,3), parent (k,) with -1 meaning "the root", radius).

    Each edge is cut into pieces of at most ``step`` um; radius tapers linearly from ``r_root`` to 0.3 r_root with
    path distance.
    """
    par = mst_tree(points, root, bf, max_dist)
    pts = np.vstack([root[None, :], points])
    order = [0]
    kids: dict[int, list[int]] = {}
    for i, p in enumerate(par):
        if p >= 0:
            kids.setdefault(int(p), []).append(i)
    stack = [0]
    order = []
    while stack:  # parent-first order
        i = stack.pop()
        order.append(i)
        stack.extend(kids.get(i, []))
    xyz, parent, pl = [], [], []
    node_row = {0: -1}
    plen = {0: 0.0}
    for i in order[1:]:
        p = int(par[i])
        a, b = pts[p], pts[i]
        L = float(np.linalg.norm(b - a))
        k = max(1, int(np.ceil(L / step)))
        prev = node_row[p]
        for j in range(1, k + 1):
            xyz.append(a + (b - a) * j / k)
            parent.append(prev)
            pl.append(plen[p] + L * j / k)
            prev = len(xyz) - 1
        node_row[i] = prev
        plen[i] = plen[p] + L
    xyz = np.asarray(xyz).reshape(-1, 3)
    pl = np.asarray(pl)
    rad = r_root * (1 - 0.7 * pl / max(pl.max(initial=0.0), 1e-9))
    return xyz, np.asarray(parent, int), rad


def _assemble(soma_r: float, trees: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]) -> SWC:
    """Soma at the origin (one sample) plus trees whose parent -1 means "attached to the soma"."""
    xyz, parent, rad, typ = [np.zeros((1, 3))], [np.array([-1])], [np.array([soma_r])], [np.array([1])]
    n = 1
    for t_xyz, t_par, t_rad, t_type in trees:
        xyz.append(t_xyz)
        parent.append(np.where(t_par >= 0, t_par + n, 0))
        rad.append(t_rad)
        typ.append(np.full(len(t_xyz), t_type))
        n += len(t_xyz)
    xyz = np.vstack(xyz)
    return SWC(ids=np.arange(1, n + 1), types=np.concatenate(typ).astype(np.int64), xyz=xyz,
               radius=np.concatenate(rad), parent=np.concatenate(parent).astype(np.int64), metadata={})


def _ball(rng, n, radius, center=(0, 0, 0), squash=(1, 1, 1)):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = radius * rng.uniform(0, 1, n) ** (1 / 3)
    return np.asarray(center) + v * r[:, None] * np.asarray(squash)


def pyramidal_cell(rng: np.random.Generator) -> SWC:
    """One virtual pyramidal cell (y is the pia direction); see the module docstring."""
    soma = np.zeros(3)
    basal = _ball(rng, int(rng.integers(40, 80)), rng.uniform(120, 200), (0, -20, 0), (1, 0.8, 1))
    H = rng.uniform(400, 800)
    ys = np.sort(rng.uniform(20, H, int(rng.integers(10, 20))))
    trunk = np.column_stack([rng.normal(0, 10, len(ys)), ys, rng.normal(0, 10, len(ys))])
    tuft = _ball(rng, int(rng.integers(20, 45)), rng.uniform(100, 200), (0, H, 0), (1, 0.5, 1))
    apical = np.vstack([trunk, tuft])
    ya = np.sort(rng.uniform(20, rng.uniform(300, 600), int(rng.integers(10, 20))))
    axon_main = np.column_stack([rng.normal(0, 8, len(ya)), -ya, rng.normal(0, 8, len(ya))])
    coll = _ball(rng, int(rng.integers(8, 20)), 150, (0, -ya.max() / 2, 0), (1, 0.5, 1))
    trees = [grow(basal, soma, rng.uniform(0.3, 0.6), 3, 1.0) + (3,),
             grow(apical, soma + [0, 10, 0], rng.uniform(0.6, 0.9), 4, 2.0) + (4,),
             grow(np.vstack([axon_main, coll]), soma - [0, 10, 0], rng.uniform(0.5, 0.8), 2, 0.5) + (2,)]
    out = _assemble(rng.uniform(7, 11), trees)
    out.metadata["virtual_class"] = "pyramidal"
    return out


def basket_cell(rng: np.random.Generator) -> SWC:
    """One virtual basket cell; see the module docstring."""
    soma = np.zeros(3)
    dend = _ball(rng, int(rng.integers(25, 50)), rng.uniform(90, 150))
    axon = _ball(rng, int(rng.integers(150, 300)), rng.uniform(200, 350), (0, rng.uniform(-50, 50), 0))
    trees = [grow(dend, soma, rng.uniform(0.2, 0.5), 3, 0.8),
             grow(axon, soma + [0, -8, 0], rng.uniform(0.1, 0.3), 2, 0.4)]
    trees = [(x, p, r, t) for (x, p, r), t in zip(trees, (3, 2))]
    out = _assemble(rng.uniform(5, 8), trees)
    out.metadata["virtual_class"] = "basket"
    return out


def virtual_dataset(n_per_class: int = 500, seed: int = 0) -> tuple[list[SWC], np.ndarray]:
    """``n_per_class`` virtual basket and pyramidal cells (random 3-D orientation about the y axis), with labels.

    Returns (cells, labels) with labels the strings of :data:`CLASSES`, interleaved basket/pyramidal. Seeded.
    """
    rng = np.random.default_rng(seed)
    cells, labels = [], []
    for _ in range(n_per_class):
        for name, fn in (("basket", basket_cell), ("pyramidal", pyramidal_cell)):
            c = fn(rng)
            a = rng.uniform(0, 2 * np.pi)  # rotate about the vertical (y) axis
            R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
            c.xyz = c.xyz @ R.T
            cells.append(c)
            labels.append(name)
    return cells, np.asarray(labels)


def virtual_dataset_cached(n_per_class: int = 500, seed: int = 0) -> tuple[list[SWC], np.ndarray]:
    """:func:`virtual_dataset`, kept in :func:`neuro_lib.cache.cached` (npz: the cells' arrays concatenated, with
    offsets), keyed by ``n_per_class``, ``seed`` and the source of this module, so that notebooks share one set."""
    from .. import cache

    def compute():
        cells, labels = virtual_dataset(n_per_class, seed)
        cat = {k: np.concatenate([getattr(c, k) for c in cells]) for k in ("ids", "types", "xyz", "radius", "parent")}
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in cells])]).astype(np.int64)
        return {**cat, "offsets": offsets, "labels": labels.astype(str)}

    d = cache.cached("morphology/virtual", {"n_per_class": int(n_per_class), "seed": int(seed)}, compute,
                     name="virtual", code=("neuro_lib.morphology.io",))
    off, labels = d["offsets"], d["labels"]
    cells = [SWC(ids=d["ids"][a:b], types=d["types"][a:b], xyz=d["xyz"][a:b], radius=d["radius"][a:b],
                 parent=d["parent"][a:b], metadata={"virtual_class": str(lab)})
             for a, b, lab in zip(off[:-1], off[1:], labels)]
    return cells, labels
