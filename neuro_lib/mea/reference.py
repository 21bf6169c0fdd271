"""MEArec's own EAP machinery on given cells, positions and rotations: the reference our simulator is checked
against (tests and ``bench/mea_simulation.py``).

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

__all__ = ["mearec_eaps"]


def mearec_eaps(cells: list[CellSimulation], positions: dict, rotations: dict, *, spike_index: int = 0,
                probe: str = "SqMEA-10-15", params: IntraParams = IntraParams(), quiet: bool = True) -> dict:
    """EAPs computed by MEArec, ``{cell name: (n, n_sites, n_samples) float32 uV}``.

    ``positions[name]``/``rotations[name]``: (n, 3) soma positions (um) and rotation angles (rad, LFPy ``xyz``) of
    that cell. Point contacts (``ncontacts=1``), sigma 0.3 S/m (LFPy's default), MEArec's image-charge doubling for
    MEAs and its centring of each EAP on its negative peak. Runs NEURON in this process.
    """
    import yaml
    from MEArec import gen_templates
    from MEArec.generators import TemplateGenerator

    models = compile_cell_models()
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="mearec-ref-") as tmp:
        tmp = Path(tmp)
        intra = tmp / "intracellular"
        intra.mkdir()
        p = {"sim_time": params.sim_time, "target_spikes": list(params.target_spikes),
             "cut_out": list(params.cut_out), "dt": params.dt, "delay": params.delay, "weights": [0.25, 1.75],
             "seed": 0, "cell_models_folder": str(models.resolve())}
        (intra / "intra_params.yaml").write_text(yaml.dump(p))
        names, locs, rots = [], [], []
        for c in cells:
            np.save(intra / f"imem_1_{c.name}.npy", np.asarray(c.imem[spike_index:spike_index + 1], dtype=np.float64))
            np.save(intra / f"vmem_1_{c.name}.npy", np.asarray(c.vmem[spike_index:spike_index + 1]))
            n = len(positions[c.name])
            names += [c.name] * n
            locs.append(np.asarray(positions[c.name], float))
            rots.append(np.asarray(rotations[c.name], float))
        order = np.argsort(names, kind="stable")  # MEArec wants each cell type contiguous
        tg = TemplateGenerator(temp_dict={"templates": None, "locations": np.concatenate(locs)[order],
                                          "rotations": np.concatenate(rots)[order],
                                          "celltypes": np.array(names)[order]}, info={"params": {}})
        params_all = {**p, "rot": "norot", "probe": probe, "ncontacts": 1, "n": 1, "min_amp": 0, "seed": 0,
                      "xlim": [10, 60], "ylim": [-75, 75], "zlim": [-75, 75], "drifting": False,
                      "check_eap_shape": False}
        sink = io.StringIO()
        try:
            os.chdir(tmp)
            with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
                out = gen_templates(str(models.resolve()), params=params_all, templates_tmp_folder=str(tmp),
                                    tempgen=tg, parallel=False, recompile=False, delete_tmp=True, verbose=False)
        finally:
            os.chdir(old)
    res = {}
    for name in dict.fromkeys(names):
        sel = np.asarray(out.celltypes) == name
        res[name] = np.asarray(out.templates)[sel]
        # MEArec keeps the order of the locations it was given within each cell type
        assert np.allclose(np.asarray(out.locations)[sel], positions[name])
    return res
