"""Smoke execution of the morphology notebooks of part A (01 data, 02 features + SVM, 03 CNN, 07 virtual set):
each executed page has figures and writes its results file with the expected keys. ``check_page`` serves part B too
(``test_morphology_notebooks_b.py``)."""
from __future__ import annotations

import json

import nbformat
import pytest

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
BOUNDED = ("accuracy", "auc", "tsne_knn_accuracy", "recall")


def check_page(root, name: str, expected) -> dict:
    """The executed page ``name`` has a figure, its results file the ``expected`` keys (numbers, or null for NaN;
    accuracies, AUCs and recalls in [0, 1], paired differences of them in [-1, 1]) and every key has the book's fixed
    slots. Returns the results file."""
    from neuro_lib import results

    book = nbformat.read(root / "book" / CHAPTER / f"{name}.ipynb", as_version=4)
    pngs = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    assert pngs, f"{name} has no figure output"
    res = json.loads((root / "_build" / "results" / CHAPTER / f"{name}.json").read_text())
    assert res["parameters"]["profile"] == "smoke"
    missing = [k for k in expected if k not in res["metrics"]]
    assert not missing, f"{name}: results file lacks {missing}"
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
