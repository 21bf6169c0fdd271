"""TMD persistence images of the cells (Kanari et al. 2018), the topological peer of the across-labs page.

The Topological Morphology Descriptor (TMD) turns each neurite into a persistence diagram: every branch is a bar
from the radial distance at which it starts to the one at which it ends, merged bottom-up at each bifurcation
(the "elder rule"; Kanari et al. 2018, Neuroinformatics 16:3, Algorithm 1). The diagrams of a cell's neurites are
pooled and smoothed into a persistence image (a Gaussian kernel density on a fixed grid). The library ``tmd``
(BlueBrain/TMD 2.4.3) computes both: :func:`neurite_trees` hands it our validated SWC arrays (one
``tmd.Tree.Tree`` per neurite, so TMD does not re-read the file) and :func:`persistence_images` calls
``tmd.Topology.methods.get_persistence_diagram`` (filtration: radial distance from the neurite's root, um) and
``tmd.Topology.vectorizations.persistence_image_data`` on one fixed grid for every cell.

Two regimes, as for the hand features: ``"typing-aware"`` images per SWC type (axon, basal, apical; an empty type
gives a zero image) side by side, and ``"typing-free"``: the axon removed and every dendrite pooled
(:func:`~neuro_lib.morphology.typing_free.strip_axon`). Radial distances do not change under a rotation or a flip
of the cell, so both regimes are orientation-free; only the typing-aware one reads type codes and the axon.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .io import SWC, SWCError, load_swc
from .typing_free import _stem_of, strip_axon

__all__ = ["TYPES", "neurite_trees", "diagram", "image", "cell_images", "persistence_images"]

#: the SWC type codes of the typing-aware images, in order
TYPES = {"axon": 2, "basal": 3, "apical": 4}


def neurite_trees(swc: SWC, types: Sequence[int] | None = None) -> list:
    """One ``tmd.Tree.Tree`` per neurite (stem subtree) of ``swc`` whose stem type is in ``types`` (None: all
    non-soma types). Coordinates in um, diameters 2r; parents re-indexed within each tree (root -1). Neurites of a
    single sample are left out (no branch: TMD has no diagram for them)."""
    from tmd.Tree.Tree import Tree

    stem_of = _stem_of(swc)
    out = []
    for stem in np.unique(stem_of[stem_of >= 0]):
        if types is not None and swc.types[stem] not in types:
            continue
        idx = np.flatnonzero(stem_of == stem)  # parent-before-child order is kept
        if len(idx) < 2:  # a one-sample neurite has no branch, and tmd cannot build a tree of it
            continue
        local = np.full(len(swc), -1)
        local[idx] = np.arange(len(idx))
        p = local[np.maximum(swc.parent[idx], 0)]
        p[idx == stem] = -1
        xyz = swc.xyz[idx]
        out.append(Tree(xyz[:, 0], xyz[:, 1], xyz[:, 2], 2 * swc.radius[idx], swc.types[idx], p))
    return out


def diagram(trees: list, *, failed: list | None = None) -> np.ndarray:
    """(k, 2) the pooled TMD persistence diagram (radial distances, um) of ``trees`` (empty: shape (0, 2)).

    ``tmd`` 2.4.3 raises ``KeyError`` on some trees with a multifurcation (a sample with three or more children;
    its own reader fails on the same files); such a neurite is left out of the diagram and, when ``failed`` (a
    list) is given, counted by appending 1 to it."""
    from tmd.Topology.methods import get_persistence_diagram

    bars = []
    for t in trees:
        try:
            bars += list(get_persistence_diagram(t, feature="radial_distances"))
        except (KeyError, IndexError):
            if failed is not None:
                failed.append(1)
    return np.asarray(bars, float).reshape(-1, 2)


def image(ph: np.ndarray, limit: float, resolution: int) -> np.ndarray:
    """(resolution, resolution) persistence image of diagram ``ph`` on the square [0, limit] um (TMD's
    ``persistence_image_data``: a Gaussian KDE, Scott's bandwidth, scaled to a maximum of 1). A diagram with fewer
    than 3 bars or a degenerate one (all bars on a line) gives zeros."""
    from tmd.Topology.vectorizations import persistence_image_data

    if len(ph) < 3:
        return np.zeros((resolution, resolution))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = persistence_image_data(ph, xlim=(0, limit), ylim=(0, limit), resolution=resolution)
    except (np.linalg.LinAlgError, ValueError):
        return np.zeros((resolution, resolution))
    return np.nan_to_num(z)


def cell_images(swc: SWC, *, limit: float = 1500.0, resolution: int = 16) -> dict[str, np.ndarray]:
    """``{"typing-aware": (3 * R * R,), "typing-free": (R * R,), "failed": n}`` flattened persistence images of one
    cell (:data:`TYPES` order for the typing-aware one; R = ``resolution`` pixels a side on [0, ``limit``] um) and
    the number of neurites ``tmd`` could not make a diagram of (:func:`diagram`; the typing-free pass counted)."""
    aware = [image(diagram(neurite_trees(swc, [code])), limit, resolution).ravel() for code in TYPES.values()]
    failed: list = []
    free = image(diagram(neurite_trees(strip_axon(swc)), failed=failed), limit, resolution).ravel()
    return {"typing-aware": np.concatenate(aware), "typing-free": free, "failed": len(failed)}


def _chunk(paths, limit, resolution):
    size = resolution * resolution
    out = []
    for p in paths:
        try:
            d = cell_images(load_swc(p), limit=limit, resolution=resolution)
            out.append(np.concatenate([d["typing-aware"], d["typing-free"], [d["failed"]]]))
        except SWCError:
            out.append(np.full(4 * size + 1, np.nan))
    return out


def persistence_images(paths: Sequence, *, limit: float = 1500.0, resolution: int = 16, n_jobs: int = 2,
                       progress: bool = False) -> dict[str, np.ndarray]:
    """:func:`cell_images` of every file of ``paths``: ``{"typing-aware": (n, 3 R^2), "typing-free": (n, R^2),
    "failed": (n,)}`` (the neurites left out of each cell's diagram; NaN rows for malformed files), cached
    (:func:`neuro_lib.cache.cached`, npz) keyed by the files, ``limit``, ``resolution``, the source of this module
    and of the reader, and the ``tmd`` version. ``n_jobs`` joblib workers; ``progress`` a tqdm bar."""
    from .. import cache
    from .io import file_key

    paths = [str(p) for p in paths]

    def compute():
        from .batch import map_chunks

        parts = map_chunks(_chunk, paths, limit, resolution, n_jobs=n_jobs, desc="persistence images",
                           progress=progress)
        size = resolution ** 2
        rows = np.array([r for part in parts for r in part], float).reshape(len(paths), 4 * size + 1)
        return {"typing-aware": rows[:, :3 * size], "typing-free": rows[:, 3 * size:4 * size],
                "failed": rows[:, -1]}

    return cache.cached("morphology/persistence", {"files": file_key(paths), "limit": limit,
                                                   "resolution": resolution}, compute, name="images",
                        code=("neuro_lib.morphology.io", "neuro_lib.morphology.typing_free"), packages=("tmd",))
