"""Batched Child-Sum Tree-LSTM against the per-node recursive reference (issue 4, section 6).

Same weights, same neurons (real rat S1 reconstructions from the data mirror, or random trees with ``--random``):
prints the largest absolute difference of the root states (target < 1e-5) and neurons per second of each
implementation and their ratio (target >= 20x on CPU).

    NEURO_LIB_DATA=../shared/data .venv/bin/python bench/tree_lstm.py [--n 64] [--threads 2] [--random]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from neuro_lib.models.tree_lstm import ChildSumTreeLSTM, collate_trees
from neuro_lib.morphology.tree import FEATURES, reduce_tree


def collate(trees):
    return collate_trees([t.features for t in trees], [t.parent for t in trees], [t.height for t in trees])


def real_trees(n: int, seed: int):
    import pandas as pd

    from neuro_lib.datasets import fetch, fetch_archive
    from neuro_lib.morphology.tree import trees_from_files

    labels = pd.read_csv(fetch("morphology/labels.csv"))
    rat = labels[labels.archive == "rat_s1_markram.tar.xz"].sample(n, random_state=seed)
    root = fetch_archive("morphology/rat_s1_markram.tar.xz")
    return trees_from_files([root / p for p in rat.path], progress=False, cache=False)


def random_trees(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = int(rng.integers(200, 2000))
        parent = np.array([-1] + [int(rng.integers(max(0, i - 5), i)) for i in range(1, m)])
        out.append(reduce_tree(rng.normal(size=(m, 3)) * 50, rng.random(m) + 0.2, parent, rng.integers(2, 5, m)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="number of neurons")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random", action="store_true", help="random trees instead of real neurons")
    ap.add_argument("--reps", type=int, default=10, help="timed passes of the batched model (median reported)")
    ap.add_argument("--reps-ref", type=int, default=3, help="timed passes of the reference (median reported)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    trees = random_trees(a.n, a.seed) if a.random else real_trees(a.n, a.seed)
    nodes = sum(len(t) for t in trees)
    torch.manual_seed(a.seed)
    model = ChildSumTreeLSTM(len(FEATURES), 128).eval()
    with torch.no_grad():
        # medians over repeated passes; each implementation first runs once untimed (allocator warm-up)
        ref = torch.stack([model.forward_recursive(t.features, t.parent) for t in trees])
        t_refs = []
        for _ in range(a.reps_ref):
            t0 = time.perf_counter()
            ref = torch.stack([model.forward_recursive(t.features, t.parent) for t in trees])
            t_refs.append(time.perf_counter() - t0)
        out = model(collate(trees))
        t_bats = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            out = model(collate(trees))  # collation is included in the timing
            t_bats.append(time.perf_counter() - t0)
        t_ref, t_bat = float(np.median(t_refs)), float(np.median(t_bats))
    diff = float((out - ref).abs().max())
    r_ref, r_bat = a.n / t_ref, a.n / t_bat
    print(f"neurons: {a.n} ({'random' if a.random else 'rat S1 Markram'}), reduced-tree nodes: {nodes} "
          f"(mean {nodes / a.n:.0f}), max height {max(int(t.height[0]) for t in trees)}, threads {a.threads}")
    print(f"max |batched - recursive| of the 128-d root states: {diff:.2e}  (target < 1e-5: "
          f"{'met' if diff < 1e-5 else 'MISSED'})")
    print(f"recursive reference: {r_ref:9.1f} neurons/s  ({t_ref:.2f} s per pass, median of {a.reps_ref})")
    print(f"batched level-by-level: {r_bat:9.1f} neurons/s  ({t_bat:.3f} s per pass incl. collation, median of "
          f"{a.reps})")
    print(f"speed-up: {r_bat / r_ref:.1f}x  (target >= 20x: {'met' if r_bat / r_ref >= 20 else 'MISSED'})")


if __name__ == "__main__":
    main()
