"""A smoke build of the whole book: every page listed in _toc.yml renders, and every executed page has outputs."""
import re

import pytest

from neuro_lib.book import results_table, toc_notebooks

pytestmark = pytest.mark.notebook


def test_book_builds_and_every_executed_page_has_outputs(smoke_book, smoke_html):
    table = results_table(smoke_book)
    assert "| DANN |" in table and "not run" not in table.split("Electrophysiology")[1].split("###")[0]
    html = smoke_html  # built with -W -n: a warning (missing citation, broken ref) fails
    assert (html / "index.html").exists()  # a redirect to the root page, book/index.html
    index = (html / "book" / "index.html").read_text()
    assert "ours beside the papers" in index.lower() and "97.4%" in index  # the generated table, paper's DANN
    scripts = toc_notebooks(smoke_book)
    assert scripts, "no notebook pages in _toc.yml"
    for script in scripts:
        page = html / script.relative_to(smoke_book).with_suffix(".html")
        assert page.exists(), page
        text = page.read_text()
        outputs = len(re.findall(r'class="cell_output', text))
        images = len(re.findall(r"<img ", text))
        assert outputs > 0, f"{page.name} has no cell outputs"
        assert images > 0, f"{page.name} has no figures"


def test_library_dependencies_follow_imports_only(tmp_path):
    """A notebook's stamp covers the neuro_lib modules it imports, directly, relatively, inside functions and through
    other modules, and nothing else, so editing one chapter's code does not re-run another chapter."""
    from pathlib import Path

    from neuro_lib.book import library_dependencies

    lib = Path(__file__).resolve().parents[1] / "neuro_lib"
    root = Path(__file__).resolve().parents[1]
    mea = {p.relative_to(lib).as_posix() for p in library_dependencies(root / "book/mea/03_classify.py")}
    assert {"mea/chapter.py", "mea/classify.py", "training.py", "models/mea_cnn.py"} <= mea  # mea_cnn: in a function
    assert not any(p.startswith(("ephys/", "morphology/", "imaging/")) for p in mea)
    ephys = {p.relative_to(lib).as_posix() for p in library_dependencies(root / "book/ephys/03_cre_lines_lspin.py")}
    assert {"ephys/models.py", "models/lspin.py"} <= ephys and not any(p.startswith("mea/") for p in ephys)
    script = tmp_path / "nb.py"
    script.write_text("import numpy\n\ndef f():\n    from neuro_lib.results import write_results\n")
    assert [p.relative_to(lib).as_posix() for p in library_dependencies(script)] == ["__init__.py", "results.py"]
    (tmp_path / "bad.py").write_text("from neuro_lib import (\n")
    with pytest.raises(SyntaxError):
        library_dependencies(tmp_path / "bad.py")


def test_results_table_refuses_a_row_with_a_split_field(tmp_path):
    """An unquoted comma in a YAML flow mapping splits the task text into a second, nameless field; the table
    builder names the file and the row instead of printing half the text. A key an executed notebook lacks shows
    as missing."""
    import json

    (tmp_path / "data" / "paper_numbers").mkdir(parents=True)
    yml = tmp_path / "data" / "paper_numbers" / "x.yml"
    row = "{task: %s, model: M, metric: accuracy, key: %s, notebook: nb, paper: 0.9, source: T1}"
    yml.write_text("chapter: x\ntitle: X\nrows:\n  - " + row % ('"a, b"', "t/m/accuracy") + "\n  - "
                   + row % ('"c"', "t/m/auc") + "\n")
    res = tmp_path / "_build" / "results" / "x"
    res.mkdir(parents=True)
    (res / "nb.json").write_text(json.dumps({"metrics": {"t/m/accuracy": 0.5}, "parameters": {"profile": "cpu"}}))
    table = results_table(tmp_path)
    assert "| a, b | M | accuracy | 50.0% |" in table  # the quoted comma stays in the text
    assert "| c | M | accuracy | missing |" in table  # t/m/auc is not in the results file
    csv = (tmp_path / "book" / "_generated" / "results.csv").read_text().splitlines()
    assert csv[0].startswith("chapter,notebook,key,value,profile") and csv[1].startswith("x,nb,t/m/accuracy,0.5,cpu")
    yml.write_text("chapter: x\ntitle: X\nrows:\n  - " + row % ("a, b", "t/m/accuracy") + "\n")
    with pytest.raises(ValueError, match=r"x\.yml, row 1 \(t/m/accuracy\): unknown field\(s\) \['b'\]"):
        results_table(tmp_path)


def test_results_table_shows_spread_and_paired_intervals():
    from neuro_lib.book import _fmt_ours

    m = {"t/a/accuracy": 0.876, "t/a/accuracy_sd": 0.019, "t/a/diff_vs_b/accuracy": 0.012,
         "t/a/diff_vs_b/accuracy_lo": -0.005, "t/a/diff_vs_b/accuracy_hi": 0.029, "t/a/n": 12.0}
    assert _fmt_ours(m, "t/a/accuracy") == "87.6% ± 1.9"
    assert _fmt_ours(m, "t/a/diff_vs_b/accuracy") == "+1.2 pts [-0.5, +2.9]"
    assert _fmt_ours(m, "t/a/n") == "12"


def test_stamps_do_not_depend_on_where_the_checkout_is(tmp_path):
    """A clone in another folder (CI, a helper's worktree) finds its executed pages up to date when nothing changed."""
    from neuro_lib.book import _tree_hash

    copies = []
    for where in ("here", "elsewhere/deeper"):
        lib, page = tmp_path / where / "neuro_lib" / "a.py", tmp_path / where / "book" / "ephys" / "01_data.py"
        for f in (lib, page):
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("x = 1\n")
        copies.append((lib, page))
    (a_lib, a_page), (b_lib, b_page) = copies
    assert _tree_hash([a_lib, a_page]) == _tree_hash([b_lib, b_page])
    b_page.write_text("x = 2\n")
    assert _tree_hash([a_lib, a_page]) != _tree_hash([b_lib, b_page])  # a change still counts
    assert _tree_hash([a_lib]) != _tree_hash([a_page])  # and so does the name: same bytes, another file
