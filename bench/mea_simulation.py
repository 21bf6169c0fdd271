"""Benchmark: our EAP simulator against MEArec's ``gen_templates`` on the same cells, positions and rotations.

Prints milliseconds per EAP for each, their ratio and the largest relative error
(``max |ours - MEArec| / max |MEArec|`` per EAP, the worst over all EAPs). Targets (issue 3, section 5): ours at
least 50 times faster, largest relative error under 1e-5.

Both sides start from the same cached intracellular currents (``neuro_lib.mea.intracellular``; MEArec gets them in
its own ``imem_*.npy`` layout), so only the extracellular step is timed. MEArec's time includes rebuilding each
cell in NEURON once (part of what ``gen_templates`` does for every cell); ours is shown twice: the first pass,
which includes building each simulator (geometry, SVD of the spike's currents), and the steady state, the cost of
each further EAP once the simulators exist (what generating thousands of EAPs per cell costs).

``--end-to-end`` compares the *whole* pipelines instead, each from its own NEURON run: MEArec's ``gen_templates``
with its own intracellular step (``run_cell_model``, MEArec 1.11's current search and defaults) against ours with
``IntraParams.mearec()`` (the same search, in our intracellular worker) followed by our EAP simulator, for the same
cells, positions and rotations (``--n-per-regime`` positions in ``norot`` and in ``3drot``), each template from the
spike MEArec chose (:func:`neuro_lib.mea.reference.mearec_spike_choice`). It prints the injected currents and spike
counts of both, the largest relative error of the currents and of the EAPs (target below 1e-5), and the time of each
whole pipeline (ours from an empty cache, NEURON runs included, one process at a time like MEArec's) with the
speed-up.

Usage::

    python bench/mea_simulation.py [--cells L5_BP_bAC217_1 L5_TTPC1_cADpyr232_1] [--n-per-regime 5] [--seed 0]
    python bench/mea_simulation.py --end-to-end [--cells A B C D] [--n-per-regime 4]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_lib.mea.extracellular import REGIMES, EAPSimulator, sample_positions, sample_rotations  # noqa: E402
from neuro_lib.mea.intracellular import load_cell, simulate_cells  # noqa: E402
from neuro_lib.mea.reference import mearec_eaps  # noqa: E402


E2E_CELLS = ["L5_BP_bAC217_1", "L5_MC_bAC217_1", "L5_NBC_bAC217_1", "L5_TTPC1_cADpyr232_1"]


def _ours_from_empty_cache(cells, params, models, pos, rot, spike_index, n_jobs):
    """Our whole pipeline (NEURON runs with ``params``, then EAPs) from an empty cache; returns (seconds, cell
    simulations, EAPs)."""
    import os
    import tempfile

    old = os.environ.get("NEURO_LIB_CACHE")
    with tempfile.TemporaryDirectory(prefix="mea-e2e-cache-") as tmp:
        (Path(tmp) / "mea").mkdir()
        os.symlink(models, Path(tmp) / "mea" / models.name)
        os.environ["NEURO_LIB_CACHE"] = tmp
        try:
            t0 = time.perf_counter()
            simulate_cells(cells, params, n_jobs=n_jobs, progress=False)
            sims = {c: load_cell(c, params) for c in cells}
            ours = {c: EAPSimulator(sims[c]).eaps(pos[c], rot[c], spike_index[c]) for c in cells}
            return time.perf_counter() - t0, sims, ours
        finally:
            if old is None:
                os.environ.pop("NEURO_LIB_CACHE")
            else:
                os.environ["NEURO_LIB_CACHE"] = old


def end_to_end(cells: list[str], n_per_regime: int, seed: int) -> int:
    """MEArec's whole pipeline against ours with MEArec's current search; see the module docstring."""
    from neuro_lib.mea.cells import compile_cell_models
    from neuro_lib.mea.intracellular import IntraParams
    from neuro_lib.mea.reference import mearec_templates

    regimes = ("norot", "3drot")
    params = IntraParams.mearec()
    models = compile_cell_models()
    rng = np.random.default_rng(seed)
    pos = {c: sample_positions(n_per_regime * len(regimes), rng) for c in cells}
    rot = {c: np.concatenate([sample_rotations(r, n_per_regime, rng) for r in regimes]) for c in cells}
    n_eaps = sum(len(p) for p in pos.values())

    t0 = time.perf_counter()
    ref = mearec_templates(cells, pos, rot, params=params, seed=seed)
    t_mearec = time.perf_counter() - t0

    # ours from an empty cache (the compiled mechanisms reused, as MEArec reuses its own): one NEURON process at a
    # time (like MEArec's gen_templates, which cannot run in parallel with given locations), then two at a time
    t_ours = {}
    for n_jobs in (1, 2):
        t, sims, ours = _ours_from_empty_cache(cells, params, models, pos, rot,
                                               {c: ref[c]["spike_index"] for c in cells}, n_jobs)
        t_ours[n_jobs] = t

    worst, worst_i = 0.0, 0.0
    print(f"{n_eaps} templates ({len(cells)} cells x {len(regimes)} regimes ({', '.join(regimes)}) x {n_per_regime} "
          "positions), SqMEA-10-15, MEArec 1.11's intracellular defaults: "
          f"{params.sim_time:g} s, {params.target_spikes[0]} < spikes <= {params.target_spikes[1]}, from "
          f"{params.weights[0]:g} nA times {params.weights[1]:g} / {params.weights[0]:g}")
    for c in cells:
        s, r = sims[c], ref[c]
        same_n = r["imem"].shape == s.imem.shape
        rel_i = (float(np.abs(s.imem - r["imem"]).max() / np.abs(r["imem"]).max()) if same_n else float("inf"))
        rel = np.abs(ours[c] - r["templates"]).max(axis=(1, 2)) / np.abs(r["templates"]).max(axis=(1, 2))
        worst, worst_i = max(worst, float(rel.max())), max(worst_i, rel_i)
        print(f"  {c:24s} current {s.amplitude:.4f} nA, spikes kept: ours {s.n_spikes}, MEArec {len(r['imem'])}; "
              f"largest relative error: currents {rel_i:.2e}, EAPs {rel.max():.2e}")
    # the book's own current (about ten spikes, the paper's choice) against MEArec's, at the same positions
    print("the book's default current search (IntraParams()) against MEArec's, same positions and rotations, "
          "spike 0 of each:")
    simulate_cells(cells, n_jobs=2, progress=False)
    for c in cells:
        book = load_cell(c)
        e_book = EAPSimulator(book).eaps(pos[c], rot[c], 0)
        e_ref = EAPSimulator(sims[c]).eaps(pos[c], rot[c], 0)
        rel = np.abs(e_book - e_ref).max(axis=(1, 2)) / np.abs(e_ref).max(axis=(1, 2))
        fired_book, fired_ref = int(book.meta["tried"][-1][1]), int(sims[c].meta["tried"][-1][1])
        print(f"  {c:24s} book {book.amplitude:.4f} nA ({fired_book} spikes in {book.meta['params']['sim_time']:g} s)"
              f", MEArec {sims[c].amplitude:.4f} nA ({fired_ref} in {params.sim_time:g} s): EAPs differ by a median "
              f"{np.median(rel):.1%} (largest {rel.max():.1%}) of their peak")
    print(f"MEArec gen_templates, whole pipeline:       {t_mearec:7.1f} s")
    for n_jobs, t in t_ours.items():
        print(f"ours, whole pipeline, {n_jobs} NEURON process(es): {t:7.1f} s  (speed-up {t_mearec / t:.2f}x)")
    print(f"speed-up of the whole pipeline: {t_mearec / t_ours[1]:.2f}x one process at a time, "
          f"{t_mearec / t_ours[2]:.2f}x with two (the NEURON runs dominate both: the extracellular step alone is "
          "compared by the default mode of this bench)")
    print(f"largest relative error of the currents: {worst_i:.2e}; of the EAPs: {worst:.2e} (target < 1e-5)")
    ok = worst < 1e-5
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=None)
    ap.add_argument("--n-per-regime", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat-ours", type=int, default=5, help="timing repeats of our steady state")
    ap.add_argument("--end-to-end", action="store_true",
                    help="compare the whole pipelines, each from its own NEURON run with MEArec's current search")
    args = ap.parse_args(argv)
    if args.end_to_end:
        return end_to_end(args.cells or E2E_CELLS, args.n_per_regime or 4, args.seed)
    args.cells = args.cells or ["L5_BP_bAC217_1", "L5_TTPC1_cADpyr232_1"]
    args.n_per_regime = args.n_per_regime or 5

    simulate_cells(args.cells, n_jobs=2, progress=False)
    cells = [load_cell(n) for n in args.cells]
    rng = np.random.default_rng(args.seed)
    pos = {c.name: sample_positions(args.n_per_regime * len(REGIMES), rng) for c in cells}
    rot = {c.name: np.concatenate([sample_rotations(r, args.n_per_regime, rng) for r in REGIMES]) for c in cells}
    n_eaps = sum(len(p) for p in pos.values())

    # warm up numba's compiled kernel (a one-off per installation: it is cached on disk)
    EAPSimulator(cells[0]).eaps(pos[cells[0].name][:1], rot[cells[0].name][:1], 0)

    t0 = time.perf_counter()
    ref = mearec_eaps(cells, pos, rot)
    t_mearec = time.perf_counter() - t0

    # ours, first pass: build each cell's simulator (geometry, SVD of the spike's currents) and compute its EAPs
    t0 = time.perf_counter()
    sims = {c.name: EAPSimulator(c) for c in cells}
    ours = {c.name: sims[c.name].eaps(pos[c.name], rot[c.name], 0) for c in cells}
    t_first = time.perf_counter() - t0
    # ours, steady state: the same EAPs again with the simulators built (what a dataset of thousands costs per EAP)
    t0 = time.perf_counter()
    for _ in range(args.repeat_ours):
        for c in cells:
            ours[c.name] = sims[c.name].eaps(pos[c.name], rot[c.name], 0)
    t_ours = (time.perf_counter() - t0) / args.repeat_ours

    worst, rows = 0.0, []
    for c in cells:
        r = ref[c.name]
        rel = np.abs(ours[c.name] - r).max(axis=(1, 2)) / np.abs(r).max(axis=(1, 2))
        worst = max(worst, float(rel.max()))
        rows.append(f"  {c.name:24s} {c.n_segments:5d} segments  largest relative error {rel.max():.2e}  "
                    f"largest |EAP| {np.abs(r).max():8.1f} uV")
    ms_m, ms_o, ms_f = 1000 * t_mearec / n_eaps, 1000 * t_ours / n_eaps, 1000 * t_first / n_eaps
    print(f"{n_eaps} EAPs ({len(cells)} cells x {len(REGIMES)} regimes x {args.n_per_regime} positions), "
          "SqMEA-10-15, line source, sigma 0.3 S/m")
    print("\n".join(rows))
    print(f"MEArec gen_templates (incl. building each cell once): {ms_m:9.2f} ms per EAP")
    print(f"ours, first pass (incl. building each simulator):     {ms_f:9.2f} ms per EAP  "
          f"(speed-up {ms_m / ms_f:.1f}x)")
    print(f"ours, steady state (simulators built):                {ms_o:9.2f} ms per EAP  "
          f"(speed-up {ms_m / ms_o:.1f}x)")
    print(f"speed-up (steady state): {ms_m / ms_o:.1f}x (target >= 50x)")
    print(f"largest relative error: {worst:.2e} (target < 1e-5)")
    ok = ms_m / ms_o >= 50 and worst < 1e-5
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
