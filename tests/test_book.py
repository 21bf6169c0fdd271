"""A smoke build of the whole book: every page listed in _toc.yml renders, and every executed page has outputs."""
import re

import pytest

from neuro_lib.book import build_html, results_table, toc_notebooks

pytestmark = pytest.mark.notebook


def test_book_builds_and_every_executed_page_has_outputs(smoke_book):
    table = results_table(smoke_book)
    assert "| DANN |" in table and "not run" not in table.split("Electrophysiology")[1].split("###")[0]
    html = build_html(smoke_book)
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
