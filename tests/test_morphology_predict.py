"""Classifying new SWC files with the chapter's models (neuro_lib.morphology.predict, through the book's
``python -m neuro_lib.predict`` CLI): trained on all of the task's cells (smoke profile), a bad file gets its error
row and the others are still classified, the networks' fits are read back from the cache."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

FIX = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "morphology"


@pytest.fixture
def inputs(tmp_path):
    good = tmp_path / "y_cell.swc"
    good.write_text((FIX / "y_cell.swc").read_text())
    bad = tmp_path / "cycle.swc"
    bad.write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 3\n3 3 2 0 0 1 2\n")
    sub = tmp_path / "more"
    sub.mkdir()
    (sub / "z.swc").write_text((FIX / "z_jump.swc").read_text())
    return [good, bad, sub]


def test_read_inputs_reports_the_bad_file_and_keeps_the_others(inputs):
    from neuro_lib.morphology.predict import read_inputs

    inp = read_inputs([str(p) for p in inputs])
    assert [Path(i).name for i in inp.ids] == ["y_cell.swc", "cycle.swc", "z.swc"]
    assert inp.valid == [0, 2] and len(inp.X) == 2
    assert "cycle.swc, line 2" in inp.errors[1] and "cycle of parent links" in inp.errors[1]


def test_views_of_new_cells_match_the_training_views(data_mirror):
    from neuro_lib.morphology import data
    from neuro_lib.morphology.predict import views_of

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = data.cells("rat_s1_2class", n_per_class=2, seed=0)
    v = views_of([data.load_swc(p) for p in df["path"]], {"features", "images"}, image_size=32)
    np.testing.assert_array_equal(v["features"], data.feature_table(df).to_numpy())
    np.testing.assert_array_equal(v["images"], data.projection_images(df, size=32))
    with pytest.raises(KeyError, match="unknown view"):
        views_of([], {"colour"})


def test_cli_trains_on_all_cells_and_writes_one_row_per_file(inputs, tmp_path, data_mirror, monkeypatch):
    from neuro_lib import predict
    from neuro_lib.morphology import predict as mp

    out = tmp_path / "predictions.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert predict.main(["morphology", "--task", "rat_s1_2class", "--profile", "smoke", "--out", str(out),
                             *map(str, inputs)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["input"]).name for r in rows] == ["y_cell.swc", "cycle.swc", "z.swc"]
    assert rows[1]["predicted"] == "" and "cycle" in rows[1]["error"]
    for r in (rows[0], rows[2]):
        assert r["predicted"] in ("interneuron", "principal") and r["error"] == ""
        assert float(r["p_interneuron"]) + float(r["p_principal"]) == pytest.approx(1, abs=1e-5)
    assert mp.MODELS["rat_s1_2class"][0] == "neurite_gb"
    # a network: trained once, then read back from the cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = mp.fitted_model("rat_s1_2class", "tree_lstm", profile="smoke", progress=False)
        calls = []
        monkeypatch.setattr("neuro_lib.estimators.TorchClassifier.fit", lambda *a, **k: calls.append(1))
        again = mp.fitted_model("rat_s1_2class", "tree_lstm", profile="smoke", progress=False)
    cells = mp.read_inputs([str(inputs[0])]).X
    assert not calls and np.array_equal(first.predict_proba(cells), again.predict_proba(cells))
    assert first.views == {"trees"} and list(first.classes_) == ["interneuron", "principal"]


def test_task_inputs_computes_only_the_views_asked_for(data_mirror):
    from neuro_lib.morphology import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        some = data.task_inputs("rat_s1_2class", n_per_class=6, seed=0, views={"neurites"})
        every = data.task_inputs("rat_s1_2class", n_per_class=6, seed=0)
        with pytest.raises(KeyError, match="unknown view"):
            data.task_inputs("rat_s1_2class", n_per_class=6, seed=0, views=["colour"])
    assert some.views.names == ["neurites"] and every.views.names == ["features", "neurites", "images", "trees"]
    np.testing.assert_array_equal(some.views["neurites"], every.views["neurites"])
    assert [s.test.tolist() for s in some.splits] == [s.test.tolist() for s in every.splits]
