"""Smoke execution of the morphology chapter's sequence, fusion and t-SNE pages (run once per session by the
``smoke_book`` fixture): each executed page has figures and its results file has the expected keys."""
from __future__ import annotations

import json

import pytest

STATS = ("accuracy", "accuracy_sd", "auc", "auc_sd")
EXPECTED = {
    "04_sequence_models": [f"rat_s1_2class/{m}/{s}" for m in ("lstm", "tree_lstm") for s in STATS],
    "05_fusion": [f"rat_s1_2class/{m}/{s}" for m in ("svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion",
                                                      "neurite_gb") for s in STATS],
    "06_tsne": [f"rat_s1_2class/{sp}/{k}" for sp in ("fused640", "hand19")
                for k in ("tsne_knn_accuracy", "silhouette", "tsne_silhouette")],
}


def _check(smoke_book, name):
    nb = json.loads((smoke_book / "book" / "morphology" / f"{name}.ipynb").read_text())
    pngs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    assert pngs, f"{name}: no figure in the executed notebook"
    res = json.loads((smoke_book / "_build" / "results" / "morphology" / f"{name}.json").read_text())
    missing = [k for k in EXPECTED[name] if k not in res["metrics"]]
    assert not missing, f"{name}: results file lacks {missing}"
    assert res["parameters"]["profile"] == "smoke"
    for k in EXPECTED[name]:
        v = res["metrics"][k]
        if k.endswith(("accuracy", "auc", "tsne_knn_accuracy")) and v is not None:
            assert 0.0 <= v <= 1.0, (k, v)
    return res


@pytest.mark.notebook
def test_04_sequence_models(smoke_book):
    _check(smoke_book, "04_sequence_models")


@pytest.mark.notebook
def test_05_fusion(smoke_book):
    res = _check(smoke_book, "05_fusion")
    assert res["parameters"]["n_cells"] > 0


@pytest.mark.notebook
def test_06_tsne(smoke_book):
    _check(smoke_book, "06_tsne")
