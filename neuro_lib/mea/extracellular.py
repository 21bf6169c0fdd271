"""Our EAP simulator: rotate and translate a cell's cached segment geometry in NumPy, build the line-source transfer
matrix for every site of the probe at once, and multiply it with the cached transmembrane currents.

Physics (Holt 1998; Lindén et al. 2014, LFPy): each segment is a line source of current in an infinite homogeneous
medium of conductivity ``sigma`` (0.3 S/m); the distance of a site to a segment's axis is clamped at the segment's
radius (LFPy's ``r_limit = d / 2``). The potential in uV is ``1000 * M @ imem`` with ``M`` in mV/nA, exactly as
``LFPy.RecExtElectrode(..., method="linesource")`` with point contacts, which MEArec uses.

Conventions are MEArec's (``MEArec.simulate_cells``), so that our EAPs agree with its ``gen_templates``:

* a rotation ``(x, y, z)`` in radians turns the cell about its soma as LFPy's ``Cell.set_rotation(x, y, z)``, i.e.
  a point ``p`` goes to ``Rz(z) Ry(y) Rx(x) (p - soma) + position``;
* BBP cells have their apical axis along y, so every regime starts with ``x = pi/2`` (apical axis along z);
  ``zrot``/``xrot`` add the z/x angle, ``3drot`` all three angles, of a uniformly random rotation (Arvo 1992);
* MEAs (a planar insulating probe) double the potential (the method of images, ``image_charge=True``);
* each EAP is shifted so that its most negative sample sits at the cut-out's centre (``center=True``).
"""
from __future__ import annotations

import functools
import json

import numpy as np

from .cells import MEAError

__all__ = ["SIGMA", "REGIMES", "probe_info", "probe_positions", "rotation_matrices", "sample_rotations",
           "sample_positions", "line_source_matrix", "center_eaps", "EAPSimulator"]

SIGMA = 0.3  # S/m, extracellular conductivity (Buccino et al. 2018; MEArec/LFPy default)
REGIMES = ("norot", "zrot", "xrot", "3drot")


@functools.cache
def _probe_list() -> tuple:
    import MEAutility as mu

    return tuple(mu.return_mea_list())


@functools.cache
def _probe_info(name: str) -> str:
    import MEAutility as mu

    return json.dumps(mu.return_mea_info(electrode_name=name))


def probe_info(name: str) -> dict:
    """MEAutility's description of a probe; raises :class:`MEAError` naming the known probes if ``name`` is not one."""
    known = _probe_list()
    if not isinstance(name, str) or name not in known:
        raise MEAError(f"probe {name!r} is not known to MEAutility; known probes: {', '.join(sorted(known))}")
    return json.loads(_probe_info(name))


@functools.cache
def _probe_positions(name: str) -> np.ndarray:
    import contextlib
    import io

    import MEAutility as mu

    with contextlib.redirect_stdout(io.StringIO()):
        return np.asarray(mu.return_mea(name).positions, dtype=float)


def probe_positions(name: str = "SqMEA-10-15") -> np.ndarray:
    """Site centres of probe ``name``, (n_sites, 3) in um (SqMEA-10-15: 10x10 sites, 15 um pitch, in the yz plane)."""
    probe_info(name)
    return _probe_positions(name).copy()


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def rotation_matrices(angles) -> np.ndarray:
    """(..., 3) angles ``(x, y, z)`` in radians -> (..., 3, 3) matrices ``Rz @ Ry @ Rx`` (LFPy's ``xyz`` order)."""
    a = np.asarray(angles, dtype=float)
    if a.shape[-1] != 3:
        raise MEAError(f"rotations must have 3 angles (x, y, z) in the last axis, got shape {a.shape}")
    return _rz(a[..., 2]) @ _ry(a[..., 1]) @ _rx(a[..., 0])


def _arvo(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random rotation matrices (Arvo 1992, as MEArec's ``get_rnd_rot_Arvo``)."""
    gamma = rng.uniform(0, 2 * np.pi, n)
    x = rng.uniform(size=(n, 2))
    v = np.stack([np.cos(2 * np.pi * x[:, 0]) * np.sqrt(x[:, 1]), np.sin(2 * np.pi * x[:, 0]) * np.sqrt(x[:, 1]),
                  np.sqrt(1 - x[:, 1])], -1)
    H = np.eye(3) - 2 * v[:, :, None] * v[:, None, :]
    return -H @ _rz(gamma)


def sample_rotations(regime: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) rotation angles in radians for a regime of Buccino et al. (2018), Fig. 2, in MEArec's convention.

    ``norot``: ``(pi/2, 0, 0)`` (apical dendrite along z, parallel to the probe); ``zrot``: plus a random angle
    about z (the cell spins about its own apical axis); ``xrot``: plus a random angle about x, the axis normal to the
    probe (the cell turns within a plane parallel to the probe); ``3drot``: a uniformly random 3-D rotation. Angles
    are those MEArec extracts from an Arvo random matrix
    (``x = atan2(R21, R22)``, ``y = asin(-R20)``, ``z = atan2(R10, R00)``). Raises :class:`MEAError` for an
    unknown regime.
    """
    if regime not in REGIMES:
        raise MEAError(f"unknown rotation regime {regime!r}; expected one of {', '.join(REGIMES)}")
    out = np.zeros((n, 3))
    out[:, 0] = np.pi / 2
    if regime == "norot":
        return out
    R = _arvo(rng, n)
    ax = np.arctan2(R[:, 2, 1], R[:, 2, 2])
    ay = np.arcsin(np.clip(-R[:, 2, 0], -1, 1))
    az = np.arctan2(R[:, 1, 0], R[:, 0, 0])
    if regime == "xrot":
        out[:, 0] += ax
    elif regime == "zrot":
        out[:, 2] = az
    else:
        out += np.stack([ax, ay, az], -1)
    return out


def sample_positions(n: int, rng: np.random.Generator, xlim=(10.0, 60.0), ylim=(-75.0, 75.0),
                     zlim=(-75.0, 75.0)) -> np.ndarray:
    """(n, 3) soma positions in um, uniform in the box (the paper's: x in [10, 60], y and z in [-75, 75])."""
    check_limits(xlim)
    return np.stack([rng.uniform(*xlim, n), rng.uniform(*ylim, n), rng.uniform(*zlim, n)], -1)


def check_limits(xlim) -> None:
    if xlim[0] <= 0 or xlim[1] < xlim[0]:
        raise MEAError(f"soma x limits {tuple(xlim)} um: somata must lie in front of the probe plane (x > 0) with "
                       "low <= high")


def _line_source_numpy(start, end, r_limit, sites, sigma):
    d = end - start                                                   # (B, S, 3)
    ds = np.sqrt((d * d).sum(-1))                                     # (B, S)
    X = sites[:, 0, None] - end[..., None, :, 0]                      # (B, E, S)
    Y = sites[:, 1, None] - end[..., None, :, 1]
    Z = sites[:, 2, None] - end[..., None, :, 2]
    inv = 1.0 / ds[..., None, :]
    h = (X * d[..., None, :, 0] + Y * d[..., None, :, 1] + Z * d[..., None, :, 2]) * inv
    r2 = np.abs(X * X + Y * Y + Z * Z - h * h)
    r2 = np.maximum(r2, r_limit * r_limit)
    r = np.sqrt(r2)
    l_ = h + ds[..., None, :]
    # Holt's three cases are one expression, asinh(l/r) - asinh(h/r), which arcsinh evaluates stably
    return (np.arcsinh(l_ / r) - np.arcsinh(h / r)) * inv / (4 * np.pi * sigma)


_KERNEL = None


def _use_numba_cache_dir() -> None:
    """Point numba's on-disk kernel cache at :func:`neuro_lib.cache.numba_cache_dir` (under ``NEURO_LIB_CACHE``),
    not the source tree: ``NUMBA_CACHE_DIR`` before numba is imported, or numba's config if something imported it
    first. A ``NUMBA_CACHE_DIR`` the user set is kept."""
    import os
    import sys

    from ..cache import numba_cache_dir

    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    if "numba" in sys.modules:
        config = sys.modules["numba"].config
        if not getattr(config, "CACHE_DIR", ""):
            config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def _numba_kernel():
    """A fused loop over (geometry, site, segment) compiled by numba (a dependency of shap and suite2p); ``None``
    if numba is missing, and the NumPy version is used. The compiled kernel is cached on disk under
    ``NEURO_LIB_CACHE`` (:func:`_use_numba_cache_dir`)."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL or None
    _use_numba_cache_dir()
    try:
        import numba
    except ImportError:  # pragma: no cover
        _KERNEL = False
        return None
    _use_numba_cache_dir()

    @numba.njit(cache=True, nogil=True)
    def kernel(start, end, rlim2, sites, scale, out):
        B, S = start.shape[0], start.shape[1]
        E = sites.shape[0]
        for b in range(B):
            for s in range(S):
                dx = end[b, s, 0] - start[b, s, 0]
                dy = end[b, s, 1] - start[b, s, 1]
                dz = end[b, s, 2] - start[b, s, 2]
                ds = np.sqrt(dx * dx + dy * dy + dz * dz)
                ex, ey, ez = end[b, s, 0], end[b, s, 1], end[b, s, 2]
                f = scale / ds
                for e in range(E):
                    X = sites[e, 0] - ex
                    Y = sites[e, 1] - ey
                    Z = sites[e, 2] - ez
                    h = (X * dx + Y * dy + Z * dz) / ds
                    r2 = abs(X * X + Y * Y + Z * Z - h * h)
                    if r2 < rlim2[s]:
                        r2 = rlim2[s]
                    l_ = h + ds
                    if h < 0:
                        if l_ < 0:   # case i (Holt 1998, Eq. C.13)
                            m = np.log((np.sqrt(h * h + r2) - h) / (np.sqrt(l_ * l_ + r2) - l_))
                        else:        # case ii
                            m = np.log((np.sqrt(h * h + r2) - h) * ((l_ + np.sqrt(l_ * l_ + r2)) / r2))
                    else:            # case iii
                        m = np.log((np.sqrt(l_ * l_ + r2) + l_) / (np.sqrt(h * h + r2) + h))
                    out[b, e, s] = m * f

    _KERNEL = kernel
    return kernel


def line_source_matrix(start: np.ndarray, end: np.ndarray, r_limit: np.ndarray, sites: np.ndarray,
                       sigma: float = SIGMA, *, backend: str = "auto") -> np.ndarray:
    """Line-source transfer matrix, vectorised over geometries, sites and segments.

    ``start``, ``end``: (..., n_segments, 3) segment end points in um; ``r_limit``: (n_segments,) minimum distance
    in um (segment radius); ``sites``: (n_sites, 3) um. Returns (..., n_sites, n_segments) in mV/nA, the same numbers
    as ``lfpykit.lfpcalc.calc_lfp_linesource`` (Holt 1998, Eq. C.13, its three cases) site by site.
    ``backend``: ``"numba"`` (a fused compiled loop), ``"numpy"`` or ``"auto"`` (numba when importable).
    """
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    sites = np.ascontiguousarray(sites, dtype=np.float64)
    r_limit = np.asarray(r_limit, dtype=np.float64)
    kernel = _numba_kernel() if backend in ("auto", "numba") else None
    if backend == "numba" and kernel is None:
        raise ImportError("backend='numba' needs numba")
    if kernel is None:
        return _line_source_numpy(start, end, r_limit, sites, sigma)
    lead = start.shape[:-2]
    st = np.ascontiguousarray(start.reshape(-1, *start.shape[-2:]))
    en = np.ascontiguousarray(end.reshape(-1, *end.shape[-2:]))
    out = np.empty((st.shape[0], sites.shape[0], st.shape[1]))
    kernel(st, en, np.ascontiguousarray(r_limit * r_limit), sites, 1.0 / (4 * np.pi * sigma), out)
    return out.reshape(*lead, sites.shape[0], st.shape[1])


def center_eaps(eaps: np.ndarray, center_index: int) -> np.ndarray:
    """Shift each EAP (n, n_sites, n_samples) so its most negative sample is at ``center_index``, padding with the
    edge values (MEArec's ``center_espike``; shifts of less than one sample are none). Returns a new array."""
    x = np.asarray(eaps)
    squeeze = x.ndim == 2
    x = x[None] if squeeze else x
    T = x.shape[-1]
    diff = np.argmin(x.reshape(len(x), -1), axis=-1) % T - center_index
    out = x.copy()
    for d in np.unique(diff):
        if d == 0:
            continue
        sel = np.flatnonzero(diff == d)
        idx = np.clip(np.arange(T) + d, 0, T - 1)
        out[sel] = x[sel][..., idx]
    return out[0] if squeeze else out


class EAPSimulator:
    """EAPs of one cached cell (:class:`~neuro_lib.mea.intracellular.CellSimulation`) on a probe.

    ``eaps(positions, rotations, spike_index)`` -> (n, n_sites, n_samples) float32 in uV. The geometry is loaded
    once; each call builds one transfer matrix per position (:func:`line_source_matrix`) and multiplies it with the
    currents of the chosen spikes (through their truncated SVD when ``rank_tol`` is set: singular values below
    ``rank_tol`` times the largest are dropped, which changes the EAPs by ~1e-8 relative, far below the 1e-5
    budget; ``rank_tol=None`` multiplies the full currents). Raises :class:`MEAError` for a soma position with
    ``x <= 0`` (in or behind the probe plane), an unknown probe, or a spike index out of range.
    """

    def __init__(self, cell, probe: str = "SqMEA-10-15", *, sigma: float = SIGMA, image_charge: bool | None = None,
                 center: bool = True, rank_tol: float | None = 1e-9, backend: str = "auto"):
        info = probe_info(probe)
        self.cell = cell
        self.probe = probe
        self.sites = probe_positions(probe)
        self.sigma = sigma
        self.image_charge = (info.get("type") == "mea") if image_charge is None else image_charge
        self.center = center
        self.backend = backend
        soma = np.asarray(cell.somapos, float)
        self._start = np.stack([cell.x[:, 0], cell.y[:, 0], cell.z[:, 0]], -1) - soma
        self._end = np.stack([cell.x[:, -1], cell.y[:, -1], cell.z[:, -1]], -1) - soma
        self._rlim = np.asarray(cell.d, float) / 2
        self._imem = np.asarray(cell.imem, dtype=np.float64)
        self.center_index = int(np.argmin(np.abs(np.asarray(cell.t))))
        self.rank_tol = rank_tol
        self._lowrank: dict[int, tuple] = {}

    def _factors(self, k: int):
        """Truncated SVD of spike ``k``'s currents, computed once: ``(U * S, Vt)`` keeping the singular values above
        ``rank_tol`` times the largest, or ``None`` when that saves little."""
        if k not in self._lowrank:
            U, S, Vt = np.linalg.svd(self._imem[k], full_matrices=False)
            r = int(max(1, (S / S[0] > self.rank_tol).sum()))
            self._lowrank[k] = (np.ascontiguousarray(U[:, :r] * S[:r]), np.ascontiguousarray(Vt[:r])) \
                if r < 0.8 * len(S) else None
        return self._lowrank[k]

    def transfer(self, positions, rotations) -> np.ndarray:
        """(n, n_sites, n_segments) transfer matrices in mV/nA for somata at ``positions`` (n, 3) um, rotated by
        ``rotations`` (n, 3) rad."""
        pos = np.atleast_2d(np.asarray(positions, float))
        rot = np.atleast_2d(np.asarray(rotations, float))
        if pos.shape[-1] != 3 or rot.shape != pos.shape:
            raise MEAError(f"positions and rotations must both be (n, 3); got {pos.shape} and {rot.shape}")
        if np.any(pos[:, 0] <= 0):
            bad = pos[pos[:, 0] <= 0][0]
            raise MEAError(f"soma position {bad.tolist()} um is in or behind the probe plane (x <= 0); the MEA lies "
                           "in the plane x = 0 and cells must be in front of it (x > 0)")
        R = rotation_matrices(rot)                            # (n, 3, 3)
        start = self._start @ R.transpose(0, 2, 1) + pos[:, None, :]
        end = self._end @ R.transpose(0, 2, 1) + pos[:, None, :]
        return line_source_matrix(start, end, self._rlim, self.sites, self.sigma, backend=self.backend)

    def eaps(self, positions, rotations, spike_index=0) -> np.ndarray:
        """(n, n_sites, n_samples) EAPs in uV (float32)."""
        M = self.transfer(positions, rotations)
        k = np.broadcast_to(np.asarray(spike_index, int), (M.shape[0],))
        if np.any((k < 0) | (k >= self._imem.shape[0])):
            raise MEAError(f"spike index out of range 0..{self._imem.shape[0] - 1} for {self.cell.name}")
        out = np.empty((M.shape[0], M.shape[1], self._imem.shape[2]))
        for kk in np.unique(k):
            sel = np.flatnonzero(k == kk)
            f = self._factors(int(kk)) if self.rank_tol is not None else None
            out[sel] = M[sel] @ self._imem[kk] if f is None else (M[sel] @ f[0]) @ f[1]
        out *= 2000.0 if self.image_charge else 1000.0
        out = out.astype(np.float32)
        if self.center:
            out = center_eaps(out, self.center_index)
        return out
