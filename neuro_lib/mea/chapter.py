"""The MEA chapter's run settings per profile, shared by its four notebooks so that they simulate the same datasets
and that ``04_generalisation`` reuses the networks ``03_classify`` trained (same cache keys).

``smoke`` (tests): two cells (one inhibitory, one excitatory), 30 EAPs per cell and regime, one epoch, one torch
thread, two seeds.
``cpu`` (the default): the paper's full dataset (13 cells x 1,000 kept EAPs x 4 regimes) and up to 60 epochs with
early stopping after 10 without improvement of the validation accuracy (about 2 s an epoch on two torch threads);
``03_classify``'s networks (and so ``04_generalisation``'s cross-regime matrix) over 3 seeds, the held-out-position
and noise networks of ``04_generalisation`` over one.
``gpu``: the same data, up to 200 epochs (patience 20), the 4-channel network in every regime, 5 seeds everywhere.

A seed ``j`` of ``n_seeds`` is a new random split of the spikes (``seed + j``) and a new initialisation and batch
order of the network (``random_state = seed + j``); seed 0 is the single run of earlier versions.
``max_steps`` (default ``None``) caps every network at that many optimisation steps (one epoch of that many
batches): the ``gpu_profile`` tests run the gpu configuration on a CPU that way.
"""
from __future__ import annotations

from .cells import CELL_MODELS
from .extracellular import REGIMES

__all__ = ["PROFILE_SETTINGS", "settings", "load_datasets"]

_SMOKE_CELLS = ["L5_BP_bAC217_1", "L5_UTPC_cADpyr232_1"]

PROFILE_SETTINGS = {
    "smoke": dict(cells=_SMOKE_CELLS, n_per_cell=30, n_jobs=1, epochs=1, patience=1, noise_per_cell=20,
                  extended=list(REGIMES), threads=1, n_seeds=2, n_seeds_generalisation=1, max_steps=None),
    "cpu": dict(cells=list(CELL_MODELS), n_per_cell=1000, n_jobs=2, epochs=60, patience=10, noise_per_cell=400,
                extended=["3drot"], threads=2, n_seeds=3, n_seeds_generalisation=1, max_steps=None),
    "gpu": dict(cells=list(CELL_MODELS), n_per_cell=1000, n_jobs=2, epochs=200, patience=20, noise_per_cell=1000,
                extended=list(REGIMES), threads=2, n_seeds=5, n_seeds_generalisation=5, max_steps=None),
}


def settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (see the module docstring) with every override that is not ``None`` applied.

    Keys: ``cells`` (list of model names), ``n_per_cell``, ``n_jobs``, ``epochs``, ``patience``, ``noise_per_cell``,
    ``extended`` (regimes where the 4-channel network is also trained), ``threads`` (torch CPU threads the networks
    train with: pass it to :func:`neuro_lib.profiles.runtime`), ``n_seeds`` (seeds of ``03_classify``'s networks),
    ``n_seeds_generalisation`` (of the held-out-position and noise networks), ``max_steps`` (``None``, or a cap on
    each network's optimisation steps). Raises ``ValueError`` for an unknown profile or an unknown key.
    """
    from .. import profiles

    cfg = profiles.settings(profile, PROFILE_SETTINGS, overrides, what="MEA",
                            ints=("n_per_cell", "n_jobs", "epochs", "patience", "noise_per_cell", "threads", "n_seeds",
                                  "n_seeds_generalisation"))
    cfg["cells"] = list(cfg["cells"])
    return cfg


def load_datasets(cfg: dict, seed: int = 0, *, progress: bool = True) -> dict:
    """``{regime: MEADataset}`` for the four rotation regimes with ``cfg``'s cells and counts: from the cache, or
    simulated (a progress bar per regime) and cached; see :func:`neuro_lib.mea.dataset.build_dataset`."""
    from .dataset import DatasetParams, build_dataset

    return {r: build_dataset(DatasetParams(cells=tuple(cfg["cells"]), regime=r, n_per_cell=cfg["n_per_cell"],
                                           seed=seed), n_jobs=cfg["n_jobs"], progress=progress) for r in REGIMES}
