"""Smoke runs of the imaging chapter's notebooks (through the session fixture ``smoke_book``)."""
from __future__ import annotations

import json

import pytest
from conftest import check_smoke_page

NOTEBOOKS = {
    "01_data": ["data/neurofinder/n_rois", "data/neurofinder/n_frames", "data/neurofinder/frame_rate_hz",
                "data/neurofinder/n_active_rois"],
    "02_segmentation": ["segmentation/unet/pixel_accuracy", "segmentation/unet/f1", "segmentation/correlation/f1",
                        "segmentation/suite2p/f1", "segmentation/suite2p_iscell/f1",
                        "segmentation/unet/inference_seconds_512"],
    "03_patch_classification": ["patches/resnet18/accuracy", "patches/inception_v3/accuracy",
                                "patches/logistic_regression/accuracy", "patches/resnet18_fc_random/accuracy_sd",
                                "runtime/03_patch_classification/seconds"],
    "04_pipeline": ["segmentation/pipeline/f1", "segmentation/pipeline/diff_vs_unet/f1",
                    "segmentation/pipeline/diff_vs_unet/f1_lo", "segmentation/candidates/recall",
                    "candidates/resnet18_conv1_autoencoder/auc"],
}


def _check(root, name, keys):
    """check_smoke_page's checks (results keys, smoke profile, a figure, no error, every figure glued and placed)
    plus the data checksums; returns the results document."""
    check_smoke_page(root, "imaging", name, keys, all_figures_glued=True)
    doc = json.loads((root / "_build" / "results" / "imaging" / f"{name}.json").read_text())
    assert doc["data"], "results must record the data checksums"
    return doc


@pytest.mark.notebook
def test_01_data(smoke_book):
    doc = _check(smoke_book, "01_data", NOTEBOOKS["01_data"])
    assert doc["metrics"]["data/neurofinder/n_rois"] == 330
    assert 0 < doc["metrics"]["data/neurofinder/n_active_rois"] <= 330


@pytest.mark.notebook
def test_02_segmentation(smoke_book):
    doc = _check(smoke_book, "02_segmentation", NOTEBOOKS["02_segmentation"])
    m = doc["metrics"]
    assert 0 <= m["segmentation/unet/pixel_accuracy"] <= 1
    _check_over_seeds(m, "segmentation/unet", ("f1", "pixel_accuracy", "precision", "recall"))


def _check_over_seeds(m, prefix, metrics):
    """The headline ``<prefix>/<metric>`` is the mean of the page's seeds (the smoke profile trains 2), with their
    sample sd beside it (issue 14)."""
    import numpy as np

    n = int(m[f"{prefix}/n_seeds"])
    assert n == 2
    for metric in metrics:
        per_seed = [m[f"{prefix}/split=seed_{s}/{metric}"] for s in range(n)]
        assert m[f"{prefix}/{metric}"] == pytest.approx(np.mean(per_seed))
        assert m[f"{prefix}/{metric}_sd"] == pytest.approx(np.std(per_seed, ddof=1))


@pytest.mark.notebook
def test_03_patch_classification(smoke_book):
    doc = _check(smoke_book, "03_patch_classification", NOTEBOOKS["03_patch_classification"])
    m = doc["metrics"]
    exact = [k for k in m if k.endswith("/split=exact_centres/accuracy")]
    assert len(exact) == 1  # the best network, rerun on exactly centred patches
    best = exact[0].split("/")[1]
    assert m[f"patches/{best}/accuracy"] == max(m[f"patches/{a}/accuracy"] for a in ("resnet18", "inception_v3"))
    _check_over_seeds(m, "patches/best", ("accuracy", "macro_f1"))
    assert m["patches/best/split=seed_0/accuracy"] == m[f"patches/{best}/accuracy"]  # seed 0 is Table 1's run
    assert doc["parameters"]["best"] == best


@pytest.mark.notebook
def test_04_pipeline(smoke_book):
    doc = _check(smoke_book, "04_pipeline", NOTEBOOKS["04_pipeline"])
    m = doc["metrics"]
    assert 0 <= m["segmentation/pipeline/f1"] <= 1
    # the pipeline keeps a subset of the candidates, so it cannot find more ROIs than they do
    assert m["segmentation/pipeline/recall"] <= m["segmentation/candidates/recall"]
    lo, hi = m["segmentation/pipeline/diff_vs_unet/f1_lo"], m["segmentation/pipeline/diff_vs_unet/f1_hi"]
    assert lo is None or lo <= m["segmentation/pipeline/diff_vs_unet/f1"] <= hi
    for stage in ("pipeline", "unet", "candidates"):
        _check_over_seeds({**m, f"segmentation/{stage}/n_seeds": m["segmentation/pipeline/n_seeds"]},
                          f"segmentation/{stage}", ("f1", "precision", "recall"))
    seg = json.loads((smoke_book / "_build" / "results" / "imaging" / "02_segmentation.json").read_text())["metrics"]
    for s in range(2):  # the pipeline's first stage is page 2's U-Nets of the same seeds
        assert m[f"segmentation/unet/split=seed_{s}/f1"] == pytest.approx(seg[f"segmentation/unet/split=seed_{s}/f1"])
