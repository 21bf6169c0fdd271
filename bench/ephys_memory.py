"""Parameters and peak memory of one training step of each ephys gpu-profile network, at the gpu batch size.

For each network (the modules :class:`~neuro_lib.ephys.models.DANNClassifier`, :class:`~neuro_lib.ephys.models.
LSPINClassifier` and :class:`~neuro_lib.ephys.models.MLPNetwork` build for the 41 features, with their own training
objective), one optimisation step from a fresh Adam optimiser (forward, backward, step: so the gradients and Adam's
two moment buffers are allocated inside the step) on a batch of the gpu profile's size is recorded with the torch
profiler (``profile_memory=True``, CPU). Two measures, in KiB:

* ``peak (timeline)``: the largest total of live tensors in the profiler's memory timeline (parameters, gradients,
  optimiser state, activations, inputs);
* ``check``: the parameters' bytes plus the peak of the running sum of the step's own allocations and frees.

An LSPIN ensemble trains its members one after another, so its step is one member's step; the other members'
parameters are resident meanwhile (shown in the last column). Usage: ``python bench/ephys_memory.py [--batch 64]``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_lib.ephys.chapter import settings  # noqa: E402
from neuro_lib.ephys.models import DANNClassifier, LSPINClassifier, MLPNetwork  # noqa: E402


def _networks(cfg):
    X = torch.zeros(2, 41)
    lspin = LSPINClassifier(n_ensemble=cfg["n_ensemble"])
    c = lspin._module_config(X, 5)
    member = lspin._member(c)
    dann = DANNClassifier()
    mlp = MLPNetwork()
    return [("DANN (E/I)", dann._make_module(dann._module_config(X, 2)), "dann", 2, 1),
            ("LSPIN member (Cre)", member, "lspin", 5, cfg["n_ensemble"]),
            ("MLP without gates (Cre)", mlp._make_module(mlp._module_config(X, 5)), "mlp", 5, 1)]


def _batch(kind, n_classes, batch):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, 41, generator=g), torch.randint(0, n_classes, (batch,), generator=g)
    if kind == "dann":
        return (x, y, torch.randint(0, 2, (batch,), generator=g), torch.ones(batch, dtype=torch.long))
    return (x, y)


def _step_fn(kind, module):
    if kind == "dann":
        return module.train_step(domain_weight=1.0)
    if kind == "lspin":
        return module.train_step(nn.CrossEntropyLoss())
    ce = nn.CrossEntropyLoss()
    return lambda m, b, p: ce(m(b[0]), b[1])


def measure(module, kind, n_classes, batch):
    from torch.profiler import ProfilerActivity, profile

    module.train()
    step = _step_fn(kind, module)
    b = _batch(kind, n_classes, batch)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        loss = step(module, b, 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
    cur = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export_memory_timeline is deprecated in favour of the CUDA snapshot tools
        prof.export_memory_timeline(f"{tmp}/t.json", device="cpu")
        _, sizes = json.loads(Path(f"{tmp}/t.json").read_text())
    return param_bytes, max(sum(s) for s in sizes), param_bytes + peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="batch size (the gpu profile's: 64)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = settings("gpu")
    print(f"batch {args.batch}, one Adam step from a fresh optimiser, float32, CPU (torch {torch.__version__})")
    print(f"{'network':26s} {'parameters':>10s} {'params KiB':>10s} {'peak KiB (timeline)':>20s} {'check KiB':>10s}"
          f" {'resident members':>16s}")
    for name, module, kind, k, members in _networks(cfg):
        n = sum(p.numel() for p in module.parameters())
        pb, tl, chk = measure(module, kind, k, args.batch)
        extra = f"{members} x {pb / 1024:.1f} KiB" if members > 1 else ""
        print(f"{name:26s} {n:10d} {pb / 1024:10.1f} {tl / 1024:20.1f} {chk / 1024:10.1f} {extra:>16s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
