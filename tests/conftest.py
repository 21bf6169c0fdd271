"""Shared test set-up: the data mirror (``NEURO_LIB_DATA``, default ``../shared/data``), a cache for unpacked
archives, and the session-wide smoke execution of every book notebook (used by the per-notebook tests and the
book-build test, so each notebook runs once per test session)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NEURO_LIB_DATA", str((ROOT.parent / "shared" / "data").resolve()))
os.environ.setdefault("NEURO_LIB_CACHE", str(Path.home() / ".cache" / "neuro_lib"))
# No MPLBACKEND here: the notebook kernels inherit the environment, and a non-inline backend there means no figures.


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    p = Path(os.environ["NEURO_LIB_DATA"])
    if not p.exists():
        pytest.fail(f"NEURO_LIB_DATA={p} does not exist: point it at the data mirror (../shared/data)")
    return p


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """A copy of the book sources in a temp folder, every toc notebook executed there in the smoke profile through
    ``neuro_lib.run`` (papermill). Returns the copy's root; results are under ``<root>/_build/results``."""
    from neuro_lib.book import execute_book

    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns("*.ipynb", "_generated"))
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "_static", root / "_static")  # the book's CSS
    (root / "neuro_lib").mkdir()  # marks the repo root for neuro_lib.results.repo_root
    execute_book(root, "smoke", force=True)
    return root


@pytest.fixture(scope="session")
def smoke_html(smoke_book) -> Path:
    """The smoke book built to HTML once per session, strictly (``-W -n``: a warning, such as a missing citation or
    a broken cross-reference, fails the build). Returns the HTML folder."""
    from neuro_lib.book import build_html, results_table

    results_table(smoke_book)
    return build_html(smoke_book, strict=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's networks with one torch thread, as the chapters do (``threads`` in their profile tables):
    faster for these small networks, and on a loaded machine two threads are many times slower (OpenMP waits for a
    busy core). Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def gpu_profile_page(tmp_path):
    """``gpu_profile_page(chapter, name, parameters, expected)``: see :func:`run_gpu_profile_page` (in ``tmp_path``)."""
    return lambda chapter, name, parameters, expected: run_gpu_profile_page(chapter, name, parameters, expected,
                                                                            tmp_path)


def run_gpu_profile_page(chapter: str, name: str, parameters: dict, expected: dict, tmp_path) -> dict:
    """Run ``book/<chapter>/<name>.py`` in its gpu profile on the CPU (``parameters`` cap the steps and subsample)
    and check what every chapter's gpu_profile test checks: the page ran without an error output, recorded the gpu
    profile and the ``expected`` settings (the paper-scale ones) in its results file, and wrote keys that parse.
    Returns the results document."""
    import json

    from neuro_lib import results
    from neuro_lib.run import run_notebook

    out = run_notebook(ROOT / "book" / chapter / f"{name}.py", {"profile": "gpu", "device": "cpu", **parameters},
                       tmp_path, progress=False)
    doc = json.loads(out.with_suffix(".json").read_text())
    params = doc["parameters"]
    assert params["profile"] == "gpu" and params["device"] == "cpu"
    for k, v in expected.items():
        assert params[k] == v, k
    assert doc["metrics"] and all(results.parse_key(k) for k in doc["metrics"])
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return doc


def check_smoke_page(smoke_book, chapter: str, name: str, expected_keys, all_figures_glued: bool = False) -> dict:
    """What every chapter's smoke-notebook test checks of one page of the smoke book: its results file says the
    smoke profile, every key has the fixed slots, the ``expected_keys`` are there, the executed notebook has at
    least one figure (shown by a cell or glued for a ``{glue:figure}``) and no error output.

    With ``all_figures_glued``, what a reader sees (issue 16): every figure is glued (so the page can number and
    caption it) and placed by a ``{glue:figure}`` block; the first markdown cell says "**What this page shows.**" and
    places a ``{glue:md}`` summary that the run glued and that is not empty; no cell shows a sentence as Markdown
    output (sentences are glued into the text); and every name the text places was glued by the run. Returns the
    metrics."""
    import json

    from neuro_lib import results

    doc = json.loads((smoke_book / "_build" / "results" / chapter / f"{name}.json").read_text())
    assert doc["parameters"]["profile"] == "smoke"
    for key in doc["metrics"]:
        results.parse_key(key)  # every key has the fixed slots
    for key in expected_keys:
        assert key in doc["metrics"], key
    nb = json.loads((smoke_book / "book" / chapter / f"{name}.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert sum(any(k.endswith("image/png") for k in o.get("data", {})) for o in outputs) >= 1
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if all_figures_glued:
        images = [o for o in outputs if any(k.endswith("image/png") for k in o.get("data", {}))]
        shown = [o for o in images if "scrapbook" not in o.get("metadata", {})]
        assert not shown, f"{chapter}/{name}: {len(shown)} figure(s) shown by a cell, not glued (no number, no caption)"
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        unplaced = [o["metadata"]["scrapbook"]["name"] for o in images
                    if f"{{glue:figure}} {o['metadata']['scrapbook']['name']}" not in text]
        assert not unplaced, f"{chapter}/{name}: glued figure(s) {unplaced} have no {{glue:figure}} block"
        glued = {o["metadata"]["scrapbook"]["name"]: o["data"] for o in outputs if "scrapbook" in o.get("metadata", {})}
        first = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        summary = re.search(r"\{glue:md\}`?\s*([\w-]+)", first)  # a {glue:md} block or an inline role
        assert "**What this page shows.**" in first and summary, f"{chapter}/{name}: {first[:200]}"
        summary = summary.group(1)
        assert glued.get(summary, {}).get("application/papermill.record/text/markdown", "").strip(), summary
        printed = [o for o in outputs if "text/markdown" in o.get("data", {})]
        assert not printed, f"{chapter}/{name}: {len(printed)} Markdown output(s) shown by a cell, not glued"
        placed = set(re.findall(r"\{glue:(?:md|text|figure)\}`?\s*([\w-]+)", text))
        assert placed <= set(glued), f"{chapter}/{name}: the text places {sorted(placed - set(glued))}, not glued"
    return doc["metrics"]
