"""Writing and reading results files: every number in the book comes from one of these.

A results file is ``<results root>/<chapter>/<notebook>.json``::

    {"chapter": "ephys", "notebook": "03_cre_lines_lspin",
     "metrics": {"cre5/lspin/accuracy": 0.91, ...},      # flat "<task>/<model>/<metric>" -> number
     "parameters": {...}, "data": {"<registry key>": "<sha256>"}, "versions": {...}, "written": "<UTC ISO time>"}

The results root is ``$NEURO_LIB_RESULTS`` if set (``neuro_lib.run -o DIR`` sets it to ``DIR``), otherwise
``_build/results`` under the repository root (the folder holding ``_config.yml``, searched upward from the
working directory).
"""
from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

__all__ = ["results_root", "repo_root", "write_results", "read_results", "read_all", "flatten"]


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that holds ``_config.yml``; else ``start``."""
    here = Path(start or os.getcwd()).resolve()
    for p in [here, *here.parents]:
        if (p / "_config.yml").exists() and (p / "neuro_lib").is_dir():
            return p
    return here


def results_root() -> Path:
    env = os.environ.get("NEURO_LIB_RESULTS")
    return Path(env) if env else repo_root() / "_build" / "results"


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten ``{"cre5": {"svc": {"accuracy": 0.9}}}`` to ``{"cre5/svc/accuracy": 0.9}``."""
    out: dict[str, float] = {}
    for k, v in nested.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    clean = {}
    for k, v in metrics.items():
        if not isinstance(k, str) or k.count("/") < 2:
            raise ValueError(f"results key {k!r} must look like '<task>/<model>/<metric>'")
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"results value for {k!r} is {v!r}, not a number") from None
        clean[k] = None if math.isnan(fv) else fv
    return clean


def _jsonable(x):
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, Path):
        return str(x)
    return repr(x)


def write_results(chapter: str, notebook: str, metrics: Mapping[str, Any], *, parameters: Mapping | None = None,
                  data: Mapping[str, str] | None = None, root: str | os.PathLike | None = None) -> Path:
    """Write a results file and return its path.

    ``metrics`` is the flat ``"<task>/<model>/<metric>" -> number`` mapping (nested dicts are flattened first);
    ``parameters`` the notebook's parameters; ``data`` the ``{registry key: sha256}`` of the inputs.
    Raises ``ValueError`` for a key without two slashes or a value that is not a number.
    """
    metrics = _check_metrics(flatten(metrics))
    root = Path(root) if root else results_root()
    path = root / chapter / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    versions = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "sklearn", "xgboost"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    doc = {
        "chapter": chapter,
        "notebook": notebook,
        "metrics": dict(sorted(metrics.items())),
        "parameters": dict(parameters or {}),
        "data": dict(data or {}),
        "versions": versions,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def read_results(chapter: str, notebook: str, root: str | os.PathLike | None = None) -> dict:
    """Read one results file (the whole document). Raises ``FileNotFoundError`` naming the path."""
    path = (Path(root) if root else results_root()) / chapter / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results file {path}: run the notebook book/{chapter}/{notebook}.py first")
    return json.loads(path.read_text())


def read_all(root: str | os.PathLike | None = None) -> dict[tuple[str, str], dict]:
    """Every results file under the root, keyed by ``(chapter, notebook)``."""
    root = Path(root) if root else results_root()
    out = {}
    for p in sorted(root.glob("*/*.json")):
        out[(p.parent.name, p.stem)] = json.loads(p.read_text())
    return out
