"""Each ephys page in its gpu profile's configuration (epoch budgets, ensemble of 5 LSPINs, SHAP sizes, batch size
64) on the CPU, with every network fit capped at 2 optimisation steps, 300 cells and one seed, so the first GPU user
does not meet a crash. Run with ``pytest -m gpu_profile``."""
import json
from pathlib import Path

import pytest

from neuro_lib import results

pytestmark = pytest.mark.gpu_profile

ROOT = Path(__file__).resolve().parents[1]
CAPPED = {"max_steps": 2, "max_cells": 300}
PAGES = {"01_data": {}, "02_ei_domain_adaptation": {**CAPPED, "n_repeats": 1},
         "03_cre_lines_lspin": {**CAPPED, "n_repeats": 1}, "04_interpretation": CAPPED}
GPU_SETTINGS = {"02_ei_domain_adaptation": {"dann_epochs": 300, "max_steps": 2, "max_cells": 300},
                "03_cre_lines_lspin": {"lspin_epochs": 500, "n_ensemble": 5, "max_steps": 2},
                "04_interpretation": {"interpretation_epochs": 500, "n_ensemble": 5, "n_shap": 345,
                                      "n_background": 200, "max_steps": 2}}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_ephys_page_runs_in_its_gpu_configuration(name, tmp_path):
    from neuro_lib.run import run_notebook

    out = run_notebook(ROOT / "book" / "ephys" / f"{name}.py", {"profile": "gpu", "device": "cpu", **PAGES[name]},
                       tmp_path, progress=False)
    doc = json.loads(out.with_suffix(".json").read_text())
    params = doc["parameters"]
    assert params["profile"] == "gpu" and params["device"] == "cpu"
    for k, v in GPU_SETTINGS.get(name, {}).items():
        assert params[k] == v, k
    assert doc["metrics"] and all(results.parse_key(k) for k in doc["metrics"])
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
