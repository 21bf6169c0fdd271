"""Each multimodal page in its gpu profile's configuration (10-repeat table, ensembles of 5 LSPINs, 500 epochs,
1,000 trees, 600 boosting rounds) on the CPU, with every network fit capped at 2 optimisation steps, 120 cells per
task, one repeat of 2 folds, so the first GPU user does not meet a crash. Run with ``pytest -m gpu_profile``."""
import json
from pathlib import Path

import pytest

from neuro_lib import results

pytestmark = pytest.mark.gpu_profile

ROOT = Path(__file__).resolve().parents[1]
CAPPED = {"max_steps": 2, "max_cells": 120, "n_splits": 2, "n_repeats": 1}
PAGES = {"01_data": {"max_steps": 2}, "02_classify": CAPPED, "03_what_each_sees": CAPPED}
GPU_SETTINGS = {"02_classify": {"lspin_epochs": 500, "n_ensemble": 5, "rf_trees": 1000, "gb_iter": 600,
                                "max_steps": 2, "max_cells": 120},
                "03_what_each_sees": {"lspin_epochs": 500, "n_ensemble": 5, "max_steps": 2, "max_cells": 120}}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_multimodal_page_runs_in_its_gpu_configuration(name, tmp_path):
    from neuro_lib.run import run_notebook

    out = run_notebook(ROOT / "book" / "multimodal" / f"{name}.py", {"profile": "gpu", "device": "cpu",
                                                                    **PAGES[name]}, tmp_path, progress=False)
    doc = json.loads(out.with_suffix(".json").read_text())
    params = doc["parameters"]
    assert params["profile"] == "gpu" and params["device"] == "cpu"
    for k, v in GPU_SETTINGS.get(name, {}).items():
        assert params[k] == v, k
    assert doc["metrics"] and all(results.parse_key(k) for k in doc["metrics"])
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
