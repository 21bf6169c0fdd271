"""Each multimodal page in its gpu profile's configuration (10-repeat table, ensembles of 5 LSPINs, 500 epochs, 1,000
trees, 600 boosting rounds) on the CPU, with every network fit capped at 2 optimisation steps, 120 cells per task, one
repeat of 2 folds, so the first GPU user does not meet a crash. Page 03 reads page 02's runs from the cache (under
pytest-xdist's ``--dist loadfile`` one worker runs the whole file, in order). Run with ``pytest -m gpu_profile`` (``-n 2
--dist loadfile`` as ``make test``)."""
import pytest

pytestmark = pytest.mark.gpu_profile

CAPPED = {"max_steps": 2, "max_cells": 120, "n_splits": 2, "n_repeats": 1}
PAGES = {"01_data": {"max_steps": 2}, "02_classify": CAPPED, "03_what_each_sees": CAPPED}
GPU_SETTINGS = {"02_classify": {"lspin_epochs": 500, "n_ensemble": 5, "rf_trees": 1000, "gb_iter": 600,
                                "max_steps": 2, "max_cells": 120},
                "03_what_each_sees": {"lspin_epochs": 500, "n_ensemble": 5, "max_steps": 2, "max_cells": 120}}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_multimodal_page_runs_in_its_gpu_configuration(name, gpu_profile_page):
    gpu_profile_page("multimodal", name, PAGES[name], GPU_SETTINGS.get(name, {}))
