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
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["run_notebook", "parse_value", "main"]


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
    os.environ["NEURO_LIB_RESULTS"] = str(Path(results_dir).resolve() if results_dir else out_dir)
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
    return output


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
