"""Benchmark: our EAP simulator against MEArec's ``gen_templates`` on the same cells, positions and rotations.

Prints milliseconds per EAP for each, their ratio and the largest relative error
(``max |ours - MEArec| / max |MEArec|`` per EAP, the worst over all EAPs). Targets (issue 3, section 5): ours at
least 50 times faster, largest relative error under 1e-5.

Both sides start from the same cached intracellular currents (``neuro_lib.mea.intracellular``; MEArec gets them in
its own ``imem_*.npy`` layout), so only the extracellular step is timed. MEArec's time includes rebuilding each
cell in NEURON once (part of what ``gen_templates`` does for every cell); ours is shown twice: the first pass,
which includes building each simulator (geometry, SVD of the spike's currents), and the steady state, the cost of
each further EAP once the simulators exist (what generating thousands of EAPs per cell costs).

Usage::

    python bench/mea_simulation.py [--cells L5_BP_bAC217_1 L5_TTPC1_cADpyr232_1] [--n-per-regime 5] [--seed 0]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["L5_BP_bAC217_1", "L5_TTPC1_cADpyr232_1"])
    ap.add_argument("--n-per-regime", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat-ours", type=int, default=5, help="timing repeats of our steady state")
    args = ap.parse_args(argv)

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
