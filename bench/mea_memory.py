"""Parameters and memory of one training step of each MEA gpu-profile network, at its training batch size.

The gpu profile trains the paper's CNN (amplitude and width images) and the four-channel CNN in every regime, for
the E/I task (2 classes) and the m-type task (13 classes), at ``MEACNNClassifier``'s batch size (128, the same in
every profile). For each, :func:`neuro_lib.mea.classify.training_step_memory` runs one optimisation step (forward,
cross-entropy, backward, Adam update) on the CPU and reports, in MiB:

* ``persistent``: weights, buffers, gradients, Adam's two moment estimates and the batch (exact, from the tensors'
  storages);
* ``peak (timeline)``: the largest total of live tensors in ``torch.profiler``'s memory timeline over one further
  step (the largest of ``--repeats`` steps).

On a GPU the CUDA context (some hundreds of MiB) and cuDNN workspaces come on top of these. Usage:
``python bench/mea_memory.py [--batch 128] [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_lib.mea.classify import training_step_memory  # noqa: E402
from neuro_lib.mea.cnn import CHANNELS, MEACNNClassifier  # noqa: E402
from neuro_lib.training import memory_table  # noqa: E402


def main(argv=None) -> int:
    default_batch = inspect.signature(MEACNNClassifier).parameters["batch_size"].default
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=default_batch)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    print(f"one training step at batch {args.batch} (CPU, float32, torch {torch.__version__})")
    rows = [(f"{name}, {task}", f"{len(channels)} x 10 x 10", args.batch,
             training_step_memory(len(channels), n_classes, args.batch, repeats=args.repeats))
            for name, channels in CHANNELS.items() for task, n_classes in (("binary", 2), ("mtype", 13))]
    print(memory_table(rows, seconds=time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
