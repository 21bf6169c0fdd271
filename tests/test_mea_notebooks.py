"""Smoke runs of the MEA chapter's notebooks (executed once per session by the ``smoke_book`` fixture)."""
from __future__ import annotations


import pytest
from conftest import check_smoke_page

from neuro_lib.mea.extracellular import REGIMES
from neuro_lib.results import parse_key

EXPECTED = {
    "01_simulate": [f"simulation/line_source/split={r}/kept_eaps" for r in REGIMES]
    + ["simulation/line_source/megabytes", "simulation/neuron/seconds"],
    "02_features": [f"features/amp_width/split={r}/group=excitatory/median_amplitude_uv" for r in REGIMES],
    "03_classify": [f"{t}/cnn/split={r}/accuracy" for t in ("binary", "mtype") for r in REGIMES]
    + [f"mtype/cnn/split={r}/cell_accuracy_median" for r in REGIMES]
    + [f"mtype/cnn/split={r}/group=BP/accuracy" for r in REGIMES] + ["mtype/cnn_4ch/split=3drot/accuracy"]
    + [f"mtype/cnn/split={r}/accuracy_sd" for r in REGIMES]          # smoke: 2 seeds
    + [f"mtype/cnn_4ch/split=3drot/diff_vs_cnn/accuracy{s}" for s in ("", "_lo", "_hi", "_p")],
    "04_generalisation": ["mtype/cnn/split=3drot-heldout-z/accuracy", "binary/cnn/split=3drot-noise20/accuracy",
                          "mtype/cnn/split=norot-to-3drot/accuracy", "mtype/cnn/split=norot-to-3drot/accuracy_sd"],
}


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mea_notebook_smoke(smoke_book, name):
    metrics = check_smoke_page(smoke_book, "mea", name, EXPECTED[name], all_figures_glued=True)
    for k in EXPECTED[name]:
        v = metrics[k]
        assert v is not None
        if k.endswith("accuracy"):                    # an accuracy, or a difference of two (diff_vs_<model>)
            assert (-1.0 if parse_key(k).vs else 0.0) <= v <= 1.0
