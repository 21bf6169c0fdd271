"""Each ephys notebook runs in the smoke profile (through neuro_lib.run, via the session fixture) and leaves its
results file and figures."""
import json

import pytest
from conftest import check_smoke_page

pytestmark = pytest.mark.notebook

EXPECTED = {
    "01_data": ["data/ophir2023/group=mouse/cells", "data/ophir2023/group=human/cells",
                "data/ophir2023/group=Pvalb/cells"],
    "02_ei_domain_adaptation": ["ei/dann/group=human/accuracy", "ei/dann/group=mouse/accuracy",
                                "ei/source_only/group=human/accuracy", "ei/logistic_regression/group=human/accuracy",
                                "ei/dann/split=paper/group=human/accuracy"],
    "03_cre_lines_lspin": ["cre5/lspin/accuracy", "cre5/lspin/macro_f1", "cre5/logistic_regression/accuracy",
                           "cre5/lspin/split=paper/accuracy"],
    "04_interpretation": ["gates/lspin/split=paper/accuracy", "gates/lspin/split=paper/mean_open_fraction",
                          "tsne/dann/split=paper/group=human/cross_species_neighbours"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ephys_notebook_smoke(smoke_book, name):
    metrics = check_smoke_page(smoke_book, "ephys", name, EXPECTED[name], all_figures_glued=True)
    for key in EXPECTED[name]:
        assert metrics[key] is None or 0 <= metrics[key] <= 1e6


def test_ephys_label_counts_in_results(smoke_book):
    m = json.loads((smoke_book / "_build" / "results" / "ephys" / "01_data.json").read_text())["metrics"]
    assert [m[f"data/ophir2023/group={c}/cells"] for c in ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]] \
        == [700, 231, 199, 173, 121]
    assert (m["data/ophir2023/group=human_excitatory/cells"], m["data/ophir2023/group=human_inhibitory/cells"]) == \
        (231, 68)
