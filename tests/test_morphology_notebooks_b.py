"""Smoke execution of the morphology chapter's sequence, fusion and t-SNE pages (run once per session by the
``smoke_book`` fixture): each executed page passes ``check_page`` (every figure glued and captioned, the expected
keys, bounded metrics in range) and ran on some cells."""
from __future__ import annotations

import pytest
from test_morphology_notebooks_a import STATS, check_page

MODELS = ("svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion", "neurite_gb")
EXPECTED = {
    "04_sequence_models": [f"rat_s1_2class/{m}/{s}" for m in ("lstm", "tree_lstm") for s in STATS],
    "05_fusion": [f"rat_s1_2class/{m}/{s}" for m in MODELS for s in STATS]
    + [f"rat_s1_2class/{m}/group=atypical/accuracy" for m in MODELS]
    + [f"rat_s1_2class/fusion/diff_vs_tree_lstm/accuracy{s}" for s in ("", "_lo", "_hi", "_p")],
    "06_tsne": [f"rat_s1_2class/{sp}/{k}" for sp in ("fused640", "hand19")
                for k in ("tsne_knn_accuracy", "silhouette", "tsne_silhouette")],
}


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_part_b(smoke_book, name):
    res = check_page(smoke_book, name, EXPECTED[name])
    assert res["parameters"]["n_cells"] > 0
