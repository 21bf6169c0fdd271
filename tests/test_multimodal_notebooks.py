"""Each multimodal notebook runs in the smoke profile (through neuro_lib.run, via the session fixture) and leaves its
results file and figures."""
import json

import pytest
from conftest import check_smoke_page

pytestmark = pytest.mark.notebook

EXPECTED = {
    "01_data": ["data/allen_visp/group=all/cells", "data/allen_visp/group=dendrite-only/cells",
                "data/allen_visp/group=in_ophir41/cells", "data/morph/missing_fraction"],
    "02_classify": ["e_i/fused/accuracy", "e_i/ephys/accuracy", "e_i/morphology/accuracy", "cre5/fused/accuracy",
                    "cre5/ephys_lspin/accuracy", "cre5/fused/diff_vs_ephys/accuracy_lo",
                    "cre5/joint_lspin/accuracy", "cre5/late_fusion_without_morph/accuracy",
                    "e_i/morphology_gb/group=dendrite-only/accuracy"],
    "03_what_each_sees": ["cre5/joint_lspin/gate_ephys", "cre5/joint_lspin/group=Sst/gate_morphology",
                          "cre5/tsne_fused/tsne_knn_accuracy", "e_i/tsne_morphology/tsne_silhouette"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_multimodal_notebook_smoke(smoke_book, name):
    check_smoke_page(smoke_book, "multimodal", name, EXPECTED[name], all_figures_glued=True)


def test_multimodal_counts_in_results(smoke_book):
    m = json.loads((smoke_book / "_build" / "results" / "multimodal" / "01_data.json").read_text())["metrics"]
    assert [m[f"data/allen_visp/group={c}/cells"] for c in ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]] \
        == [191, 62, 49, 49, 25]
    assert (m["data/allen_visp/group=full/cells"], m["data/allen_visp/group=dendrite-only/cells"]) == (211, 298)


def test_multimodal_rows_join_the_front_page(smoke_book):
    from neuro_lib.book import results_table

    text = results_table(smoke_book)
    part = text[text.index("### Morphology + electrophysiology"):].split("\n### ")[0]
    assert "| new |" in part and "| missing |" not in part and "| not run |" not in part
