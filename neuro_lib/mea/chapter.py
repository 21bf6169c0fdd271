"""The MEA chapter's run settings per profile, shared by its four notebooks so that they simulate the same datasets
and that ``04_generalisation`` reuses the networks ``03_classify`` trained (same cache keys).

``smoke`` (tests): two cells (one inhibitory, one excitatory), 30 EAPs per cell and regime, one epoch, one torch
thread.
``cpu`` (the default): the paper's full dataset (13 cells x 1,000 kept EAPs x 4 regimes) and up to 60 epochs with
early stopping after 10 without improvement of the validation accuracy (about 2 s an epoch on two torch threads).
``gpu``: the same data, up to 200 epochs (patience 20), and the 4-channel network in every regime.
"""
from __future__ import annotations

from .cells import CELL_MODELS
from .extracellular import REGIMES

__all__ = ["PROFILE_SETTINGS", "settings", "load_datasets"]

_SMOKE_CELLS = ["L5_BP_bAC217_1", "L5_UTPC_cADpyr232_1"]

PROFILE_SETTINGS = {
    "smoke": dict(cells=_SMOKE_CELLS, n_per_cell=30, n_jobs=1, epochs=1, patience=1, noise_per_cell=20,
                  extended=list(REGIMES), threads=1),
    "cpu": dict(cells=list(CELL_MODELS), n_per_cell=1000, n_jobs=2, epochs=60, patience=10, noise_per_cell=400,
                extended=["3drot"], threads=2),
    "gpu": dict(cells=list(CELL_MODELS), n_per_cell=1000, n_jobs=2, epochs=200, patience=20, noise_per_cell=1000,
                extended=list(REGIMES), threads=2),
}


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``cells`` (list of model names), ``n_per_cell``, ``n_jobs``, ``epochs``, ``patience``, ``noise_per_cell``,
    ``extended`` (regimes where the 4-channel network is also trained), ``threads`` (torch CPU threads the networks
    train with: pass it to :func:`neuro_lib.profiles.runtime`). Raises ``ValueError`` for an unknown profile or an
    unknown key.
    """
    from .. import profiles

    cfg = profiles.settings(profile, PROFILE_SETTINGS, overrides, what="MEA",
                            ints=("n_per_cell", "n_jobs", "epochs", "patience", "noise_per_cell", "threads"))
    cfg["cells"] = list(cfg["cells"])
    return cfg


def load_datasets(cfg: dict, seed: int = 0, *, progress: bool = True) -> dict:
    """``{regime: MEADataset}`` for the four rotation regimes with ``cfg``'s cells and counts: from the cache, or
    simulated (a progress bar per regime) and cached; see :func:`neuro_lib.mea.dataset.build_dataset`."""
    from .dataset import DatasetParams, build_dataset

    return {r: build_dataset(DatasetParams(cells=tuple(cfg["cells"]), regime=r, n_per_cell=cfg["n_per_cell"],
                                           seed=seed), n_jobs=cfg["n_jobs"], progress=progress) for r in REGIMES}
