"""Results files and the papermill runner."""
import json
import textwrap

import pytest

from neuro_lib.results import flatten, read_all, read_results, write_results
from neuro_lib.run import parse_value, run_notebook


def test_results_round_trip(tmp_path):
    path = write_results("ephys", "nb", {"cre5": {"svc": {"accuracy": 0.9}}, "ei/dann/group=human/accuracy": 0.95},
                         parameters={"profile": "smoke"}, data={"k": "abc"}, root=tmp_path)
    assert path == tmp_path / "ephys" / "nb.json"
    doc = read_results("ephys", "nb", root=tmp_path)
    assert doc["metrics"] == {"cre5/svc/accuracy": 0.9, "ei/dann/group=human/accuracy": 0.95}
    assert doc["parameters"] == {"profile": "smoke"} and doc["data"] == {"k": "abc"}
    assert list(read_all(tmp_path)) == [("ephys", "nb")]


@pytest.mark.parametrize("bad", [{"accuracy": 0.9}, {"a/b/c": "high"}])
def test_results_refuse_bad_keys_and_values(tmp_path, bad):
    with pytest.raises(ValueError):
        write_results("ephys", "nb", bad, root=tmp_path)


def test_missing_results_file_names_the_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="book/ephys/none.py"):
        read_results("ephys", "none", root=tmp_path)


def test_flatten_and_parse_value():
    assert flatten({"a": {"b": {"c": 1}}, "d/e/f": 2}) == {"a/b/c": 1, "d/e/f": 2}
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("gpu") == "gpu"
    assert parse_value("[1, 2]") == [1, 2] and parse_value("None") is None


SCRIPT = textwrap.dedent('''\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% tags=["parameters"]
    profile = "cpu"
    scale = 1

    # %%
    from neuro_lib.results import write_results
    write_results("toy", "01_toy", {"toy/model/score": 0.25 * scale}, parameters={"profile": profile})
    print("profile", profile)
    ''')


def test_run_notebook_injects_parameters_and_writes_results(tmp_path):
    script = tmp_path / "toy" / "01_toy.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    out = run_notebook(script, {"profile": "smoke", "scale": 2}, tmp_path / "runs", progress=False)
    assert out == tmp_path / "runs" / "toy" / "01_toy.ipynb"
    doc = json.loads((tmp_path / "runs" / "toy" / "01_toy.json").read_text())
    assert doc["metrics"] == {"toy/model/score": 0.5} and doc["parameters"] == {"profile": "smoke"}
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "profile smoke" in text
    # results first: the injected cell is removed from the page, the parameters cell collapsed, a rerun box added
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert any("injected-parameters" in t and "remove-cell" in t for t in tags)
    assert any("parameters" in t and "hide-input" in t for t in tags)
    box = [c for c in nb["cells"] if "rerun-box" in c["metadata"].get("tags", [])]
    assert len(box) == 1 and "python -m neuro_lib.run" in "".join(box[0]["source"])
    assert "-p scale 2" in "".join(box[0]["source"])
    assert doc["execution"]["seconds"] > 0 and doc["execution"]["parameters"] == {"profile": "smoke", "scale": 2}


def test_run_notebook_needs_a_parameters_cell(tmp_path):
    script = tmp_path / "x.py"
    script.write_text(SCRIPT.replace(' tags=["parameters"]', ""))
    with pytest.raises(ValueError, match="parameters"):
        run_notebook(script, {}, tmp_path / "runs", progress=False)
