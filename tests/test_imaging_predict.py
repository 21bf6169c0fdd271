"""Classifying a user's ROIs: ``python -m neuro_lib.predict imaging`` reads Neurofinder folders ROI by ROI (a bad
ROI or folder is reported by file and ROI index, the others classified) and applies the chapter's patch classifier
trained on all of the book movie's patches (smoke profile here)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from neuro_lib import predict as cli
from neuro_lib.imaging import write_neurofinder
from neuro_lib.imaging import predict as img_predict


def _disk(center, radius, shape):
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    return np.argwhere((rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius ** 2)


@pytest.fixture
def folders(tmp_path):
    """A tiny Neurofinder folder with three good ROIs and one outside the image, and a folder without frames."""
    rng = np.random.default_rng(0)
    T, H, W = 12, 48, 56
    movie = rng.integers(500, 700, size=(T, H, W)).astype(np.uint16)
    rois = [_disk((10, 12), 3, (H, W)), _disk((30, 40), 3, (H, W)), _disk((40, 8), 2, (H, W))]
    for r in rois:
        movie[:, r[:, 0], r[:, 1]] += np.uint16(300)
    good = write_neurofinder(tmp_path / "good", movie, rois, ids=[101, 102, 103])
    doc = json.loads((good / "regions" / "regions.json").read_text())
    doc.insert(2, {"id": 999, "coordinates": [[H + 3, 4]]})  # ROI 2: outside the 48x56 image
    (good / "regions" / "regions.json").write_text(json.dumps(doc))
    bad = tmp_path / "noframes"
    (bad / "regions").mkdir(parents=True)
    (bad / "regions" / "regions.json").write_text("[]")
    return good, bad


def test_read_inputs_reports_a_bad_roi_and_a_bad_folder_and_keeps_the_rest(folders):
    good, bad = folders
    inp = img_predict.read_inputs([good, bad], "cell")
    assert inp.ids[:4] == [f"{good}:roi{i}:id={rid}" for i, rid in enumerate([101, 102, 999, 103])]
    assert inp.ids[4] == str(bad) and inp.valid == [0, 1, 3]
    assert set(inp.errors) == {2, 4}
    assert "regions.json [ROI 2, id 999]" in inp.errors[2] and "outside the 48x56 image" in inp.errors[2]
    assert "noframes/images" in inp.errors[4]
    np.testing.assert_allclose(inp.X.centres, [[10, 12], [30, 40], [40, 8]])
    patches = inp.X.patches(21)
    assert patches.shape == (3, 3, 21, 21) and patches[:, :, 10, 10].mean() > patches[:, :, 0, 0].mean()


@pytest.mark.parametrize("model", img_predict.MODELS["cell"])
def test_predict_cli_writes_one_row_per_roi(folders, tmp_path, model):
    good, bad = folders
    out = tmp_path / f"{model}.csv"
    assert cli.main(["imaging", "--model", model, "--profile", "smoke", "--out", str(out), str(good), str(bad)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and [r["error"] != "" for r in rows] == [False, False, True, False, True]
    for r in (rows[0], rows[1], rows[3]):
        p = float(r["p_cell"]) + float(r["p_not_cell"])
        assert r["predicted"] in ("cell", "not_cell") and p == pytest.approx(1, abs=1e-5)
    assert rows[2]["predicted"] == "" and "ROI 2" in rows[2]["error"]


def test_the_fitted_model_is_cached_and_unknown_names_refused():
    a = img_predict.fitted_model("cell", "resnet18_conv1_autoencoder", profile="smoke", progress=False)
    b = img_predict.fitted_model("cell", "resnet18_conv1_autoencoder", profile="smoke", progress=False)
    x = np.random.default_rng(1).random((4, 3, 21, 21)).astype(np.float32)
    np.testing.assert_array_equal(a.estimator.predict_proba(x), b.estimator.predict_proba(x))
    assert list(a.classes_) == ["not_cell", "cell"]
    with pytest.raises(ValueError, match="unknown imaging model"):
        img_predict.fitted_model("cell", "vgg", profile="smoke")
    with pytest.raises(ValueError, match="unknown imaging task"):
        img_predict.fitted_model("type", "logistic_regression", profile="smoke")
