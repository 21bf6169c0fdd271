"""One fit loop for every torch model in the book: seeded, device-agnostic, a tqdm bar, early stopping.

Usage::

    history = fit(model, train_ds, val_ds, loss_fn=nn.CrossEntropyLoss(), epochs=100, lr=1e-3, seed=0)

``train_ds``/``val_ds`` are ``torch.utils.data.Dataset`` objects or tuples of tensors (wrapped in a
``TensorDataset``). A model that needs its own training objective (a DANN's domain loss, an LSPIN's gate
penalty) passes ``train_step(model, batch, progress) -> loss tensor``, where ``progress`` runs from 0 to 1 over
training (the DANN lambda schedule uses it). Early stopping watches the validation loss (or ``val_score`` if given,
higher is better) and restores the best weights.
"""
from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["seed_everything", "resolve_device", "fit", "predict", "History", "as_dataset", "step_memory",
           "memory_table"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels where it has them."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` picks CUDA when available, else CPU; ``"cuda"`` without a GPU raises ``RuntimeError``."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no GPU; use device='cpu' or 'auto'")
    return dev


def as_dataset(data) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)):
        return TensorDataset(*[torch.as_tensor(np.asarray(d)) if not torch.is_tensor(d) else d for d in data])
    raise TypeError(f"expected a Dataset or a tuple of arrays, got {type(data).__name__}")


@dataclass
class History:
    """Per-epoch record of a fit: ``train_loss``, ``val_loss``, ``val_score`` (if scored), ``best_epoch``."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False

    def as_dict(self) -> dict:
        return {"train_loss": self.train_loss, "val_loss": self.val_loss, "val_score": self.val_score,
                "best_epoch": self.best_epoch}


def _to(batch: Sequence, device) -> list:
    return [b.to(device) if torch.is_tensor(b) else b for b in batch]


def _default_step(loss_fn):
    def step(model, batch, progress):
        *xs, y = batch
        return loss_fn(model(*xs), y)

    return step


def fit(model: nn.Module, train_data, val_data=None, *, loss_fn: Callable | None = None, epochs: int = 100,
        lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64, patience: int | None = 20,
        seed: int = 0, device: str | torch.device | None = "auto", optimizer: torch.optim.Optimizer | None = None,
        train_step: Callable | None = None, val_step: Callable | None = None,
        val_score: Callable[[nn.Module], float] | None = None, progress: bool = True,
        desc: str = "training", max_steps: int | None = None, mixed_precision: bool = True,
        num_workers: int = 0) -> History:
    """Train ``model`` in place and return its :class:`History`.

    Parameters
    ----------
    train_data, val_data : Dataset or tuple of arrays/tensors ``(X..., y)``; ``val_data=None`` means no early stop.
    loss_fn : ``loss_fn(model(*xs), y)`` for the default step (e.g. ``nn.CrossEntropyLoss()``).
    epochs, lr, weight_decay, batch_size : the usual; Adam unless ``optimizer`` is given.
    patience : epochs without improvement of the validation criterion before stopping; ``None`` never stops.
    seed : seeds the weights' RNG state used during training and the batch order (the same seed gives the same
        numbers on the same machine).
    train_step(model, batch, progress) -> loss : a custom objective; ``progress`` in [0, 1].
    val_step(model, batch) -> loss : validation loss per batch (default: ``train_step`` under ``no_grad``).
    val_score(model) -> float : if given, early stopping keeps the highest score instead of the lowest val loss.
    max_steps : stop after this many optimisation steps in all (``None``: no cap). The ``gpu_profile`` tests run the
        paper-scale configurations on the CPU with a cap of a few steps, so a GPU user does not meet the first crash.
    mixed_precision : on CUDA only, run the forward pass under ``torch.autocast`` (bfloat16); ignored on the CPU,
        where every number of the book is computed in float32.
    num_workers : DataLoader workers, on CUDA only (with ``pin_memory``); on the CPU batches are made in-process.

    Raises ``ValueError`` if neither ``loss_fn`` nor ``train_step`` is given, or ``max_steps`` < 1.
    """
    from tqdm.auto import tqdm

    if loss_fn is None and train_step is None:
        raise ValueError("fit() needs loss_fn or train_step")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1 (or None), got {max_steps}")
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    import contextlib

    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda and mixed_precision else \
        contextlib.nullcontext
    seed_everything(seed)
    model.to(dev)
    step = train_step or _default_step(loss_fn)
    vstep = val_step or (lambda m, b: step(m, b, 1.0))
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    loader_kw = dict(pin_memory=True, num_workers=num_workers) if cuda else {}
    train_loader = DataLoader(as_dataset(train_data), batch_size=batch_size, shuffle=True, generator=gen,
                              **loader_kw)
    val_loader = DataLoader(as_dataset(val_data), batch_size=1024, **loader_kw) if val_data is not None else None
    hist = History()
    best, best_state, since = None, None, 0
    n_steps = max(1, epochs * len(train_loader))
    done = 0
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        total, n = 0.0, 0
        for batch in train_loader:
            batch = _to(batch, dev)
            with autocast():
                loss = step(model, batch, done / n_steps)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            total += float(loss.detach()) * len(batch[0])
            n += len(batch[0])
            if max_steps is not None and done >= max_steps:
                break
        hist.train_loss.append(total / max(n, 1))
        capped = max_steps is not None and done >= max_steps
        if val_loader is None:
            bar.set_postfix(loss=f"{hist.train_loss[-1]:.4f}")
            if capped:
                break
            continue
        model.eval()
        with torch.no_grad():
            vt, vn = 0.0, 0
            for batch in val_loader:
                batch = _to(batch, dev)
                vt += float(vstep(model, batch)) * len(batch[0])
                vn += len(batch[0])
        hist.val_loss.append(vt / max(vn, 1))
        if val_score is not None:
            with torch.no_grad():
                hist.val_score.append(float(val_score(model)))
            crit = -hist.val_score[-1]
        else:
            crit = hist.val_loss[-1]
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.4f}", val=f"{hist.val_loss[-1]:.4f}")
        if best is None or crit < best - 1e-6:
            best, since, hist.best_epoch = crit, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            since += 1
            if patience is not None and since >= patience:
                hist.stopped_early = True
                break
        if capped:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return hist


@torch.no_grad()
def predict(model: nn.Module, X, *, batch_size: int = 2048, device=None) -> np.ndarray:
    """Model outputs (logits) for ``X`` (array or tensor, first axis = samples) as a NumPy array."""
    dev = next(model.parameters()).device if device is None else resolve_device(device)
    model.eval()
    X = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
    outs = [model(X[i:i + batch_size].to(dev)).detach().cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(outs).numpy() if outs else np.empty((0,))


def step_memory(model: nn.Module, batch, target: torch.Tensor, *, optimizer=None, loss=None, repeats: int = 3,
                inputs: Sequence[torch.Tensor] = ()) -> dict:
    """Parameters and memory of one training step (forward, loss, backward, optimiser update) of ``model`` on
    ``batch`` (whatever ``model(batch)`` takes) with labels ``target`` (B,), measured on the CPU.

    ``optimizer``: default Adam over the model's parameters; ``loss``: default cross-entropy; ``inputs``: the tensors
    of the batch to count as resident (default: ``batch`` if it is a tensor). Returns ``{"parameters",
    "persistent_bytes", "peak_bytes"}``: ``persistent_bytes`` sums the storages of the weights, buffers, gradients,
    the optimiser's state and the inputs after a first step (exact); ``peak_bytes`` is the largest total of live
    tensors over one further step in ``torch.profiler``'s memory timeline (``export_memory_timeline``, all
    categories), the largest over ``repeats`` steps (the profiler attributes tensors made before it started unevenly,
    so single readings differ by a few MB). On a GPU the CUDA context and cuDNN workspaces come on top. The bench
    scripts ``bench/*_memory.py`` print these for each chapter's gpu-profile networks (the README's memory table).
    """
    import json
    import tempfile
    import warnings

    from torch.profiler import ProfilerActivity, profile

    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters())
    loss_fn = loss if loss is not None else nn.functional.cross_entropy
    model.train()

    def step():
        value = loss_fn(model(batch), target)
        opt.zero_grad()
        value.backward()
        opt.step()

    step()
    inputs = list(inputs) or ([batch] if torch.is_tensor(batch) else [])
    tensors = [*model.parameters(), *model.buffers(), *(p.grad for p in model.parameters() if p.grad is not None),
               target, *inputs, *(v for st in opt.state.values() for v in st.values() if torch.is_tensor(v) and v.ndim)]
    persistent = sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}.values())
    peak = 0
    for _ in range(repeats):
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                     with_stack=True) as prof:
            step()
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of CUDA-only memory snapshots
            prof.export_memory_timeline(f"{tmp}/m.json", device="cpu")
            with open(f"{tmp}/m.json") as fh:
                _, sizes = json.load(fh)
        peak = max(peak, int(np.asarray(sizes).sum(axis=1).max()))
    return {"parameters": int(sum(p.numel() for p in model.parameters())), "persistent_bytes": int(persistent),
            "peak_bytes": peak}


def memory_table(rows, *, seconds: float | None = None) -> str:
    """A markdown table of :func:`step_memory` results: ``rows`` of ``(network, input, batch, result)``; sizes in MiB.
    ``seconds``: the measuring time, printed under the table. The ``bench/*_memory.py`` scripts print it."""
    lines = ["| network | input | batch | parameters | persistent (MiB) | peak, timeline (MiB) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {shape} | {batch} | {m['parameters']:,} | {m['persistent_bytes'] / 2**20:.2f} | "
              f"{m['peak_bytes'] / 2**20:.2f} |" for name, shape, batch, m in rows]
    return "\n".join(lines + ([f"({seconds:.1f} s)"] if seconds is not None else []))
