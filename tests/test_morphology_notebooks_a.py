"""Smoke execution of the morphology notebooks of part A (01 data, 02 features + SVM, 03 CNN, 07 virtual set):
each executed page has figures and writes its results file with the expected keys."""
from __future__ import annotations

import json

import nbformat
import pytest

CHAPTER = "morphology"
EXPECTED = {
    "01_data": ["rat_s1_2class/data/n_cells", "rat_s1_mtype/data/n_cells", "zhang12/data/n_cells",
                "zhang12/data/n_classes"],
    "02_features_svm": ["rat_s1_2class/svm/accuracy", "rat_s1_2class/svm/auc", "rat_s1_mtype/svm/macro_recall",
                        "zhang12/svm/accuracy", "rat_s1_mtype/lmeasure_length/max_median_rel_diff"],
    "03_cnn": ["rat_s1_2class/cnn/accuracy", "rat_s1_2class/cnn/auc"],
    "07_virtual": [f"virtual/{m}/{s}" for m in ("svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion")
                   for s in ("accuracy", "accuracy_sd", "auc", "auc_sd")],
}


def _check(root, nb):
    path = root / "book" / CHAPTER / f"{nb}.ipynb"
    assert path.exists(), f"{path} was not executed"
    book = nbformat.read(path, as_version=4)
    pngs = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    assert pngs, f"{nb} has no figure output"
    res = json.loads((root / "_build" / "results" / CHAPTER / f"{nb}.json").read_text())
    assert res["parameters"]["profile"] == "smoke"
    for key in EXPECTED[nb]:
        assert key in res["metrics"], f"{nb}: missing {key}"
        v = res["metrics"][key]
        assert v is None or v == v  # a number (NaN is stored as null)


@pytest.mark.notebook
def test_01_data(smoke_book):
    _check(smoke_book, "01_data")


@pytest.mark.notebook
def test_02_features_svm(smoke_book):
    _check(smoke_book, "02_features_svm")


@pytest.mark.notebook
def test_03_cnn(smoke_book):
    _check(smoke_book, "03_cnn")


@pytest.mark.notebook
def test_07_virtual(smoke_book):
    _check(smoke_book, "07_virtual")
