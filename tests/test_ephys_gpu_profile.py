"""Each ephys page in its gpu profile's configuration (epoch budgets, ensemble of 5 LSPINs, SHAP sizes, batch size
64) on the CPU, with every network fit capped at 2 optimisation steps, 300 cells and one seed, so the first GPU user
does not meet a crash. Run with ``pytest -m gpu_profile``."""
import pytest

pytestmark = pytest.mark.gpu_profile

CAPPED = {"max_steps": 2, "max_cells": 300}
PAGES = {"01_data": {}, "02_ei_domain_adaptation": {**CAPPED, "n_repeats": 1},
         "03_cre_lines_lspin": {**CAPPED, "n_repeats": 1}, "04_interpretation": CAPPED}
GPU_SETTINGS = {"02_ei_domain_adaptation": {"dann_epochs": 300, "max_steps": 2, "max_cells": 300},
                "03_cre_lines_lspin": {"lspin_epochs": 500, "n_ensemble": 5, "max_steps": 2},
                "04_interpretation": {"interpretation_epochs": 500, "n_ensemble": 5, "n_shap": 345,
                                      "n_background": 200, "max_steps": 2}}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_ephys_page_runs_in_its_gpu_configuration(name, gpu_profile_page):
    gpu_profile_page("ephys", name, PAGES[name], GPU_SETTINGS.get(name, {}))
