"""Smoke runs of the MEA chapter's notebooks (executed once per session by the ``smoke_book`` fixture)."""
from __future__ import annotations

import json

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


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mea_page_leads_with_glued_results(smoke_book, name):
    """Each page opens with "What this page shows" and a glued summary of this run's numbers, and prints no
    sentence from an f-string cell: every Markdown output is glued (placed by the text), none is shown by a cell."""
    nb = json.loads((smoke_book / "book" / "mea" / f"{name}.ipynb").read_text())
    first = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "**What this page shows.**" in first and "{glue:md} mea_" in first, first[:300]
    summary = first.split("{glue:md} ")[1].split()[0]
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    glued = {o["metadata"]["scrapbook"]["name"]: o["data"] for o in outputs if "scrapbook" in o.get("metadata", {})}
    assert glued.get(summary, {}).get("application/papermill.record/text/markdown", "").strip(), summary
    printed = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert not printed, f"{name}: {len(printed)} Markdown output(s) shown by a cell, not glued"
