"""Intracellular step: one NEURON run per cell model, transmembrane currents of its spikes cached to disk.

Following Buccino et al. (2018), Section II-B: a constant current is injected in the soma so that the cell fires
about ten spikes in 1.2 s; every spike is cut from -2 ms to +5 ms around the peak of the somatic membrane
potential, and the transmembrane currents of all segments over that window are kept. The first spike is dropped
(as MEArec does: it follows the current onset). The cell is built by MEArec's own loader
(``MEArec.simulate_cells.return_bbp_cell``: LFPy ``TemplateCell``, ``pt3d=True``, ``v_init=-70 mV``) and the current
by its ``set_input`` (an ``IClamp`` in the soma), so the currents are those MEArec would compute.

The current is found by a short search (``IntraParams.search``):

* ``"book"`` (the default, the paper's "about ten spikes"): start from the first step amplitude of the model's
  ``current_amps.dat`` (the BBP's 150%-of-threshold step) and scale it (x1.4, then bisection) until the spike count
  in ``sim_time`` = 1.2 s falls in ``target_spikes`` = 8-14 (inclusive);
* ``"mearec"`` (:meth:`IntraParams.mearec`, MEArec 1.11's ``run_cell_model`` with its default template parameters):
  start from ``weights[0]`` = 0.25 nA and multiply by ``weights[0]`` when the count reaches ``target_spikes[1]`` or
  by ``weights[1]`` = 1.75 when it is at most ``target_spikes[0]``, until ``3 < spikes <= 50`` in 1 s, counting
  spikes only where a whole cut-out fits (at most 10 runs). This reproduces MEArec's currents exactly, so our whole
  pipeline can be checked against ``MEArec.gen_templates`` (``bench/mea_simulation.py --end-to-end``). It gives
  other currents than the book's (e.g. MEArec's 0.25 nA for most cells, a few spikes), hence other EAPs.

Each cell runs in a fresh process (NEURON keeps global state), and its result goes through
:func:`neuro_lib.cache.cached` (namespace ``mea/intracellular``, keyed by the cell, :class:`IntraParams`, the
MEArec/LFPy/NEURON versions and the source of this module) as an npz with

* ``imem``: (n_spikes, n_segments, n_samples) float32, transmembrane currents in nA;
* ``vmem``: (n_spikes, n_samples) somatic membrane potential in mV; ``t``: (n_samples,) ms, 0 at the peak;
* ``x``, ``y``, ``z``: (n_segments, 2) start/end points of each segment in um (unrotated, soma at ``somapos``);
* ``d``: (n_segments,) diameters in um; ``somapos``: (3,) um; ``amplitude``: the injected current in nA.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import cache
from .cells import MEAError, check_cell_names, compile_cell_models

__all__ = ["IntraParams", "CellSimulation", "simulate_cell", "simulate_cells", "load_cell", "intracellular_path"]


@dataclass(frozen=True)
class IntraParams:
    """Parameters of the intracellular run (the paper's Section II-B; MEArec's names)."""

    sim_time: float = 1.2          # s
    dt: float = 2.0 ** -5          # ms (32 kHz)
    delay: float = 10.0            # ms before the current starts
    cut_out: tuple = (2.0, 5.0)    # ms before / after the somatic peak
    target_spikes: tuple = (8, 14)  # accepted spike counts in sim_time ("book": inclusive; "mearec": (lo, hi])
    max_tries: int = 8
    search: str = "book"           # the current search: "book" or "mearec" (see the module docstring)
    weights: tuple = (0.25, 1.75)  # "mearec": the first current (nA) and the factors down / up

    @classmethod
    def mearec(cls) -> IntraParams:
        """MEArec 1.11's intracellular defaults (``MEArec/default_params/templates_params.yaml``: ``sim_time`` 1 s,
        ``target_spikes`` [3, 50], ``weights`` [0.25, 1.75], ``dt`` 2^-5 ms, ``delay`` 10 ms, ``cut_out`` [2, 5] ms)
        and its search (at most 10 runs, as ``run_cell_model``)."""
        return cls(sim_time=1.0, target_spikes=(3, 50), max_tries=10, search="mearec", weights=(0.25, 1.75))

    def validate(self) -> IntraParams:
        """Raise :class:`MEAError` for an unknown ``search``; return ``self``."""
        if self.search not in ("book", "mearec"):
            raise MEAError(f"unknown current search {self.search!r}; expected 'book' or 'mearec'")
        return self

    def key(self) -> str:
        """Digest of everything an intracellular run depends on besides the cell: these parameters, the simulator
        versions and the source of this module (what a dataset built on these runs records)."""
        doc = {**_item_key("", self), "code": cache.code_version(*_CODE)}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


#: The cache namespace and the code an intracellular run depends on (its source hash is part of every key).
_NAMESPACE = "mea/intracellular"
_CODE = ("neuro_lib.mea.intracellular",)


def simulator_versions() -> dict[str, str]:
    """``{"mearec", "lfpy", "neuron"}`` versions from the installed packages' metadata (without importing NEURON,
    so that a process that only reads cached simulations never loads it)."""
    from importlib.metadata import version

    return {"mearec": version("MEArec"), "lfpy": version("LFPy"), "neuron": version("neuron")}


def _item_key(name: str, params: IntraParams) -> dict:
    return {"cell": name, "params": asdict(params), "versions": simulator_versions()}


@dataclass
class CellSimulation:
    """The cached result of :func:`simulate_cell` (see the module docstring for the arrays' shapes and units)."""

    name: str
    imem: np.ndarray
    vmem: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    d: np.ndarray
    somapos: np.ndarray
    amplitude: float
    meta: dict = field(default_factory=dict)

    @property
    def n_spikes(self) -> int:
        return self.imem.shape[0]

    @property
    def n_segments(self) -> int:
        return self.imem.shape[1]


def intracellular_path(name: str, params: IntraParams = IntraParams()) -> Path:
    """The cache file of ``name``'s run with ``params`` (:func:`neuro_lib.cache.cache_path`; it may not exist)."""
    return cache.cache_path(_NAMESPACE, _item_key(name, params), kind="npz", name=name, code=_CODE)


def _find_spikes(v: np.ndarray, thresh: float = -30.0, find_max: int = 30) -> np.ndarray:
    """Indices of somatic spike peaks: upward crossings of ``thresh`` mV, then the maximum in ``find_max`` samples."""
    up = np.flatnonzero((v[:-1] < thresh) & (v[1:] > thresh))
    return np.array([i + int(np.argmax(v[i:i + find_max])) for i in up], dtype=int)


def _next_amplitude(params: IntraParams, amp: float, n: int, bounds: list) -> float:
    """The next current of the search after ``n`` spikes at ``amp`` nA (``bounds`` = [lowest too weak, highest too
    strong], updated in place for the book's bisection)."""
    lo_n, hi_n = params.target_spikes
    if params.search == "mearec":   # MEArec 1.11 run_cell_model
        return amp * params.weights[0] if n >= hi_n else amp * params.weights[1]
    if n < lo_n:
        bounds[0] = amp
        return amp * 1.4 if not np.isfinite(bounds[1]) else 0.5 * (amp + bounds[1])
    bounds[1] = amp
    return amp / 1.4 if bounds[0] == 0 else 0.5 * (amp + bounds[0])


def _run_in_process(name: str, params: IntraParams, out: str) -> str:
    """Worker (runs in a fresh process): simulate ``name`` and write the npz to ``out``."""
    import contextlib
    import io

    from MEArec.simulate_cells import return_bbp_cell, set_input

    params.validate()
    folder = compile_cell_models() / name
    T = params.sim_time * 1000.0
    dt = params.dt
    mearec = params.search == "mearec"
    amp = float(params.weights[0]) if mearec else float(np.loadtxt(folder / "current_amps.dat")[1])
    lo_n, hi_n = params.target_spikes
    with contextlib.redirect_stdout(io.StringIO()):
        cell = return_bbp_cell(str(folder), end_T=T, dt=dt, start_T=0)
    pre, post = int(round(params.cut_out[0] / dt)), int(round(params.cut_out[1] / dt))
    bounds = [0.0, np.inf]
    tried = []
    for _ in range(params.max_tries):
        with contextlib.redirect_stdout(io.StringIO()):
            vec, cell, syn = set_input(amp, dt, T, cell, params.delay, T - params.delay)
            cell.simulate(rec_imem=True)
        v = np.asarray(cell.somav)
        # MEArec counts only spikes whose whole cut-out fits; the book counts all and drops the others below
        peaks = _find_spikes(v[pre:-post]) + pre if mearec else _find_spikes(v)
        n = len(peaks)
        tried.append((amp, n))
        if (lo_n < n <= hi_n) if mearec else (lo_n <= n <= hi_n):
            break
        amp = _next_amplitude(params, amp, n, bounds)
    else:
        raise MEAError(f"{name}: no somatic current in {params.max_tries} tries gave {lo_n}-{hi_n} spikes in "
                       f"{params.sim_time} s with the {params.search!r} search (amplitude nA, spikes: {tried})")
    keep = [p for p in peaks[1:] if p - pre >= 0 and p + post <= len(v)]
    imem = np.stack([cell.imem[:, p - pre:p + post] for p in keep]).astype(np.float32)
    vmem = np.stack([v[p - pre:p + post] for p in keep])
    t = (np.arange(pre + post) - pre) * dt
    tmp = out + ".tmp.npz"
    np.savez(tmp, imem=imem, vmem=vmem, t=t, x=np.asarray(cell.x, float), y=np.asarray(cell.y, float),
             z=np.asarray(cell.z, float), d=np.asarray(cell.d, float), somapos=np.asarray(cell.somapos, float),
             amplitude=tried[-1][0], tried=np.array(tried), params=json.dumps(asdict(params)))
    os.replace(tmp, out)
    return out


def _read_run(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def simulate_cells(names, params: IntraParams = IntraParams(), *, n_jobs: int = 1,
                   progress: bool = True) -> dict[str, Path]:
    """Run the intracellular simulation of every cell in ``names`` not yet cached; return ``{name: npz path}``.

    Each missing cell runs in a fresh Python process (``python -m neuro_lib.mea.intracellular``), ``n_jobs`` at a
    time, writing to a temporary folder; each result is then stored with :func:`neuro_lib.cache.cached` (atomic).
    Raises :class:`MEAError` for an unknown name, or for a run that fails (with the end of its output).
    """
    import subprocess
    import sys
    import tempfile
    import time

    from tqdm.auto import tqdm

    names = check_cell_names(names)
    params.validate()
    compile_cell_models()
    paths = {n: intracellular_path(n, params) for n in names}
    todo = [n for n in names if not paths[n].exists()]
    if not todo:
        return paths
    running: list = []
    bar = tqdm(total=len(todo), desc="NEURON runs (intracellular)", disable=not progress)
    queue = list(todo)
    with tempfile.TemporaryDirectory(prefix="mea-intra-") as tmp:
        while queue or running:
            while queue and len(running) < max(1, n_jobs):
                n = queue.pop(0)
                out, log = Path(tmp) / f"{n}.npz", Path(tmp) / f"{n}.log"
                fh = open(log, "w")
                proc = subprocess.Popen([sys.executable, "-m", "neuro_lib.mea.intracellular", n, str(out),
                                         json.dumps(asdict(params))], stdout=fh, stderr=subprocess.STDOUT)
                running.append((n, proc, fh, log, out))
            time.sleep(0.2)
            for item in list(running):
                n, proc, fh, log, out = item
                if proc.poll() is None:
                    continue
                fh.close()
                running.remove(item)
                if proc.returncode != 0 or not out.exists():
                    for _, p2, f2, _, _ in running:
                        p2.kill()
                        f2.close()
                    raise MEAError(f"intracellular simulation of {n} failed (exit code {proc.returncode}); its "
                                   f"output ends with:\n{log.read_text()[-3000:]}")
                cache.cached(_NAMESPACE, _item_key(n, params), lambda out=out: _read_run(out), kind="npz", name=n,
                             code=_CODE)
                bar.update(1)
    bar.close()
    return paths


def simulate_cell(name: str, params: IntraParams = IntraParams()) -> Path:
    """:func:`simulate_cells` for one cell."""
    return simulate_cells([name], params, progress=False)[name]


def load_cell(name: str, params: IntraParams = IntraParams(), *, simulate: bool = True) -> CellSimulation:
    """The cached :class:`CellSimulation` of ``name`` (simulated first if missing and ``simulate``)."""
    check_cell_names([name])
    path = intracellular_path(name, params)
    if not path.exists():
        if not simulate:
            raise FileNotFoundError(f"no intracellular simulation of {name} at {path}")
        simulate_cell(name, params)
    with np.load(path) as f:
        return CellSimulation(name=name, imem=f["imem"], vmem=f["vmem"], t=f["t"], x=f["x"], y=f["y"], z=f["z"],
                              d=f["d"], somapos=f["somapos"], amplitude=float(f["amplitude"]),
                              meta={"tried": f["tried"].tolist(), "params": json.loads(str(f["params"])),
                                    "path": str(path)})


if __name__ == "__main__":  # worker entry point used by simulate_cells
    import sys

    _p = json.loads(sys.argv[3])
    _p = IntraParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in _p.items()})
    _run_in_process(sys.argv[1], _p, sys.argv[2])
