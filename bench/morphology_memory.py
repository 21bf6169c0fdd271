"""Parameters and memory of one training step of each morphology gpu-profile network, at its gpu batch size.

The gpu profile (``neuro_lib.morphology.chapter.PROFILE_SETTINGS["gpu"]``) trains, for principal cell against
interneuron (2 classes):

* the projection ResNet18 (:class:`neuro_lib.models.resnet.ProjectionResNet`) on (3, 224, 224) images (the XY, XZ and
  YZ projections) at ``cnn_batch_size`` (64);
* the sequence LSTM (:class:`neuro_lib.models.lstm.SequenceLSTM`, 2 layers of 128) on node sequences of ``max_len``
  (1,500) steps of the reduced tree's per-node features, batch 32 (``LSTMClassifier``'s default);
* the Tree-LSTM (:class:`neuro_lib.models.tree_lstm.TreeLSTMNet`, 128 hidden) on reduced trees, batch 32. Real
  reduced trees have a few hundred to a few thousand nodes; the bench uses random binary trees of ``--tree-nodes``
  (default 1,500) nodes, the LSTM's sequence length.

Each row is :func:`neuro_lib.training.step_memory` (forward, cross-entropy, backward, Adam; CPU, float32):
``persistent`` = weights, buffers, gradients, Adam's moments and the batch; ``peak`` = the largest total of live
tensors during one step (``torch.profiler`` memory timeline). On a GPU the CUDA context and cuDNN workspaces come
on top; with the gpu profile's bfloat16 autocast, activations take about half. Usage:
``python bench/morphology_memory.py [--repeats 3] [--tree-nodes 1500]``.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_lib.models.lstm import IndexedSequences, SequenceLSTM  # noqa: E402
from neuro_lib.models.resnet import ProjectionResNet, param_groups  # noqa: E402
from neuro_lib.models.tree_lstm import IndexedTrees, TreeLSTMNet, tree_heights  # noqa: E402
from neuro_lib.morphology.chapter import PROFILE_SETTINGS  # noqa: E402
from neuro_lib.morphology.networks import LSTMClassifier, TreeLSTMClassifier  # noqa: E402
from neuro_lib.morphology.tree import FEATURES  # noqa: E402
from neuro_lib.training import memory_table, step_memory  # noqa: E402


def random_tree(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) parent array of a random binary tree (-1 for the root; parents before children)."""
    parent, open_slots = [-1], [0, 0]
    for i in range(1, n):
        j = int(rng.integers(len(open_slots)))
        parent.append(open_slots.pop(j))
        open_slots += [i, i]
    return np.array(parent, dtype=np.int64)


def main(argv=None) -> int:
    import torch

    gpu = PROFILE_SETTINGS["gpu"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tree-nodes", type=int, default=gpu["max_len"])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_classes, F = 2, len(FEATURES)
    seq_batch = inspect.signature(LSTMClassifier).parameters["batch_size"].default
    tree_batch = inspect.signature(TreeLSTMClassifier).parameters["batch_size"].default
    t0 = time.perf_counter()
    print(f"one training step (CPU, float32, torch {torch.__version__}), principal cell vs interneuron")
    rows = []
    cnn = ProjectionResNet(n_classes)
    x = torch.randn(gpu["cnn_batch_size"], 3, gpu["image_size"], gpu["image_size"])
    opt = torch.optim.Adam(param_groups(cnn, gpu["lr_conv"], gpu["lr_head"]))
    rows.append(("ResNet18 (projections)", f"3 x {gpu['image_size']} x {gpu['image_size']}", len(x),
                 step_memory(cnn, x, torch.randint(0, n_classes, (len(x),)), optimizer=opt, repeats=args.repeats)))
    seqs = IndexedSequences([rng.standard_normal((gpu["max_len"], F)).astype(np.float32) for _ in range(seq_batch)])
    lstm = SequenceLSTM(F, n_classes, bank=seqs)
    idx = torch.arange(seq_batch)
    rows.append(("LSTM (node sequences)", f"{gpu['max_len']} steps x {F}", seq_batch,
                 step_memory(lstm, idx, torch.randint(0, n_classes, (seq_batch,)), repeats=args.repeats)))
    parents = [random_tree(args.tree_nodes, rng) for _ in range(tree_batch)]
    trees = IndexedTrees([rng.standard_normal((args.tree_nodes, F)).astype(np.float32) for _ in parents], parents,
                         [tree_heights(p) for p in parents])
    batch = trees.batch(np.arange(tree_batch))
    rows.append(("Tree-LSTM (reduced trees)", f"{args.tree_nodes} nodes x {F}", tree_batch,
                 step_memory(TreeLSTMNet(F, n_classes), batch, torch.randint(0, n_classes, (tree_batch,)),
                             repeats=args.repeats)))
    print(memory_table(rows, seconds=time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
