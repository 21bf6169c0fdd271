"""Each ephys notebook runs in the smoke profile (through neuro_lib.run, via the session fixture) and leaves its
results file and figures."""
import json

import pytest

pytestmark = pytest.mark.notebook

EXPECTED = {
    "01_data": ["data/mouse/cells", "data/human/cells", "data/mouse/Pvalb"],
    "02_ei_domain_adaptation": ["ei/dann/human/accuracy", "ei/dann/mouse/accuracy", "ei/source_only/human/accuracy",
                                "ei/logistic_regression/human/accuracy", "ei/dann/paper_split/human/accuracy"],
    "03_cre_lines_lspin": ["cre5/lspin/accuracy", "cre5/lspin/macro_f1", "cre5/logistic_regression/accuracy",
                           "cre5/lspin/paper_split/accuracy"],
    "04_interpretation": ["gates/lspin/paper_split_accuracy", "gates/lspin/mean_open_fraction"],
}


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ephys_notebook_smoke(smoke_book, name):
    doc = json.loads((smoke_book / "_build" / "results" / "ephys" / f"{name}.json").read_text())
    assert doc["parameters"]["profile"] == "smoke"
    for key in EXPECTED[name]:
        assert key in doc["metrics"], key
        assert doc["metrics"][key] is None or 0 <= doc["metrics"][key] <= 1e6
    nb = json.loads((smoke_book / "book" / "ephys" / f"{name}.ipynb").read_text())
    assert _images(nb) >= 1
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_ephys_label_counts_in_results(smoke_book):
    m = json.loads((smoke_book / "_build" / "results" / "ephys" / "01_data.json").read_text())["metrics"]
    assert [m[f"data/mouse/{c}"] for c in ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]] == \
        [700, 231, 199, 173, 121]
    assert (m["data/human/excitatory"], m["data/human/inhibitory"]) == (231, 68)
