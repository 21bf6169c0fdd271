"""Smoke execution of the morphology notebooks of part A (01 data, 02 features + SVM, 03 CNN, 07 virtual set):
each executed page passes conftest's ``check_smoke_page`` (results file, fixed key slots, expected keys, every figure
glued and placed by a ``{glue:figure}`` block, no error output) and its bounded metrics are in range. ``check_page``
serves part B too (``test_morphology_notebooks_b.py``)."""
from __future__ import annotations

import json

import pytest
from conftest import check_smoke_page

CHAPTER = "morphology"
STATS = ("accuracy", "accuracy_sd", "auc", "auc_sd")
EXPECTED = {
    "01_data": ["rat_s1_2class/data/n_cells", "rat_s1_mtype/data/n_cells", "zhang12/data/n_cells",
                "zhang12/data/n_classes"],
    "02_features_svm": ["rat_s1_2class/svm/accuracy", "rat_s1_2class/svm/auc", "rat_s1_mtype/svm/macro_recall",
                        "rat_s1_mtype/svm/group=PC/recall", "zhang12/svm/accuracy",
                        "rat_s1_mtype/lmeasure_length/max_median_rel_diff"],
    "03_cnn": ["rat_s1_2class/cnn/accuracy", "rat_s1_2class/cnn/auc"],
    "07_virtual": [f"virtual/{m}/{s}" for m in ("svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion")
                   for s in STATS],
}
#: each page's prefix of its glue names (``morph_<prefix>_summary`` opens the page)
PREFIX = {"01_data": "data", "02_features_svm": "svm", "03_cnn": "cnn", "04_sequence_models": "seq",
          "05_fusion": "fusion", "06_tsne": "tsne", "07_virtual": "virtual"}
BOUNDED = ("accuracy", "auc", "tsne_knn_accuracy", "recall")


def check_page(root, name: str, expected) -> dict:
    """The executed page ``name`` passes ``check_smoke_page`` with ``all_figures_glued`` (so every figure is numbered
    and captioned), its results file has the ``expected`` keys (numbers, or null for NaN; accuracies, AUCs and
    recalls in [0, 1], paired differences of them in [-1, 1]). Returns the results file."""
    from neuro_lib import results

    check_smoke_page(root, CHAPTER, name, expected, all_figures_glued=True)
    first = next("".join(c["source"]) for c in json.loads((root / "book" / CHAPTER / f"{name}.ipynb").read_text())
                 ["cells"] if c["cell_type"] == "markdown")
    assert f"{{glue:md}} morph_{PREFIX[name]}_summary" in first, f"{name}: no glued summary under the title"
    res = json.loads((root / "_build" / "results" / CHAPTER / f"{name}.json").read_text())
    for k, v in res["metrics"].items():
        parts = results.parse_key(k)
        if v is not None and k.endswith(BOUNDED):
            lowest = -1.0 if parts.vs else 0.0  # a paired difference (diff_vs_M) may be negative
            assert lowest <= v <= 1.0, (k, v)
    return res


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_part_a(smoke_book, name):
    check_page(smoke_book, name, EXPECTED[name])
