"""Classifying new cells: ``python -m neuro_lib.predict ephys`` reads the authors' 41-column CSV row by row (a bad
row or file is reported, the others classified) and trains the book's estimators on all cells (smoke profile here)."""
import csv

import numpy as np
import pandas as pd
import pytest

from neuro_lib import predict as cli
from neuro_lib.datasets import fetch
from neuro_lib.ephys import FEATURES_41, OPHIR_KEYS, EphysTableError, read_feature_rows
from neuro_lib.ephys import predict as ephys_predict


@pytest.fixture(scope="module")
def human_rows():
    return pd.read_csv(fetch(OPHIR_KEYS["human"]), dtype=str, keep_default_na=False).head(6)


def _write(tmp_path, name, df):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_rows_are_read_and_a_bad_value_fails_only_its_row(tmp_path, human_rows):
    df = human_rows.copy()
    df.loc[2, "tau"] = "fast"
    df.loc[4, FEATURES_41] = ""  # a row without any value
    df.loc[1, "sag"] = ""  # one missing value: imputed by the model, not an error
    ids, X, errors = read_feature_rows(_write(tmp_path, "cells.csv", df[FEATURES_41[::-1] + ["file_name"]]))
    assert X.shape == (6, 41) and np.isnan(X[1, FEATURES_41.index("sag")])
    assert set(errors) == {2, 4}
    assert "cells.csv, line 4, column 'tau'" in errors[2] and "'fast'" in errors[2]
    assert "line 6" in errors[4] and "no feature value" in errors[4]
    assert ids[0].endswith("cells.csv:2:" + df.loc[0, "file_name"])
    assert X[0, FEATURES_41.index("tau")] == float(df.loc[0, "tau"])  # columns in any order


def test_a_file_without_the_columns_is_refused_by_name(tmp_path, human_rows):
    with pytest.raises(EphysTableError, match="column 'width'.*missing column"):
        read_feature_rows(_write(tmp_path, "short.csv", human_rows.drop(columns=["width"])))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EphysTableError, match="empty.csv: not a readable CSV"):
        read_feature_rows(tmp_path / "empty.csv")


def test_read_inputs_keeps_going_past_bad_files_and_rows(tmp_path, human_rows):
    good = _write(tmp_path, "good.csv", human_rows)
    bad_file = _write(tmp_path, "nocols.csv", human_rows[["file_name", "tau"]])
    df = human_rows.copy()
    df.loc[0, "width"] = "?"
    bad_row = _write(tmp_path, "badrow.csv", df)
    inp = ephys_predict.read_inputs([good, bad_file, bad_row], "ei")
    assert len(inp.ids) == 6 + 1 + 6 and inp.ids[6] == str(bad_file)
    assert set(inp.errors) == {6, 7} and "nocols.csv" in inp.errors[6] and "badrow.csv, line 2" in inp.errors[7]
    assert inp.valid == [0, 1, 2, 3, 4, 5] + list(range(8, 13)) and inp.X.shape == (11, 41)
    with pytest.raises(ValueError, match="unknown ephys task"):
        ephys_predict.read_inputs([good], "mtype")


@pytest.mark.parametrize("task,model", [("ei", "dann"), ("cre5", "lspin"), ("cre5", "svc"),
                                        ("ei", "logistic_regression")])
def test_fitted_models_classify_with_class_names(task, model, human_rows, tmp_path):
    est = ephys_predict.fitted_model(task, model, profile="smoke", progress=False)
    names = ["inhibitory", "excitatory"] if task == "ei" else ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]
    assert list(est.classes_) == names
    inp = ephys_predict.read_inputs([_write(tmp_path, "c.csv", human_rows)], task)
    rows = cli.predict_rows(est, inp)
    assert len(rows) == 6 and all(r["predicted"] in names for r in rows)
    assert all(abs(sum(float(r[f"p_{c}"]) for c in names) - 1) < 1e-5 for r in rows)


def test_the_command_line_writes_one_row_per_input(tmp_path, human_rows, capsys):
    df = human_rows.copy()
    df.loc[3, "peak_v"] = "high"
    src = _write(tmp_path, "cells.csv", df)
    out = tmp_path / "pred.csv"
    assert cli.main(["ephys", "--task", "ei", "--profile", "smoke", "--out", str(out), str(src)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and [r["error"] != "" for r in rows] == [False, False, False, True, False, False]
    assert rows[3]["predicted"] == "" and "column 'peak_v'" in rows[3]["error"]
    assert {r["predicted"] for r in rows[:3]} <= {"inhibitory", "excitatory"}
    said = capsys.readouterr().out
    assert "5 of 6 input(s) classified" in said and "1 failed validation" in said
    with pytest.raises(SystemExit):
        cli.main(["ephys", "--task", "ei", "--model", "resnet", str(src)])
