"""Run one book notebook with parameters: ``python -m neuro_lib.run NOTEBOOK -p NAME VALUE ... [-o OUTDIR]``.

The notebook is a jupytext percent script (``book/<chapter>/<name>.py``). It is converted to a notebook in memory,
executed by papermill with the given parameters injected after the cell tagged ``parameters``, and written as
``OUTDIR/<chapter>/<name>.ipynb``; its results file goes to ``OUTDIR/<chapter>/<name>.json`` (the notebook's
``neuro_lib.results.write_results`` sees ``NEURO_LIB_RESULTS=OUTDIR``). The working directory of the run is the
notebook's own folder, as in the book build.

Examples::

    python -m neuro_lib.run book/ephys/02_ei_domain_adaptation.py -p profile gpu -p device cuda -o runs/
    python -m neuro_lib.run book/ephys/03_cre_lines_lspin.py -p profile smoke -p seed 1
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path

__all__ = ["run_notebook", "parse_value", "main", "rerun_box", "format_seconds"]


def parse_value(text: str):
    """Parse a command-line parameter value: Python literals (``3``, ``0.1``, ``True``, ``[1, 2]``, ``None``)
    become those values, anything else stays a string (``gpu``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_notebook(notebook: str | os.PathLike, parameters: dict | None = None, output_dir: str | os.PathLike = "runs",
                 *, results_dir: str | os.PathLike | None = None, kernel_name: str = "python3",
                 progress: bool = True, timeout: int | None = None) -> Path:
    """Execute a jupytext percent script with papermill; return the path of the executed ``.ipynb``.

    The executed notebook is ``output_dir/<chapter>/<name>.ipynb``; the notebook's results file goes under
    ``results_dir`` (default ``output_dir``) as ``<chapter>/<name>.json``.

    Raises ``FileNotFoundError`` for a missing script, ``ValueError`` if it has no cell tagged ``parameters``,
    and papermill's ``PapermillExecutionError`` (which shows the failing cell) if a cell raises.
    """
    import jupytext
    import papermill as pm

    src = Path(notebook).resolve()
    if not src.exists():
        raise FileNotFoundError(f"notebook script {notebook} does not exist")
    nb = jupytext.read(src)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ValueError(f"{src} has no cell tagged 'parameters' (# %% tags=[\"parameters\"])")
    nb.metadata.setdefault("kernelspec", {"name": kernel_name, "display_name": "Python 3", "language": "python"})
    chapter = src.parent.name
    out_dir = Path(output_dir).resolve()
    (out_dir / chapter).mkdir(parents=True, exist_ok=True)
    output = out_dir / chapter / f"{src.stem}.ipynb"
    old = os.environ.get("NEURO_LIB_RESULTS")
    res_root = Path(results_dir).resolve() if results_dir else out_dir
    os.environ["NEURO_LIB_RESULTS"] = str(res_root)
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_nb = Path(tmp) / f"{src.stem}.ipynb"
            jupytext.write(nb, tmp_nb)
            pm.execute_notebook(
                str(tmp_nb), str(output), parameters=parameters or {}, cwd=str(src.parent),
                kernel_name=kernel_name, progress_bar=progress, execution_timeout=timeout,
            )
    finally:
        if old is None:
            os.environ.pop("NEURO_LIB_RESULTS", None)
        else:
            os.environ["NEURO_LIB_RESULTS"] = old
    seconds = time.perf_counter() - t0
    execution = {"seconds": round(seconds, 1), "parameters": dict(parameters or {}),
                 "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                 "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    _record_execution(res_root / chapter / f"{src.stem}.json", execution)
    _present(output, src, execution)
    return output


def format_seconds(seconds: float) -> str:
    """``75.3`` -> ``"1 min 15 s"``; ``12.0`` -> ``"12 s"``."""
    s = int(round(seconds))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def rerun_box(script: Path, execution: dict) -> str:
    """The markdown of the page's "Rerun this page" box: the exact ``neuro_lib.run`` command for each profile and how
    long this run took, with which parameters."""
    from .results import repo_root

    root = repo_root(script.parent)
    try:
        rel = script.resolve().relative_to(root).as_posix()
    except ValueError:
        rel = script.name
    params = execution.get("parameters", {})
    shown = " ".join(f"-p {k} {v!r}" if isinstance(v, str) and " " in v else f"-p {k} {v}"
                     for k, v in params.items() if k != "profile")
    profile = params.get("profile", "cpu")
    lines = [
        f":::{{admonition}} Rerun this page ({profile} profile: {format_seconds(execution['seconds'])} in this build)",
        ":class: tip dropdown",
        "",
        "```bash",
        f"python -m neuro_lib.run {rel} -p profile cpu -o runs/          # the book's numbers (2-core laptop)",
        f"python -m neuro_lib.run {rel} -p profile gpu -p device cuda -o runs/   # the paper's scale",
        f"python -m neuro_lib.run {rel} -p profile smoke -o runs/        # seconds: tiny subsets, for tests",
        "```",
        "",
        f"This page was built with the `{profile}` profile{(' and ' + shown) if shown else ''}; the run took "
        f"{format_seconds(execution['seconds'])} on {execution.get('cpus', '?')} CPU cores "
        f"({execution.get('finished', '')}). Every parameter of the page's first code cell can be set with `-p NAME "
        f"VALUE`; the executed notebook and its results file go to `runs/`.",
        ":::",
    ]
    return "\n".join(lines)


def _record_execution(results_file: Path, execution: dict) -> None:
    """Add ``execution`` (wall time, parameters, machine) to the results file the notebook wrote, if it did."""
    if not results_file.exists():
        return
    doc = json.loads(results_file.read_text())
    doc["execution"] = execution
    tmp = results_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, results_file)


def _is_setup(cell) -> bool:
    """A code cell the reader need not see first: it shows no table or figure (nothing but printed text, or nothing:
    imports, settings, a glue call). Its code is collapsed behind a toggle, not removed; a page keeps a cell's code
    open with the tag ``show-input``."""
    if cell.get("cell_type") != "code" or not "".join(cell.get("source", "")).strip():
        return False
    return not any(o.get("output_type") in ("display_data", "execute_result") and not _only_glue(o)
                   for o in cell.get("outputs", []))


def _only_glue(output) -> bool:
    """A display output that MyST-NB's ``glue(..., display=False)`` made (shown only where the text places it)."""
    return bool(output.get("metadata", {}).get("scrapbook"))


def _present(output: Path, script: Path, execution: dict) -> None:
    """Make the executed notebook read results first: papermill's injected-parameters cell removed from the rendered
    page (``remove-cell``), the parameters cell and the set-up cells (:func:`_is_setup`) collapsed (``hide-input``),
    and a "Rerun this page" box placed after the page's opening markdown cell."""
    import nbformat

    nb = nbformat.read(output, as_version=4)
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
        elif _is_setup(cell) and not {"hide-input", "show-input", "remove-input", "remove-cell"} & set(tags):
            tags.append("hide-input")
    if not any("rerun-box" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        box = nbformat.v4.new_markdown_cell(rerun_box(script, execution), metadata={"tags": ["rerun-box"]})
        nb.cells.insert(first_md + 1, box)
    nbformat.write(nb, output)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", help="a book script, e.g. book/ephys/02_ei_domain_adaptation.py")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="set a parameter of the notebook's 'parameters' cell (repeatable)")
    ap.add_argument("-o", "--output-dir", default="runs", help="where the executed notebook and results go")
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    params = {k: parse_value(v) for k, v in args.parameter}
    out = run_notebook(args.notebook, params, args.output_dir, kernel_name=args.kernel, timeout=args.timeout)
    print(f"executed notebook: {out}")
    print(f"results file:      {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
