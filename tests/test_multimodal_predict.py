"""Classifying a user's own cells from both modalities (neuro_lib.multimodal.predict, through the book's
``python -m neuro_lib.predict multimodal`` CLI): real Allen cells (their SWC files from the mirror's archive, their
ephys rows from the chapter's own tables), a cell with ephys only, one with its SWC only, a broken SWC, a missing
SWC, a non-numeric feature and an empty row; the models are trained on all of the task's cells (smoke profile)."""
from __future__ import annotations

import csv
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuro_lib import predict as cli
from neuro_lib.ephys import ACTB_FEATURES, FEATURES_41
from neuro_lib.multimodal import data
from neuro_lib.multimodal import predict as mp

# rows of the cre5 CSV (data row i is CSV line i + 2)
COMPLETE, EPHYS_ONLY, MORPH_ONLY, CYCLE, NO_FILE, NOT_A_NUMBER, EMPTY = range(7)


@pytest.fixture(scope="module")
def chapter_cells(data_mirror):
    """Five cells of the 41-feature set (two Glutamatergic, Pvalb, Sst, Vip: the first of each in the chapter's
    table) with the chapter's feature blocks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cells = data.cell_table()
        t = cells[cells["in_ophir41"]]
        pick = [t.index[t["cre_class"] == c][k] for c, k in
                (("Glutamatergic", 0), ("Pvalb", 0), ("Sst", 0), ("Vip", 0), ("Glutamatergic", 1))]
        return cells.loc[pick], data.feature_blocks(cells.loc[pick])


@pytest.fixture
def cre5_csv(tmp_path, chapter_cells):
    cells, blocks = chapter_cells
    ephys = blocks["ephys41"].rename(columns=lambda c: c.split(":", 1)[1]).reset_index()
    (tmp_path / "swc").mkdir()
    names = []
    for sid, src in cells["path"].items():  # the archive's files, extracted by the datasets layer
        shutil.copy(src, tmp_path / "swc" / f"{sid}.swc")
        names.append(f"swc/{sid}.swc")
    df = ephys.iloc[[0, 1, 2, 3, 4, 0, 0]].reset_index(drop=True).astype(object)
    df["swc"] = names + ["", ""]
    df.loc[EPHYS_ONLY, "swc"] = ""
    df.loc[MORPH_ONLY, FEATURES_41] = ""
    df.loc[MORPH_ONLY, "swc"] = str(tmp_path / names[MORPH_ONLY])  # an absolute path
    (tmp_path / "cycle.swc").write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 3\n3 3 2 0 0 1 2\n")
    df.loc[CYCLE, "swc"] = "cycle.swc"
    df.loc[NO_FILE, "swc"] = "swc/nowhere.swc"
    df.loc[NOT_A_NUMBER, "tau"] = "fast"
    df.loc[EMPTY, FEATURES_41] = ""
    df = df[["specimen_id", "swc"] + FEATURES_41[::-1]]  # feature columns in any order
    df.to_csv(tmp_path / "cells.csv", index=False)
    return tmp_path / "cells.csv"


def test_read_inputs_computes_the_chapters_features_and_names_each_bad_row(cre5_csv, chapter_cells):
    cells, blocks = chapter_cells
    inp = mp.read_inputs([str(cre5_csv)], "cre5")
    assert len(inp.ids) == 7 and inp.valid == [COMPLETE, EPHYS_ONLY, MORPH_ONLY]
    sid = list(cells.index)
    assert inp.ids[COMPLETE] == f"{cre5_csv}:2:{sid[0]}:modalities=ephys+morph"
    assert inp.ids[EPHYS_ONLY].endswith(f":3:{sid[1]}:modalities=ephys")
    assert inp.ids[MORPH_ONLY].endswith(f":4:{sid[2]}:modalities=morph")
    # the morphometrics and ephys values are the chapter's own, column for column
    morph = inp.X.filter(like="morph:")
    assert list(morph.columns) == list(blocks["morph"].columns)
    np.testing.assert_array_equal(morph.iloc[[0, 2]].to_numpy(), blocks["morph"].iloc[[0, 2]].to_numpy())
    assert morph.iloc[1].isna().all()  # ephys only
    ephys = inp.X[list(blocks["ephys41"].columns)]
    np.testing.assert_allclose(ephys.iloc[:2].to_numpy(), blocks["ephys41"].iloc[:2].to_numpy(), rtol=1e-12)
    assert ephys.iloc[2].isna().all()  # morphology only
    err = inp.errors
    assert set(err) == {CYCLE, NO_FILE, NOT_A_NUMBER, EMPTY}
    assert f"{cre5_csv}, line 5, column 'swc'" in err[CYCLE] and "cycle.swc, line 2" in err[CYCLE] \
        and "cycle" in err[CYCLE].split("line 2")[-1]
    assert f"{cre5_csv}, line 6, column 'swc'" in err[NO_FILE] and "no such SWC file" in err[NO_FILE] \
        and "nowhere.swc" in err[NO_FILE]
    assert f"{cre5_csv}, line 7, column 'tau'" in err[NOT_A_NUMBER] and "'fast' is not a number" in err[NOT_A_NUMBER]
    assert f"{cre5_csv}, line 8" in err[EMPTY] and "no ephys feature value and no SWC file" in err[EMPTY]


def test_a_file_without_the_tasks_columns_is_one_error_row(cre5_csv):
    inp = mp.read_inputs([str(cre5_csv)], "e_i")  # the 41 features lack ACTB's adaptation, avg_isi, ...
    assert inp.ids == [str(cre5_csv)] and inp.valid == [] and len(inp.X) == 0
    assert "column 'adaptation'" in inp.errors[0] and "missing column(s)" in inp.errors[0]
    with pytest.raises(ValueError, match="unknown multimodal task"):
        mp.read_inputs([str(cre5_csv)], "cre13")


def test_cli_classifies_each_cell_from_the_modalities_it_has(cre5_csv, chapter_cells, tmp_path):
    cells, _ = chapter_cells
    out = tmp_path / "predictions.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["multimodal", "--task", "cre5", "--profile", "smoke", "--out", str(out), str(cre5_csv)]) == 0
    rows = list(csv.DictReader(out.open()))
    classes = ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]
    assert list(rows[0]) == ["input", "predicted"] + [f"p_{c}" for c in classes] + ["error"]
    for i in (COMPLETE, EPHYS_ONLY, MORPH_ONLY):
        r = rows[i]
        assert r["error"] == "" and r["predicted"] in classes
        p = np.array([float(r[f"p_{c}"]) for c in classes])
        assert p.sum() == pytest.approx(1, abs=1e-5) and classes[int(p.argmax())] == r["predicted"]
    # a training cell with both modalities: its own class (the columns line up with the training table's)
    assert rows[COMPLETE]["predicted"] == cells["cre_class"].iloc[0]
    for i in (CYCLE, NO_FILE, NOT_A_NUMBER, EMPTY):
        assert rows[i]["predicted"] == "" and rows[i]["p_Pvalb"] == "" and "cells.csv, line" in rows[i]["error"]


def test_late_fusion_falls_back_to_the_branch_of_the_modality_present(cre5_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mp.fitted_model("cre5", "late_fusion", profile="smoke", progress=False)
    X = mp.read_inputs([str(cre5_csv)], "cre5").X
    p = model.predict_proba(X)
    fused = model.estimator
    assert fused.n_fallback_ == 2 and model.needs == "any"
    ephys_branch, rf_branch, gb_branch = fused.estimators_  # the ephys SVC and both morphology models
    Xr = X.reindex(columns=model.columns)
    np.testing.assert_allclose(p[1], ephys_branch.predict_proba(Xr.iloc[[1]])[0])
    morph = (rf_branch.predict_proba(Xr.iloc[[2]])[0] + gb_branch.predict_proba(Xr.iloc[[2]])[0]) / 2
    np.testing.assert_allclose(p[2], morph)  # without ephys: the mean of the morphology branches
    assert not np.allclose(p[0], ephys_branch.predict_proba(Xr.iloc[[0]])[0])  # both: the stacked model


def test_a_single_modality_model_refuses_cells_without_its_modality(cre5_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mp.fitted_model("cre5", "ephys_svc", profile="smoke", progress=False)
    X = mp.read_inputs([str(cre5_csv)], "cre5").X
    assert model.needs == "ephys"
    assert model.predict_proba(X.iloc[:2]).shape == (2, 5)
    with pytest.raises(ValueError, match=r"reads ephys only and 1 input\(s\) have none: .*cells.csv:4:.*late_fusion"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match="unknown model 'ephys_svc_actb'"):
        mp.fitted_model("cre5", "ephys_svc_actb", profile="smoke")


def test_joint_lspin_is_trained_once_then_read_from_the_cache(cre5_csv, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = mp.fitted_model("cre5", "joint_lspin", profile="smoke", progress=False)
        calls = []
        monkeypatch.setattr("neuro_lib.estimators.TorchClassifier.fit", lambda *a, **k: calls.append(1))
        monkeypatch.setattr("neuro_lib.ephys.models._PreprocessedNetwork.fit", lambda *a, **k: calls.append(1))
        again = mp.fitted_model("cre5", "joint_lspin", profile="smoke", progress=False)
    X = mp.read_inputs([str(cre5_csv)], "cre5").X
    p = again.predict_proba(X)
    assert not calls and np.array_equal(first.predict_proba(X), p)
    assert np.allclose(p.sum(1), 1) and list(again.classes_) == ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst",
                                                                 "Vip"]


def test_e_i_reads_rows_of_the_allen_feature_table_as_they_are(tmp_path, chapter_cells):
    from neuro_lib.datasets import fetch

    cells, blocks = chapter_cells
    raw = pd.read_csv(fetch("allen_cell_types/ephys_features.csv"), dtype=str, keep_default_na=False)
    raw = raw[raw["specimen_id"].astype(np.int64).isin(cells.index[:2])]
    assert set(raw["has_burst"]) <= {"True", "False"}  # as the Allen table writes them
    raw = raw.set_index(raw["specimen_id"].astype(np.int64)).loc[cells.index[:2]].reset_index(drop=True)
    shutil.copy(cells["path"].iloc[0], tmp_path / "a.swc")
    raw["swc"] = ["a.swc", ""]
    raw.to_csv(tmp_path / "actb.csv", index=False)
    inp = mp.read_inputs([str(tmp_path / "actb.csv")], "e_i")
    assert inp.valid == [0, 1] and inp.ids[0].endswith("modalities=ephys+morph") and \
        inp.ids[1].endswith("modalities=ephys")
    actb = blocks["actb"][[f"actb:{f}" for f in ACTB_FEATURES]].iloc[:2]
    np.testing.assert_allclose(inp.X[actb.columns].to_numpy(), actb.to_numpy(), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mp.fitted_model("e_i", "late_fusion_no_apical", profile="smoke", progress=False)
    p = model.predict_proba(inp.X)
    assert list(model.classes_) == ["inhibitory", "excitatory"] and np.allclose(p.sum(1), 1)
    assert model.predict(inp.X)[0] == cells["e_i"].iloc[0]  # a training cell, both modalities


def test_cli_lists_the_tasks_and_models(capsys):
    assert cli.main(["multimodal", "--list"]) == 0
    text = capsys.readouterr().out
    assert "e_i:" in text and "cre5:" in text and "(default late_fusion)" in text and "joint_lspin" in text
    assert "(default late_fusion_no_apical)" in text  # e_i: the chapter's typing-free headline
    assert Path(mp.__file__).name == "predict.py" and set(mp.MODELS) == set(mp.TASKS)
