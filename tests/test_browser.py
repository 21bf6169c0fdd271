"""The rendered book in a real browser (headless Chromium): no page shows an error output, a missing image, a broken
internal link or citation, or unrendered MyST; and the checker does catch each of those on a deliberately broken
page. Screenshots of the front page and one page per chapter go to ``_build/screenshots/`` for a person to look at."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from neuro_lib.bookcheck import check_book

ROOT = Path(__file__).resolve().parents[1]


def _broken_book(tmp: Path) -> Path:
    (tmp / "_config.yml").write_text('title: broken\nexecute:\n  execute_notebooks: "off"\n'
                                     "parse:\n  myst_enable_extensions: [colon_fence]\n")
    (tmp / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: page\n  - file: fine\n")
    (tmp / "index.md").write_text("# Front\n\n[page](page.ipynb), <a href='gone.html'>gone</a>, "
                                  "<a href='page.html#no-such-anchor'>bad anchor</a>.\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Page\n\nLeft as text: \\{glue:text}`acc`.\n\n<img src='lost.png'>"),
                nbformat.v4.new_code_cell("1 / 0", outputs=[nbformat.v4.new_output(
                    "error", ename="ZeroDivisionError", evalue="division by zero",
                    traceback=["ZeroDivisionError: division by zero"])])]
    nbformat.write(nb, tmp / "page.ipynb")
    ok = nbformat.v4.new_notebook(metadata=nb.metadata)
    ok.cells = [nbformat.v4.new_markdown_cell("# Fine\n\nNothing wrong here: `{cite}` in code is allowed.")]
    nbformat.write(ok, tmp / "fine.ipynb")
    exe = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(exe), "build", str(tmp), "--builder", "html"], check=True, capture_output=True)
    return tmp / "_build" / "html"


def test_the_checker_fails_a_deliberately_broken_page(tmp_path):
    reports = {r.path: r for r in check_book(_broken_book(tmp_path))}
    page, front, fine = reports["page.html"], reports["index.html"], reports["fine.html"]
    assert page.errors == ["ZeroDivisionError: division by zero"]
    assert page.missing_images == ["/lost.png"]
    assert page.unrendered == ["{glue:text}"]
    assert front.broken_links == ["/gone.html", "/page.html#no-such-anchor"]
    assert fine.ok and not page.ok


@pytest.mark.notebook
def test_every_page_of_the_smoke_book_renders_in_chromium(smoke_book, smoke_html):
    from neuro_lib.book import toc_notebooks

    chapters = {}
    for script in toc_notebooks(smoke_book):
        chapters.setdefault(script.parent.name, script.relative_to(smoke_book).with_suffix(".html").as_posix())
    shots = ROOT / "_build" / "screenshots"
    reports = check_book(smoke_html, screenshots=shots, screenshot_pages=["book/index.html", *chapters.values()])
    problems = [p for r in reports for p in r.problems()]
    assert not problems, "\n".join(problems)
    pages = {r.path for r in reports}
    assert "book/index.html" in pages and set(chapters.values()) <= pages
    assert len(list(shots.glob("*.png"))) >= 1 + len(chapters)
