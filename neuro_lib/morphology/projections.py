"""Three axis projections of a reconstruction as one 3-channel image, and image augmentation (Zhang et al. 2021,
Methods: "the 3D neuron is projected onto the XY, XZ and YZ planes ... the three 2D images form the three channels").

:func:`project` draws every segment of the tree into the three planes with anti-aliased, radius-aware lines: a
segment is sampled every half pixel, each sample deposits a disc of radius ``max(r_px, 0.5)`` pixels whose intensity
is ``min(1, 2 r / pixel size)`` for thin neurites (thinner than a pixel: fainter), 1 otherwise. The soma is a filled
disc. All three planes share one scale, centred on the soma and fitted to the cell (``fit="cell"``) or fixed in
micrometres per pixel (``um_per_px``), so that size information can be kept when wanted.
"""
from __future__ import annotations

import numpy as np

from .io import SWC

__all__ = ["project", "project_many", "project_files", "augment_images", "plot_projections", "example_grid", "PLANES"]

#: (channel, horizontal axis, vertical axis) of each projection
PLANES = (("XY", 0, 1), ("XZ", 0, 2), ("YZ", 1, 2))


def _splat(img: np.ndarray, u: np.ndarray, v: np.ndarray, val: np.ndarray, rad: np.ndarray) -> None:
    """Max-composite discs of radius ``rad`` px and value ``val`` at pixel coords (u, v) into ``img`` (H, W)."""
    size = img.shape[0]
    thin = rad <= 0.75
    iu, iv = np.rint(u[thin]).astype(int), np.rint(v[thin]).astype(int)
    ok = (iu >= 0) & (iu < size) & (iv >= 0) & (iv < size)
    np.maximum.at(img, (iv[ok], iu[ok]), val[thin][ok])
    if (~thin).any():
        for uu, vv, rr, vl in zip(u[~thin], v[~thin], rad[~thin], val[~thin]):
            R = int(np.ceil(rr))
            y0, y1 = max(0, int(vv) - R), min(size, int(vv) + R + 2)
            x0, x1 = max(0, int(uu) - R), min(size, int(uu) + R + 2)
            if y0 >= y1 or x0 >= x1:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            disc = (yy - vv) ** 2 + (xx - uu) ** 2 <= rr * rr
            sub = img[y0:y1, x0:x1]
            np.maximum(sub, np.where(disc, vl, 0.0), out=sub)


def project(swc: SWC, size: int = 64, *, um_per_px: float | None = None, margin: float = 0.05,
            line_scale: float = 1.0) -> np.ndarray:
    """Render ``swc`` as a float32 array (3, size, size) in [0, 1]: channels XY, XZ, YZ (:data:`PLANES`).

    Parameters
    ----------
    size : image side in pixels (224 for the paper's ResNet input; 64-96 on a CPU).
    um_per_px : fixed scale; ``None`` fits the cell: the largest distance of any sample from the soma along any
        axis maps to ``(1 - margin) * size / 2`` pixels.
    line_scale : multiplies the drawn radius (thicker lines for small images).

    The image row index grows with the second axis of the plane (y for XY, z for XZ and YZ); the soma (root) sits
    in the centre. Raises ``ValueError`` for ``size < 8``.
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    xyz = swc.xyz - swc.xyz[0]
    if um_per_px is None:
        extent = float(np.abs(xyz).max()) if len(xyz) > 1 else 1.0
        um_per_px = max(extent, 1e-6) / ((1 - margin) * size / 2)
    scale = 1.0 / um_per_px
    c = (size - 1) / 2.0
    child = np.flatnonzero(swc.parent >= 0)
    par = swc.parent[child]
    keep = swc.types[child] != 1  # soma-soma segments are covered by the soma disc
    child, par = child[keep], par[keep]
    p0, p1 = xyz[par] * scale + c, xyz[child] * scale + c
    r_px = swc.radius[child] * scale * line_scale
    seg_px = np.linalg.norm(p1 - p0, axis=1)
    nsamp = np.maximum(1, np.ceil(seg_px * 2).astype(int))  # a sample every half pixel (3-D length bounds 2-D)
    rep = np.repeat(np.arange(len(child)), nsamp)
    offs = np.arange(rep.size) - np.repeat(np.cumsum(nsamp) - nsamp, nsamp)
    t = ((offs + 1) / np.repeat(nsamp, nsamp))[:, None]
    pts = p0[rep] * (1 - t) + p1[rep] * t
    rad = np.maximum(r_px[rep], 0.5)
    val = np.clip(2 * r_px[rep], 0.25, 1.0)
    soma = np.flatnonzero(swc.types == 1)
    img = np.zeros((3, size, size), dtype=np.float64)
    for ch, (_, a, b) in enumerate(PLANES):
        _splat(img[ch], pts[:, a], pts[:, b], val, rad)
        if len(soma):
            sp = xyz[soma] * scale + c
            _splat(img[ch], sp[:, a], sp[:, b], np.ones(len(soma)),
                   np.maximum(swc.radius[soma] * scale * line_scale, 1.0))
    return img.astype(np.float32)


def project_many(swcs, size: int = 64, *, n_jobs: int = 1, **kwargs) -> np.ndarray:
    """(n, 3, size, size) float32 projections of an iterable of :class:`SWC` (joblib with ``n_jobs`` workers)."""
    swcs = list(swcs)
    if n_jobs == 1:
        return np.stack([project(s, size, **kwargs) for s in swcs]) if swcs else np.zeros((0, 3, size, size),
                                                                                          np.float32)
    from joblib import Parallel, delayed

    return np.stack(Parallel(n_jobs=n_jobs)(delayed(project)(s, size, **kwargs) for s in swcs))


def _project_paths(paths: list[str], size: int) -> np.ndarray:
    from .io import load_swc

    return np.stack([project(load_swc(p), size) for p in paths])


def project_files(paths, size: int = 64, *, n_jobs: int = 2, cache: bool = True) -> np.ndarray:
    """(len(paths), 3, size, size) float32 projections (:func:`project`) of SWC files, each read with
    :func:`~neuro_lib.morphology.io.load_swc` (which raises :class:`~neuro_lib.morphology.io.SWCError` for a
    malformed file); ``n_jobs`` joblib workers over chunks of 50 files. With ``cache`` the images are kept in
    :func:`neuro_lib.cache.cached` (npz), keyed by the files (:func:`~neuro_lib.morphology.io.file_key`), ``size``
    and the source of this module and the reader."""
    from .. import cache as _cache
    from .io import file_key

    paths = [str(p) for p in paths]

    def compute():
        from .batch import map_chunks

        parts = map_chunks(_project_paths, paths, size, n_jobs=n_jobs)
        return np.concatenate(parts) if parts else np.zeros((0, 3, size, size), np.float32)

    if not cache:
        return compute()
    return _cache.cached("morphology/projections", {"files": file_key(paths), "size": int(size)}, compute,
                         name=f"proj{size}", code=("neuro_lib.morphology.io",))


def augment_images(x, *, degrees: float = 180.0, translate: float = 0.1, scale: tuple[float, float] = (0.8, 1.2),
                   generator=None):
    """Random rotation, zoom and translation of a batch of projection images (torch tensor (B, 3, H, W)), one draw
    per image, the same affine map for its three channels (Zhang et al. 2021: "rotation, scaling and translation").

    ``degrees``: rotation uniform in +-degrees; ``translate``: shift up to this fraction of the side; ``scale``:
    zoom range. Uses ``torch.nn.functional.affine_grid``/``grid_sample`` (bilinear, zeros outside).
    ``generator`` (``torch.Generator``) makes the draw reproducible.
    """
    import torch
    import torch.nn.functional as F

    B = x.shape[0]
    dev = x.device
    g = generator
    ang = (torch.rand(B, generator=g) * 2 - 1) * np.deg2rad(degrees)
    zoom = torch.empty(B).uniform_(scale[0], scale[1], generator=g)
    tr = (torch.rand(B, 2, generator=g) * 2 - 1) * translate * 2  # grid units span 2 per side
    cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tr[:, 0]], 1), torch.stack([sin, cos, tr[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(dev, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def plot_projections(img: np.ndarray, axes, *, title: str | None = None, cmap: str = "gray_r") -> None:
    """Draw the three channels of one projection image (3, S, S) on three matplotlib axes, labelled XY/XZ/YZ."""
    for ax, ch, (name, a, b) in zip(axes, img, PLANES):
        ax.imshow(ch, cmap=cmap, origin="lower", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("xyz"[a] + " (scaled um)", fontsize=7)
        ax.set_ylabel("xyz"[b] + " (scaled um)", fontsize=7)
        ax.set_title(name if title is None else f"{title}: {name}", fontsize=8)


def example_grid(images: np.ndarray, labels, *, per_class: int = 1, seed: int = 0, max_classes: int = 12):
    """A figure with ``per_class`` example cells of each class (rows) in their three projections (columns).

    ``images`` (n, 3, S, S), ``labels`` (n,). Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))[:max_classes]
    rows = [(c, i) for c in classes for i in rng.permutation(np.flatnonzero(labels == c))[:per_class]]
    fig, axes = plt.subplots(len(rows), 3, figsize=(6.0, 2.0 * len(rows)), squeeze=False)
    for (c, i), ax_row in zip(rows, axes):
        plot_projections(images[i], ax_row, title=str(c))
    fig.tight_layout()
    return fig
