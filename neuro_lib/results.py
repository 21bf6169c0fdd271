"""Writing and reading results files: every number in the book comes from one of these.

Keys have fixed slots, built by :func:`key` and never improvised in a page::

    <task>/<model>/<metric>                          e.g. cre5/lspin/accuracy
    <task>/<model>/split=<split>/<metric>            e.g. mtype/cnn/split=3drot/accuracy (which data / protocol)
    <task>/<model>/group=<group>/<metric>            e.g. ei/dann/group=human/accuracy   (a subset of test cells)
    <task>/<model>/diff_vs_<other>/<metric>          e.g. cre5/lspin/diff_vs_svc/accuracy (paired difference)

in that order when several are present (``split``, then ``group``, then ``diff_vs``). A metric's spread over folds
or seeds is the metric name plus ``_sd``; a paired difference's 95% interval is ``<metric>_lo`` / ``<metric>_hi``
and its p-value ``<metric>_p``.

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
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

__all__ = ["results_root", "repo_root", "write_results", "read_results", "read_all", "flatten", "key", "parse_key",
           "KeyParts", "cv_metrics", "diff_metrics", "paper_numbers", "paper_rows"]


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


_SLOT = re.compile(r"[^/=\s]+")
_METRIC = re.compile(r"[A-Za-z0-9_.]+")


@dataclass(frozen=True)
class KeyParts:
    """The slots of a results key (see the module docstring)."""

    task: str
    model: str
    metric: str
    split: str | None = None
    group: str | None = None
    vs: str | None = None


def key(task: str, model: str, metric: str, *, split: str | None = None, group: str | None = None,
        vs: str | None = None) -> str:
    """The results key ``<task>/<model>[/split=S][/group=G][/diff_vs_M]/<metric>``.

    ``task``, ``model``, ``split``, ``group`` and ``vs`` are non-empty and hold no ``/``, ``=`` or whitespace;
    ``metric`` is letters, digits, ``_`` and ``.`` (e.g. ``accuracy``, ``accuracy_sd``, ``macro_f1``).
    Raises ``ValueError`` naming the slot otherwise.
    """
    for slot, v in (("task", task), ("model", model), ("split", split), ("group", group), ("vs", vs)):
        if v is None and slot in ("split", "group", "vs"):
            continue
        if not isinstance(v, str) or not _SLOT.fullmatch(v):
            raise ValueError(f"results key slot {slot}={v!r} must be a non-empty string without '/', '=' or spaces")
    if not isinstance(metric, str) or not _METRIC.fullmatch(metric):
        raise ValueError(f"results key metric {metric!r} must be letters, digits, '_' or '.'")
    parts = [task, model]
    if split is not None:
        parts.append(f"split={split}")
    if group is not None:
        parts.append(f"group={group}")
    if vs is not None:
        parts.append(f"diff_vs_{vs}")
    return "/".join(parts + [metric])


def parse_key(k: str) -> KeyParts:
    """Inverse of :func:`key`. Raises ``ValueError`` for a key that does not have the fixed slots."""
    parts = k.split("/") if isinstance(k, str) else []
    if len(parts) < 3:
        raise ValueError(f"results key {k!r} must look like '<task>/<model>[/split=S][/group=G][/diff_vs_M]/<metric>'")
    task, model, *mid, metric = parts
    q: dict[str, str] = {}
    order = ["split", "group", "vs"]
    last = -1
    for seg in mid:
        if seg.startswith("split="):
            name, val = "split", seg[6:]
        elif seg.startswith("group="):
            name, val = "group", seg[6:]
        elif seg.startswith("diff_vs_"):
            name, val = "vs", seg[8:]
        else:
            raise ValueError(f"results key {k!r}: segment {seg!r} is not split=..., group=... or diff_vs_...; "
                             f"keys are '<task>/<model>[/split=S][/group=G][/diff_vs_M]/<metric>'")
        if order.index(name) <= last:
            raise ValueError(f"results key {k!r}: qualifiers must come in the order split, group, diff_vs, once each")
        last = order.index(name)
        q[name] = val
    out = KeyParts(task, model, metric, **q)
    if key(out.task, out.model, out.metric, split=out.split, group=out.group, vs=out.vs) != k:
        raise ValueError(f"results key {k!r} has an empty or malformed slot")
    return out


#: A key that does not parse (:func:`parse_key`) is refused with ``ValueError``; set to False to only warn (for a
#: page of your own whose keys are still being named).
STRICT_KEYS = True


def cv_metrics(cv, task: str, model: str | None = None, *, split: str | None = None, groups: bool | Iterable = True,
               metrics: Iterable[str] = ("accuracy", "macro_f1", "macro_precision", "macro_recall"),
               sd: bool = True) -> dict[str, float]:
    """Results entries of a :class:`neuro_lib.evaluation.CVResult`: for ``group="all"`` the keys
    ``<task>/<model>[/split=S]/<metric>`` (+ ``_sd`` over splits), and for each other test group (``groups=True``:
    all of the result's; or an iterable of names) the same with ``group=<g>``. ``model`` defaults to ``cv.model``."""
    model = model or cv.model
    out: dict[str, float] = {}
    wanted = cv.groups if groups is True else (["all"] + list(groups) if groups else ["all"])
    for g in wanted:
        summ = cv.summary(g)
        for m in metrics:
            if m not in summ:
                continue
            gg = None if g == "all" else g
            out[key(task, model, m, split=split, group=gg)] = summ[m]
            if sd:
                out[key(task, model, f"{m}_sd", split=split, group=gg)] = summ[f"{m}_sd"]
    return out


def diff_metrics(diff, task: str, model: str | None = None, *, split: str | None = None,
                 group: str | None = None) -> dict[str, float]:
    """Results entries of a :class:`neuro_lib.evaluation.PairedDifference` ``a - b``:
    ``<task>/<a>[/split=S][/group=G]/diff_vs_<b>/<metric>`` (the mean difference), ``..._lo``, ``..._hi`` (the
    interval) and ``..._p``."""
    model = model or diff.a
    m = diff.metric
    return {key(task, model, m, split=split, group=group, vs=diff.b): diff.mean,
            key(task, model, f"{m}_lo", split=split, group=group, vs=diff.b): diff.lo,
            key(task, model, f"{m}_hi", split=split, group=group, vs=diff.b): diff.hi,
            key(task, model, f"{m}_p", split=split, group=group, vs=diff.b): diff.p}


def paper_rows(chapter: str, root: str | os.PathLike | None = None) -> list[dict]:
    """The rows of ``data/paper_numbers/<chapter>.yml`` (each ``{task, model, metric, key, notebook, paper,
    source}``). Raises ``FileNotFoundError`` naming the file."""
    import yaml

    path = repo_root(root) / "data" / "paper_numbers" / f"{chapter}.yml"
    if not path.exists():
        raise FileNotFoundError(f"no paper numbers file {path}")
    return list((yaml.safe_load(path.read_text()) or {}).get("rows", []))


def paper_numbers(chapter: str, root: str | os.PathLike | None = None) -> dict[str, float]:
    """``{our results key: the paper's published number}`` from ``data/paper_numbers/<chapter>.yml``, so a page
    shows the paper's number beside ours without typing it. Rows without a ``paper`` value are left out."""
    return {r["key"]: float(r["paper"]) for r in paper_rows(chapter, root) if r.get("paper") is not None}


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    clean = {}
    for k, v in metrics.items():
        if not isinstance(k, str) or k.count("/") < 2:
            raise ValueError(f"results key {k!r} must look like '<task>/<model>/<metric>'")
        try:
            parse_key(k)
        except ValueError as err:
            if STRICT_KEYS:
                raise
            warnings.warn(str(err), stacklevel=3)
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
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
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
