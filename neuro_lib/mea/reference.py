"""MEArec's own EAP machinery on given cells, positions and rotations: the reference our simulator is checked
against (tests and ``bench/mea_simulation.py``).

:func:`mearec_templates` runs MEArec's *whole* pipeline, its intracellular step included (``run_cell_model``: its
own current search, from 0.25 nA, times 1.75 or 0.25 until 3 < spikes <= 50 in 1 s, MEArec 1.11's defaults) and
tells which spike each template used, so that our pipeline with ``IntraParams.mearec()`` can be compared end to end.

:func:`mearec_eaps` runs ``MEArec.gen_templates`` with a ``TemplateGenerator`` that fixes the cell types, soma
locations and rotations (``compute_eap_based_on_tempgen`` -> ``calc_extracellular``). The intracellular currents are
*ours* (one chosen spike per call, written in MEArec's ``imem_<n>_<cell>.npy`` layout with its
``intra_params.yaml``), so both sides start from the same transmembrane currents and only the extracellular step is
compared. MEArec rebuilds every cell in NEURON (``LFPy.TemplateCell``) and moves it with ``set_pos`` /
``set_rotation`` on the pt3d geometry.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .cells import compile_cell_models
from .intracellular import CellSimulation, IntraParams

__all__ = ["mearec_eaps", "mearec_templates", "mearec_spike_choice"]


def _intra_yaml(params: IntraParams, models: Path, seed: int) -> dict:
    return {"sim_time": params.sim_time, "target_spikes": list(params.target_spikes), "cut_out": list(params.cut_out),
            "dt": params.dt, "delay": params.delay, "weights": list(params.weights), "seed": seed,
            "cell_models_folder": str(models.resolve())}


def _run_gen_templates(tmp: Path, models: Path, p: dict, names, locs, rots, probe: str, quiet: bool):
    from MEArec import gen_templates
    from MEArec.generators import TemplateGenerator

    order = np.argsort(names, kind="stable")  # MEArec wants each cell type contiguous
    tg = TemplateGenerator(temp_dict={"templates": None, "locations": np.concatenate(locs)[order],
                                      "rotations": np.concatenate(rots)[order],
                                      "celltypes": np.array(names)[order]}, info={"params": {}})
    params_all = {**p, "rot": "norot", "probe": probe, "ncontacts": 1, "n": 1, "min_amp": 0,
                  "xlim": [10, 60], "ylim": [-75, 75], "zlim": [-75, 75], "drifting": False,
                  "check_eap_shape": False}
    old = os.getcwd()
    try:
        os.chdir(tmp)
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return gen_templates(str(models.resolve()), params=params_all, templates_tmp_folder=str(tmp),
                                 tempgen=tg, parallel=False, recompile=False, delete_tmp=True, verbose=False)
    finally:
        os.chdir(old)


def _by_cell(out, names, positions) -> dict:
    res = {}
    for name in dict.fromkeys(names):
        sel = np.asarray(out.celltypes) == name
        res[name] = np.asarray(out.templates)[sel]
        # MEArec keeps the order of the locations it was given within each cell type
        assert np.allclose(np.asarray(out.locations)[sel], positions[name])
    return res


def mearec_spike_choice(names: list[str], n_spikes: dict, n_templates: dict, *, seed: int = 0,
                        n_per_call: int = 1) -> dict:
    """The spike MEArec 1.11's ``calc_extracellular`` uses for each given location: it seeds NumPy's global
    generator with ``seed + i`` (``i`` the cell's index among the sorted cell types), draws ``3 * n * 100000``
    candidate coordinates it does not use when locations are given, then ``randint(0, n_spikes)`` per location.
    Returns ``{name: (n_templates,) spike indices}``."""
    out = {}
    for i, name in enumerate(sorted(dict.fromkeys(names))):
        rng = np.random.RandomState(seed + i)
        for _ in range(3):
            rng.uniform(0, 1, int(n_per_call * 1e5))
        out[name] = np.array([rng.randint(0, n_spikes[name]) for _ in range(n_templates[name])])
    return out


def mearec_templates(names: list[str], positions: dict, rotations: dict, *, params: IntraParams | None = None,
                     seed: int = 0, probe: str = "SqMEA-10-15", quiet: bool = True) -> dict:
    """MEArec's whole pipeline (its NEURON run with its own current search, then its EAPs) for cells ``names`` at
    ``positions[name]`` (n, 3) um with ``rotations[name]`` (n, 3) rad.

    ``params`` gives the intracellular settings (default :meth:`IntraParams.mearec`, MEArec 1.11's defaults).
    Returns ``{name: {"templates": (n, n_sites, n_samples) float32 uV, "imem": (n_spikes, n_segments, n_samples)
    MEArec's transmembrane currents (nA), "spike_index": (n,) the spike each template used}}``. Runs NEURON in this
    process.
    """
    import yaml

    params = params or IntraParams.mearec()
    models = compile_cell_models()
    with tempfile.TemporaryDirectory(prefix="mearec-e2e-") as tmp:
        tmp = Path(tmp)
        (tmp / "intracellular").mkdir()
        p = _intra_yaml(params, models, seed)
        (tmp / "intracellular" / "intra_params.yaml").write_text(yaml.dump(p))
        names_all = [n for n in names for _ in range(len(positions[n]))]
        out = _run_gen_templates(tmp, models, p, names_all, [np.asarray(positions[n], float) for n in names],
                                 [np.asarray(rotations[n], float) for n in names], probe, quiet)
        imem = {}
        for n in names:
            f = [f for f in (tmp / "intracellular").iterdir() if f.name.startswith("imem_") and n in f.name]
            imem[n] = np.load(f[0])
    templates = _by_cell(out, names_all, positions)
    choice = mearec_spike_choice(names, {n: len(imem[n]) for n in names}, {n: len(positions[n]) for n in names},
                                 seed=seed)
    return {n: {"templates": templates[n], "imem": imem[n], "spike_index": choice[n]} for n in names}


def mearec_eaps(cells: list[CellSimulation], positions: dict, rotations: dict, *, spike_index: int = 0,
                probe: str = "SqMEA-10-15", params: IntraParams = IntraParams(), quiet: bool = True) -> dict:
    """EAPs computed by MEArec, ``{cell name: (n, n_sites, n_samples) float32 uV}``.

    ``positions[name]``/``rotations[name]``: (n, 3) soma positions (um) and rotation angles (rad, LFPy ``xyz``) of
    that cell. Point contacts (``ncontacts=1``), sigma 0.3 S/m (LFPy's default), MEArec's image-charge doubling for
    MEAs and its centring of each EAP on its negative peak. Runs NEURON in this process.
    """
    import yaml

    models = compile_cell_models()
    with tempfile.TemporaryDirectory(prefix="mearec-ref-") as tmp:
        tmp = Path(tmp)
        intra = tmp / "intracellular"
        intra.mkdir()
        p = _intra_yaml(params, models, 0)
        (intra / "intra_params.yaml").write_text(yaml.dump(p))
        names, locs, rots = [], [], []
        for c in cells:
            np.save(intra / f"imem_1_{c.name}.npy", np.asarray(c.imem[spike_index:spike_index + 1], dtype=np.float64))
            np.save(intra / f"vmem_1_{c.name}.npy", np.asarray(c.vmem[spike_index:spike_index + 1]))
            names += [c.name] * len(positions[c.name])
            locs.append(np.asarray(positions[c.name], float))
            rots.append(np.asarray(rotations[c.name], float))
        out = _run_gen_templates(tmp, models, p, names, locs, rots, probe, quiet)
    return _by_cell(out, names, positions)
