"""Training and evaluating the MEA CNN on a simulated dataset (Buccino et al. 2018, Section II-D and III).

The paper draws its training and test spikes from the *same* 13 cells (each cell contributes spikes at other
positions and rotations to both sides); :func:`split_spikes` does that, stratified by cell. Generalisation to new
positions is tested by :func:`split_by_position` (beyond the paper).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .cells import cell_mtype

__all__ = ["TASKS", "labels", "split_spikes", "split_by_position", "train_cnn", "per_cell_table"]

TASKS = ("binary", "mtype")


def labels(ds, task: str) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names: ``binary`` -> 0 inhibitory / 1 excitatory; ``mtype`` -> the cell's index
    among ``ds.cells`` (13 classes, names = m-types). Raises ``ValueError`` for another task."""
    if task == "binary":
        return ds.excitatory, ["inhibitory", "excitatory"]
    if task == "mtype":
        return ds.cell.copy(), [cell_mtype(c) for c in ds.cells]
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def split_spikes(ds, *, test: float = 0.2, val: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random train/val/test split of the spikes, stratified by cell (the paper's setting: same cells on both
    sides). ``ds`` is a dataset or its per-spike cell indices (n,). Returns ``{"train", "val", "test"}`` index
    arrays."""
    from ..evaluation import stratified_split

    cell = np.asarray(getattr(ds, "cell", ds))
    tr, va, te = stratified_split(cell, [1 - test - val, val, test], seed=seed)
    return {"train": tr, "val": va, "test": te}


def split_by_position(ds, *, axis: int = 2, test_above: float = 35.0, val: float = 0.1, seed: int = 0):
    """Held-out positions: spikes whose soma coordinate ``axis`` (0 x, 1 y, 2 z, um) exceeds ``test_above`` are the
    test set; the rest is split into train/val stratified by cell."""
    from ..evaluation import stratified_split

    test = np.flatnonzero(ds.positions[:, axis] > test_above)
    rest = np.flatnonzero(ds.positions[:, axis] <= test_above)
    tr, va = stratified_split(ds.cell[rest], [1 - val, val], seed=seed)
    return {"train": rest[tr], "val": rest[va], "test": test}




def train_cnn(X: np.ndarray, y: np.ndarray, split: dict, n_classes: int, *, epochs: int = 30, lr: float = 1e-3,
              batch_size: int = 128, seed: int = 0, device="auto", patience: int | None = 8, dropout: float = 0.3,
              progress: bool = True, desc: str = "MEA CNN"):
    """Train :class:`~neuro_lib.models.mea_cnn.MEACNN` with :func:`neuro_lib.training.fit` (Adam, cross-entropy,
    early stopping on validation accuracy) on ``X[split["train"]]`` (n, channels, 10, 10); return
    ``(model, history, test predictions)``."""
    import torch
    from torch import nn

    from ..models.mea_cnn import MEACNN
    from ..training import fit, predict, seed_everything

    seed_everything(seed)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    tr, va, te = split["train"], split["val"], split["test"]
    model = MEACNN(n_classes, in_channels=X.shape[1], side=X.shape[-1], dropout=dropout).fit_scaler(X[tr])
    Xv, yv = torch.from_numpy(X[va]), y[va]

    def val_score(m):
        return float((predict(m, Xv).argmax(1) == yv).mean()) if len(va) else 0.0

    hist = fit(model, (X[tr], y[tr]), (X[va], y[va]) if len(va) else None, loss_fn=nn.CrossEntropyLoss(),
               epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device, patience=patience,
               val_score=val_score if len(va) else None, progress=progress, desc=desc)
    pred = predict(model, X[te]).argmax(1) if len(te) else np.zeros(0, int)
    return model, hist, pred


def per_cell_table(y_true, y_pred, cell, cell_names) -> tuple[pd.DataFrame, pd.Series]:
    """Accuracy of each cell's test spikes (the paper's Tables II-III) and its summary (mean, median, max, min, sd
    over cells). Returns ``(per-cell DataFrame, summary Series)``."""
    rows = []
    for i, name in enumerate(cell_names):
        sel = cell == i
        if sel.any():
            rows.append({"cell": name, "m-type": cell_mtype(name), "test spikes": int(sel.sum()),
                         "accuracy": float((y_true[sel] == y_pred[sel]).mean())})
    df = pd.DataFrame(rows)
    acc = df["accuracy"]
    summary = pd.Series({"mean": acc.mean(), "median": acc.median(), "max": acc.max(), "min": acc.min(),
                         "sd": acc.std(ddof=1) if len(acc) > 1 else 0.0})
    return df, summary


def model_path(ds, task: str, channels, split_name: str, *, seed: int, epochs: int, extra: str = ""):
    """Cache path of a trained model, keyed by the dataset's key, the task, input channels, split, seed, epochs."""
    import hashlib
    import json

    from ..datasets import cache_dir

    key = hashlib.sha256(json.dumps([ds.params, task, list(channels), split_name, seed, epochs, extra],
                                    sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "mea" / "models" / f"{ds.regime}-{task}-{key}.pt"


def train_or_load(ds, task: str, split: dict, *, channels=(0, 1), split_name: str = "spikes", seed: int = 0,
                  epochs: int = 30, device="auto", progress: bool = True, **kwargs):
    """Train the CNN on ``ds`` for ``task`` (or load the weights cached by an earlier run with the same key, with
    ``torch.load(weights_only=True)``); return ``(model, test predictions)``."""
    import torch

    from ..models.mea_cnn import MEACNN
    from ..training import predict

    X = ds.images(channels)
    y, names = labels(ds, task)
    path = model_path(ds, task, channels, split_name, seed=seed, epochs=epochs, extra=repr(sorted(kwargs.items())))
    if path.exists():
        model = MEACNN(len(names), in_channels=len(channels), dropout=kwargs.get("dropout", 0.3))
        model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
        model.eval()
        pred = predict(model, X[split["test"]]).argmax(1)
        return model, pred
    model, _, pred = train_cnn(X, y, split, len(names), epochs=epochs, seed=seed, device=device, progress=progress,
                               desc=f"{task} {ds.regime}", **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(path)
    return model.cpu(), pred
