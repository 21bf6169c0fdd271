"""The MEA chapter's pages in the gpu profile's configuration (every network at its paper scale and batch size, the
4-channel network in every regime, its epochs and patience), run on the CPU with each network capped at 2 optimisation
steps and the data subsampled (the smoke profile's two cells, 30 EAPs per cell and regime, 10 spikes per cell for the
noise experiment and only its 20 uV level beside the clean spikes, 2 seeds instead of 5) and one torch thread (the gpu
profile's 2 oversubscribe a loaded 2-core machine, and ``make test`` runs these tests on 2 workers), so that the first
GPU user does not meet a crash. Page 04 reads page 03's networks from the cache (under pytest-xdist's ``--dist
loadfile`` one worker runs the whole file, in order). Run with ``pytest -m gpu_profile`` (``-n 2 --dist loadfile`` as
``make test``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuro_lib.mea import chapter
from neuro_lib.results import parse_key

ROOT = Path(__file__).resolve().parents[1]
CAPPED = {"profile": "gpu", "device": "cpu", "max_steps": 2, "n_per_cell": 30, "noise_per_cell": 10,
          "cells": chapter.PROFILE_SETTINGS["smoke"]["cells"], "n_seeds": 2, "n_seeds_generalisation": 2,
          "noise_levels": [20.0], "threads": 1}
PAGES = {"01_simulate": ("n_per_cell", "cells"), "02_features": ("n_per_cell", "cells"),
         "03_classify": ("n_per_cell", "cells", "max_steps", "n_seeds", "threads"),
         "04_generalisation": ("n_per_cell", "cells", "max_steps", "noise_per_cell", "n_seeds",
                               "n_seeds_generalisation", "noise_levels", "threads")}
KEYS = {"03_classify": ["mtype/cnn_4ch/split=norot/accuracy", "mtype/cnn_4ch/split=norot/diff_vs_cnn/accuracy_lo",
                        "binary/cnn/split=xrot/accuracy_sd"],
        "04_generalisation": ["mtype/cnn/split=3drot-heldout-z/accuracy_sd", "binary/cnn/split=3drot-noise20/accuracy",
                              "mtype/cnn/split=zrot-to-xrot/accuracy_sd"]}


@pytest.mark.gpu_profile
@pytest.mark.parametrize("name", sorted(PAGES))
def test_mea_page_runs_in_the_gpu_configuration(tmp_path, name):
    from neuro_lib.run import run_notebook

    params = {k: CAPPED[k] for k in ("profile", "device", *PAGES[name])}
    run_notebook(ROOT / "book" / "mea" / f"{name}.py", params, tmp_path, progress=False)
    res = json.loads((tmp_path / "mea" / f"{name}.json").read_text())
    assert res["parameters"]["profile"] == "gpu"
    for k in res["metrics"]:
        parse_key(k)
    assert not [k for k in KEYS.get(name, []) if k not in res["metrics"]]
    if name in ("03_classify", "04_generalisation"):
        gpu = chapter.settings("gpu")
        assert res["parameters"]["max_steps"] == 2 and res["parameters"]["n_seeds"] == 2
        assert res["parameters"]["epochs"] == gpu["epochs"] and gpu["n_seeds"] >= 5
