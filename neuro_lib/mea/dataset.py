"""The simulated dataset: for each cell model and rotation regime, ``n_per_cell`` kept EAPs turned into features.

Buccino et al. (2018), Section II-B: somata uniformly in x in [10, 60] um (in front of the probe plane x = 0), y and
z in [-75, 75] um; a random spike of the cell; a random rotation of the regime; an EAP is kept only if its
peak-to-peak amplitude exceeds 30 uV on at least one site (the paper's rule; MEArec's own rule looks at the negative
peak and the EAP's shape instead). The kept EAPs become per-site features (:mod:`neuro_lib.mea.features`); the
waveforms themselves are not stored (100 sites x 224 samples x 52,000 EAPs would be ~4.7 GB).

The dataset of a regime is cached with :func:`neuro_lib.cache.cached` (namespace ``mea/datasets``), keyed by every
parameter (cells, counts, seed, probe, limits, threshold, conductivity, image charge, the intracellular settings and
the simulator versions) and by the source of the modules that make it (this one, the extracellular step, the
features and the intracellular step), so a change to any of them makes a new dataset instead of reusing a stale one.
:func:`load_dataset` of a file compares its stored parameters with those asked for and a mismatch raises
:class:`~neuro_lib.mea.cells.MEAError`.

Random numbers: EAP ``j`` of cell ``c`` in regime ``r`` comes from ``numpy.random.default_rng([seed, c, r])`` with
``c``, ``r`` the indices in :data:`CELL_MODELS` and :data:`REGIMES`, so a subset of cells gives the same EAPs for
those cells as the full set.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import cache
from .cells import CELL_MODELS, MEAError, check_cell_names, is_excitatory
from .extracellular import REGIMES, SIGMA, EAPSimulator, check_limits, probe_info, sample_positions, sample_rotations
from .features import FEATURE_NAMES, eap_features
from .intracellular import IntraParams, load_cell, simulate_cells, simulator_versions

__all__ = ["DatasetParams", "MEADataset", "generate_cell_regime", "load_dataset", "build_dataset", "dataset_path"]


@dataclass(frozen=True)
class DatasetParams:
    """Every knob of the extracellular step (defaults: the paper's)."""

    cells: tuple = CELL_MODELS
    regime: str = "norot"
    n_per_cell: int = 1000
    seed: int = 0
    probe: str = "SqMEA-10-15"
    xlim: tuple = (10.0, 60.0)
    ylim: tuple = (-75.0, 75.0)
    zlim: tuple = (-75.0, 75.0)
    min_p2p: float = 30.0          # uV, keep an EAP if some site's peak-to-peak exceeds this
    sigma: float = SIGMA           # S/m
    image_charge: bool = True      # double the potential (planar insulating MEA, method of images)
    max_tries_factor: int = 50     # give up after n_per_cell * this many positions
    intra: IntraParams = IntraParams()

    def validate(self) -> DatasetParams:
        check_cell_names(self.cells)
        if self.regime not in REGIMES:
            raise MEAError(f"unknown rotation regime {self.regime!r}; expected one of {', '.join(REGIMES)}")
        probe_info(self.probe)
        check_limits(self.xlim)
        if self.n_per_cell < 1:
            raise MEAError(f"n_per_cell must be >= 1, got {self.n_per_cell}")
        return self

    def as_json(self) -> dict:
        d = asdict(self)
        d["cells"] = list(self.cells)
        d["intra_key"] = self.intra.key()
        d["versions"] = simulator_versions()
        return json.loads(json.dumps(d))

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class MEADataset:
    """Features of the kept EAPs of one regime.

    ``features``: (n, 4, n_sites) float32 (:data:`~neuro_lib.mea.features.FEATURE_NAMES`: amplitude uV, width ms,
    neg_peak uV, trough_delay ms); ``cell``: (n,) index into ``cells``; ``positions``: (n, 3) um; ``rotations``:
    (n, 3) rad; ``spike_index``: (n,); ``p2p``: (n,) the largest peak-to-peak amplitude over sites (uV).
    ``meta`` holds the number of positions tried per cell and the generation time.
    """

    params: dict
    cells: list
    features: np.ndarray
    cell: np.ndarray
    positions: np.ndarray
    rotations: np.ndarray
    spike_index: np.ndarray
    p2p: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def params_key(self) -> str:
        """The cache key of this dataset's parameters (what the results files record as its 'checksum')."""
        return hashlib.sha256(json.dumps(self.params, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def regime(self) -> str:
        return self.params["regime"]

    @property
    def mtype(self) -> np.ndarray:
        """(n,) m-type names."""
        return np.array([c.split("_")[1] for c in self.cells])[self.cell]

    @property
    def excitatory(self) -> np.ndarray:
        """(n,) 1 for excitatory (pyramidal) cells, 0 for inhibitory."""
        return np.array([is_excitatory(c) for c in self.cells], dtype=np.int64)[self.cell]

    def images(self, channels=(0, 1)) -> np.ndarray:
        """(n, len(channels), 10, 10) feature images (default: the paper's amplitude and width)."""
        side = int(round(np.sqrt(self.features.shape[-1])))
        return self.features[:, list(channels)].reshape(len(self.cell), len(channels), side, side)

    def __len__(self) -> int:
        return len(self.cell)


#: The cache namespace of the datasets and the code they depend on (besides the intracellular runs' own key).
_NAMESPACE = "mea/datasets"
_CODE = ("neuro_lib.mea.dataset", "neuro_lib.mea.extracellular", "neuro_lib.mea.features")


def dataset_path(params: DatasetParams) -> Path:
    """The cache file of the dataset of ``params`` (:func:`neuro_lib.cache.cache_path`; it may not exist)."""
    return cache.cache_path(_NAMESPACE, params.as_json(), kind="npz", name=params.regime, code=_CODE)


def generate_cell_regime(cell_name: str, params: DatasetParams, *, batch: int = 32) -> dict:
    """Simulate EAPs of one cell in ``params.regime`` until ``params.n_per_cell`` are kept (or the tries run out).

    Returns a dict of arrays (features, positions, rotations, spike_index, p2p) and ``tried``.
    """
    cell = load_cell(cell_name, params.intra)
    sim = EAPSimulator(cell, params.probe, sigma=params.sigma, image_charge=params.image_charge)
    dt = float(cell.t[1] - cell.t[0])
    rng = np.random.default_rng([params.seed, CELL_MODELS.index(cell_name), REGIMES.index(params.regime)])
    keep = {k: [] for k in ("features", "positions", "rotations", "spike_index", "p2p")}
    n_kept, tried, max_tries = 0, 0, params.n_per_cell * params.max_tries_factor
    while n_kept < params.n_per_cell and tried < max_tries:
        pos = sample_positions(batch, rng, params.xlim, params.ylim, params.zlim)
        rot = sample_rotations(params.regime, batch, rng)
        spk = rng.integers(0, cell.n_spikes, batch)
        eaps = sim.eaps(pos, rot, spk)
        p2p = (eaps.max(-1) - eaps.min(-1)).max(-1)
        ok = np.flatnonzero(p2p > params.min_p2p)[: params.n_per_cell - n_kept]
        tried += batch if len(ok) + n_kept < params.n_per_cell else (int(ok[-1]) + 1 if len(ok) else batch)
        if len(ok):
            keep["features"].append(eap_features(eaps[ok], dt))
            keep["positions"].append(pos[ok])
            keep["rotations"].append(rot[ok])
            keep["spike_index"].append(spk[ok])
            keep["p2p"].append(p2p[ok])
            n_kept += len(ok)
    out = {k: (np.concatenate(v) if v else np.zeros((0,))) for k, v in keep.items()}
    out["tried"] = tried
    return out


def _to_arrays(ds: MEADataset) -> dict:
    return dict(features=ds.features, cell=ds.cell, positions=ds.positions, rotations=ds.rotations,
                spike_index=ds.spike_index, p2p=ds.p2p, params=np.array(json.dumps(ds.params, sort_keys=True)),
                cells=np.array(ds.cells), meta=np.array(json.dumps(ds.meta)))


def _from_arrays(f) -> MEADataset:
    return MEADataset(params=json.loads(str(f["params"])), cells=[str(c) for c in f["cells"]],
                      features=f["features"], cell=f["cell"], positions=f["positions"], rotations=f["rotations"],
                      spike_index=f["spike_index"], p2p=f["p2p"], meta=json.loads(str(f["meta"])))


def load_dataset(path: str | os.PathLike, params: DatasetParams | None = None) -> MEADataset:
    """Load a dataset file (as cached by :func:`build_dataset`); if ``params`` is given, raise :class:`MEAError`
    naming the differing parameters when the file was made with others (a stale or foreign file)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        ds = _from_arrays({k: f[k] for k in f.files})
    if params is not None:
        want, stored = params.as_json(), ds.params
        diff = sorted(k for k in set(want) | set(stored) if want.get(k) != stored.get(k))
        if diff:
            raise MEAError(f"dataset file {path} was made with different parameters ({', '.join(diff)}: "
                           f"stored {[stored.get(k) for k in diff]}, asked {[want.get(k) for k in diff]}); "
                           "delete it or ask for its parameters")
    return ds


def _simulate(params: DatasetParams, n_jobs: int, progress: bool) -> MEADataset:
    import time

    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    simulate_cells(params.cells, params.intra, n_jobs=max(2, n_jobs), progress=progress)
    t0 = time.time()
    cells = list(params.cells)
    jobs = (delayed(generate_cell_regime)(c, params) for c in cells)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    parts = list(tqdm(runner(jobs), total=len(cells), desc=f"EAPs ({params.regime})", disable=not progress))
    short = {c: int(len(p["p2p"])) for c, p in zip(cells, parts) if len(p["p2p"]) < params.n_per_cell}
    if short:
        warnings.warn(f"{params.regime}: fewer than {params.n_per_cell} EAPs over {params.min_p2p} uV for {short}",
                      stacklevel=2)
    return MEADataset(
        params=params.as_json(), cells=cells,
        features=np.concatenate([p["features"].reshape(-1, len(FEATURE_NAMES), 100) for p in parts]),
        cell=np.concatenate([np.full(len(p["p2p"]), i) for i, p in enumerate(parts)]).astype(np.int64),
        positions=np.concatenate([p["positions"].reshape(-1, 3) for p in parts]),
        rotations=np.concatenate([p["rotations"].reshape(-1, 3) for p in parts]),
        spike_index=np.concatenate([p["spike_index"].reshape(-1) for p in parts]).astype(np.int64),
        p2p=np.concatenate([p["p2p"].reshape(-1) for p in parts]).astype(np.float32),
        meta={"tried": {c: int(p["tried"]) for c, p in zip(cells, parts)}, "short": short,
              "seconds": time.time() - t0},
    )


def build_dataset(params: DatasetParams = DatasetParams(), *, n_jobs: int = 1, progress: bool = True,
                  use_cache: bool = True) -> MEADataset:
    """The dataset of ``params.regime`` for ``params.cells``: from the cache if there, else simulated (intracellular
    runs first, then the EAPs cell by cell with a progress bar) and cached (:func:`neuro_lib.cache.cached`).

    A cell for which fewer than ``n_per_cell`` EAPs pass the threshold within the allowed tries is kept with what
    it has, with a warning and the count in ``meta["short"]``. Raises :class:`MEAError` for invalid parameters.
    """
    params.validate()
    if not use_cache:
        return _simulate(params, n_jobs, progress)
    arrays = cache.cached(_NAMESPACE, params.as_json(), lambda: _to_arrays(_simulate(params, n_jobs, progress)),
                          kind="npz", name=params.regime, code=_CODE)
    return _from_arrays(arrays)


def noisy_features(ds: MEADataset, noise_uv, *, n_per_cell: int | None = None, seed: int = 0,
                   progress: bool = True) -> tuple[np.ndarray, dict]:
    """Recompute the EAPs of (a per-cell subset of) ``ds`` exactly (its stored positions, rotations and spikes),
    add white Gaussian noise of each rms level in ``noise_uv`` (uV) to every sample, and extract the features.

    Returns ``(index into ds, {level: (n, 4, n_sites) features})``. The keep rule (30 uV) is the clean EAP's, so
    the same spikes are compared at every noise level.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng([seed, 7])
    idx = []
    for c in range(len(ds.cells)):
        sel = np.flatnonzero(ds.cell == c)
        idx.append(sel if n_per_cell is None else sel[:n_per_cell])
    idx = np.concatenate(idx)
    intra = IntraParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in ds.params["intra"].items()})
    out = {lvl: np.empty((len(idx), len(FEATURE_NAMES), ds.features.shape[-1]), np.float32) for lvl in noise_uv}
    for c, name in enumerate(tqdm(ds.cells, desc="noisy EAPs", disable=not progress)):
        rows = np.flatnonzero(ds.cell[idx] == c)
        if not len(rows):
            continue
        cell = load_cell(name, intra)
        sim = EAPSimulator(cell, ds.params["probe"], sigma=ds.params["sigma"], image_charge=ds.params["image_charge"])
        dt = float(cell.t[1] - cell.t[0])
        for start in range(0, len(rows), 64):
            r = rows[start:start + 64]
            j = idx[r]
            e = sim.eaps(ds.positions[j], ds.rotations[j], ds.spike_index[j])
            for lvl in noise_uv:
                out[lvl][r] = eap_features(e + rng.normal(0, lvl, e.shape).astype(np.float32), dt)
    return idx, out
