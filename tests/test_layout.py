"""The layout the design notes ask for, checked: generic models know no modality, packages are thin, pages are short
(the work lives in the library), results keys have fixed slots."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "neuro_lib"
MODALITIES = ("ephys", "mea", "morphology", "imaging", "multimodal")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def test_models_import_no_modality_package():
    bad = []
    for f in sorted((LIB / "models").glob("*.py")):
        for name in _imports(f):
            parts = re.split(r"\.+", name.lstrip("."))
            if any(m in parts for m in MODALITIES):
                bad.append(f"{f.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_init_files_are_thin():
    fat = [
        f"{f.relative_to(ROOT)}: {n} lines"
        for f in LIB.rglob("__init__.py")
        if (n := len(f.read_text().splitlines())) > 40
    ]
    assert not fat, "\n".join(fat)


def _cells(script: Path):
    """(first line, code lines) of each code cell of a jupytext percent script, except the parameters cell (one
    documented assignment per line: a list of knobs, not code a reader has to follow)."""
    cells, cur, start, kind = [], [], 0, None
    for i, line in enumerate(script.read_text().splitlines(), 1):
        if line.startswith("# %%"):
            if kind == "code":
                cells.append((start, cur))
            kind = "markdown" if "[markdown]" in line else "parameters" if '"parameters"' in line else "code"
            cur, start = [], i
        elif kind == "code":
            cur.append(line)
    if kind == "code":
        cells.append((start, cur))
    return cells


@pytest.mark.parametrize("script", sorted((ROOT / "book").glob("*/[0-9]*.py")), ids=lambda p: p.name)
def test_page_cells_are_short(script):
    long = [
        f"{script.relative_to(ROOT)}:{start} has {n} lines of code"
        for start, lines in _cells(script)
        if (n := len([line for line in lines if line.strip() and not line.strip().startswith("#")])) > 20
    ]
    assert not long, "\n".join(long)
