"""The MEA chapter's simulator: our EAPs against MEArec's, the line-source kernel against lfpykit, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from neuro_lib.mea import CELL_MODELS, MEAError, cell_class, compile_cell_models
from neuro_lib.mea.extracellular import (REGIMES, EAPSimulator, center_eaps, line_source_matrix, probe_positions,
                                         rotation_matrices, sample_positions, sample_rotations)

INHIBITORY_CELL = "L5_BP_bAC217_1"
EXCITATORY_CELL = "L5_UTPC_cADpyr232_1"


@pytest.fixture(scope="module")
def cells():
    from neuro_lib.mea.intracellular import load_cell, simulate_cells

    simulate_cells([INHIBITORY_CELL, EXCITATORY_CELL], n_jobs=2, progress=False)
    return {n: load_cell(n) for n in (INHIBITORY_CELL, EXCITATORY_CELL)}


def test_cell_table():
    assert len(CELL_MODELS) == 13
    assert sum(cell_class(c) == "excitatory" for c in CELL_MODELS) == 4
    with pytest.raises(MEAError, match="unknown cell model"):
        cell_class("L5_XYZ_bAC217_1")


def test_compiled_models_keep_licences():
    folder = compile_cell_models()
    assert (folder / ".compiled").exists()
    assert list((folder / "mods").glob("*/.libs/libnrnmech.so")) or list((folder / "mods").glob("*/libnrnmech.so"))
    for name in CELL_MODELS:
        assert (folder / name / "LICENSE").exists()


def test_intracellular_spikes(cells):
    for c in cells.values():
        assert 5 <= c.n_spikes <= 14
        assert c.imem.shape[1:] == (c.n_segments, 224)          # -2..+5 ms at 32 kHz
        assert np.argmax(c.vmem[0]) == 64                       # somatic peak at t = 0
        # transmembrane currents sum to ~0 (charge conservation, up to the injected current at the soma)
        assert np.abs(c.imem.sum(1)).max() < 0.05 * np.abs(c.imem).max()


def test_line_source_matches_lfpykit(cells):
    from lfpykit.lfpcalc import calc_lfp_linesource

    c = cells[INHIBITORY_CELL]
    sites = np.array([[0.0, 0, 0], [5, 10, -3], [30, 100, 50], [c.x[3, 0] + 0.1, c.y[3, 0], c.z[3, 0]]])
    ref = np.stack([calc_lfp_linesource(c.x, c.y, c.z, *s, 0.3, c.d / 2) for s in sites])
    st = np.stack([c.x[:, 0], c.y[:, 0], c.z[:, 0]], -1)
    en = np.stack([c.x[:, 1], c.y[:, 1], c.z[:, 1]], -1)
    for backend in ("numba", "numpy"):
        M = line_source_matrix(st, en, c.d / 2, sites, backend=backend)
        assert np.abs(M - ref).max() / np.abs(ref).max() < 1e-10


def test_rotation_convention_is_lfpys():
    # LFPy's set_rotation(x, y, z) maps p -> Rz Ry Rx p; check against explicit angles
    R = rotation_matrices([np.pi / 2, 0, 0])
    assert np.allclose(R @ [0, 1, 0], [0, 0, 1])                 # BBP apical axis (y) -> z
    R = rotation_matrices([0, 0, np.pi / 2])
    assert np.allclose(R @ [1, 0, 0], [0, 1, 0])
    rng = np.random.default_rng(0)
    for regime in REGIMES:
        rot = sample_rotations(regime, 50, rng)
        assert rot.shape == (50, 3)
        if regime == "norot":
            assert np.allclose(rot, [np.pi / 2, 0, 0])
        if regime == "xrot":
            assert np.allclose(rot[:, 1:], 0) and rot[:, 0].std() > 0.5
        if regime == "zrot":
            assert np.allclose(rot[:, :2], [np.pi / 2, 0]) and rot[:, 2].std() > 0.5


def test_center_eaps():
    x = np.zeros((2, 3, 20), np.float32)
    x[0, 1, 5] = -1
    x[1, 2, 15] = -2
    x[1, 0, 19] = 0.5
    c = center_eaps(x, 10)
    assert np.argmin(c[0].ravel()) % 20 == 10 and np.argmin(c[1].ravel()) % 20 == 10
    assert c[1, 0, -1] == 0.5                                    # padded with the edge value


def test_our_eaps_match_mearec(cells):
    """Our simulator against MEArec's gen_templates: same cells, positions, rotations, every regime."""
    from neuro_lib.mea.reference import mearec_eaps

    rng = np.random.default_rng(1)
    pos, rot = {}, {}
    for name in cells:
        pos[name] = sample_positions(len(REGIMES), rng)
        rot[name] = np.concatenate([sample_rotations(r, 1, rng) for r in REGIMES])
    ref = mearec_eaps(list(cells.values()), pos, rot)
    for name, c in cells.items():
        ours = EAPSimulator(c).eaps(pos[name], rot[name], 0)
        theirs = ref[name]
        assert ours.shape == theirs.shape == (len(REGIMES), 100, 224)
        rel = np.abs(ours - theirs).max(axis=(1, 2)) / np.abs(theirs).max(axis=(1, 2))
        assert rel.max() < 1e-5, (name, rel)


def test_bad_input(cells):
    c = cells[INHIBITORY_CELL]
    with pytest.raises(MEAError, match="not known to MEAutility"):
        EAPSimulator(c, probe="NoSuchProbe-1")
    sim = EAPSimulator(c)
    with pytest.raises(MEAError, match="x <= 0"):
        sim.eaps([[0.0, 10, 10]], [[np.pi / 2, 0, 0]])
    with pytest.raises(MEAError, match="in front of the probe plane"):
        sample_positions(3, np.random.default_rng(0), xlim=(-5, 20))
    with pytest.raises(MEAError, match="unknown rotation regime"):
        sample_rotations("yrot2", 3, np.random.default_rng(0))
    assert probe_positions("SqMEA-10-15").shape == (100, 3)


def test_dataset_cache_and_stale_params(cells):
    from neuro_lib.mea.dataset import DatasetParams, build_dataset, dataset_path, load_dataset

    p = DatasetParams(cells=(INHIBITORY_CELL,), regime="zrot", n_per_cell=6)
    ds = build_dataset(p, progress=False)
    assert len(ds) == 6 and ds.features.shape == (6, 4, 100)
    assert (ds.p2p > 30).all()
    again = build_dataset(p, progress=False)                      # from the cache
    assert np.array_equal(again.features, ds.features)
    other = DatasetParams(cells=(INHIBITORY_CELL,), regime="zrot", n_per_cell=7)
    assert dataset_path(other) != dataset_path(p)
    with pytest.raises(MEAError, match="different parameters"):
        load_dataset(dataset_path(p), other)
    with pytest.raises(MEAError, match="unknown cell model"):
        build_dataset(DatasetParams(cells=("L5_FOO_1",)))


def test_compile_failure_carries_compiler_output(tmp_path, monkeypatch):
    """A .mod file that nrnivmodl cannot translate raises MEAError with the translator's message, and leaves no
    half-built models folder behind (the next call recompiles instead of using it)."""
    from neuro_lib.mea import cells as cells_mod

    src = tmp_path / "bbp"
    for name in CELL_MODELS:
        (src / name / "mechanisms").mkdir(parents=True)
        (src / name / "LICENSE").write_text("test licence\n")
    (src / CELL_MODELS[0] / "mechanisms" / "Broken.mod").write_text(
        "NEURON {\n    SUFFIX Broken\n    RANGE gbar\n}\nBREAKPOINT {\n    ina = gbar * (v - \n}\n")
    monkeypatch.setattr(cells_mod, "mearec_models_folder", lambda: src)
    out = tmp_path / "compiled"
    with pytest.raises(MEAError, match="nrnivmodl failed") as err:
        compile_cell_models(out)
    assert "Broken.mod" in str(err.value) and "syntax error" in str(err.value)   # the translator's own output
    assert not (out / ".compiled").exists()
    assert not list(tmp_path.glob(".compile-*"))


def test_mearec_current_search_end_to_end():
    """IntraParams.mearec() reproduces MEArec 1.11's own intracellular step (run_cell_model's current search): our
    whole pipeline from NEURON to EAPs against gen_templates run end to end, same cell, positions and rotations."""
    from neuro_lib.mea.intracellular import IntraParams, load_cell, simulate_cells
    from neuro_lib.mea.reference import mearec_templates

    params = IntraParams.mearec()
    assert (params.sim_time, params.target_spikes, params.weights, params.search) == (1.0, (3, 50), (0.25, 1.75),
                                                                                      "mearec")
    rng = np.random.default_rng(2)
    pos = {INHIBITORY_CELL: sample_positions(2, rng)}
    rot = {INHIBITORY_CELL: np.concatenate([sample_rotations(r, 1, rng) for r in ("norot", "3drot")])}
    ref = mearec_templates([INHIBITORY_CELL], pos, rot, params=params)[INHIBITORY_CELL]
    simulate_cells([INHIBITORY_CELL], params, progress=False)
    ours = load_cell(INHIBITORY_CELL, params)
    assert ours.imem.shape == ref["imem"].shape                      # the same current gave the same spikes
    assert np.abs(ours.imem - ref["imem"]).max() < 1e-5 * np.abs(ref["imem"]).max()
    e = EAPSimulator(ours).eaps(pos[INHIBITORY_CELL], rot[INHIBITORY_CELL], ref["spike_index"])
    rel = np.abs(e - ref["templates"]).max(axis=(1, 2)) / np.abs(ref["templates"]).max(axis=(1, 2))
    assert rel.max() < 1e-5
    # the book's own search is another current
    assert load_cell(INHIBITORY_CELL).meta["params"]["search"] == "book"
    with pytest.raises(MEAError, match="unknown current search"):
        simulate_cells([INHIBITORY_CELL], IntraParams(search="guess"))
