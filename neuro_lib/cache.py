"""One on-disk cache for everything the book computes once and reuses: ``cached(namespace, key, compute)``.

Every cached item lives under :func:`cache_dir` (``$NEURO_LIB_CACHE``, default ``~/.cache/neuro_lib``) as
``<cache>/<namespace>/<name>-<digest>.<ext>``, where ``digest`` is the sha256 of

* ``key``: a JSON-able mapping of everything the result depends on (parameters, data checksums, cell ids...);
* the **code version**: the sha256 of the source files of the modules named in ``code`` (and of the module that
  defines ``compute``, when it is part of ``neuro_lib``), so editing the code that made an item invalidates it
  without anybody bumping a version number by hand;
* the **package versions** named in ``packages`` (numpy always).

Items are written to a temporary file in the same folder and renamed (``os.replace``), so a killed run never leaves a
half-written file that a later run would load. Formats (``kind``): ``"npz"`` (a mapping of NumPy arrays, or one
array), ``"json"`` (JSON-able values), ``"pt"`` (tensors and plain containers of them, loaded with
``torch.load(weights_only=True)``). Never pickles. A file that cannot be read is recomputed and replaced.

Beside each item a ``.key.json`` records the key, code version and packages it was made from (for a person
inspecting the cache).

numba's compiled-kernel cache goes under the same root: :func:`numba_cache_dir` (set ``NUMBA_CACHE_DIR`` from it
before importing numba; :mod:`neuro_lib.mea` does).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping

import numpy as np

__all__ = ["cache_dir", "numba_cache_dir", "code_version", "package_versions", "cache_path", "cached", "CacheError",
           "KINDS"]

KINDS = {"npz": ".npz", "json": ".json", "pt": ".pt"}


class CacheError(ValueError):
    """A value that the chosen ``kind`` cannot store (e.g. an object in ``"json"``), or an unknown ``kind``."""


def cache_dir() -> Path:
    """The user cache: ``$NEURO_LIB_CACHE`` or the platform cache folder (``~/.cache/neuro_lib`` on Linux)."""
    env = os.environ.get("NEURO_LIB_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("neuro_lib"))


def numba_cache_dir() -> Path:
    """Where numba's ``cache=True`` kernels are written: ``<cache_dir()>/numba`` (not the source tree)."""
    return cache_dir() / "numba"


def _module_file(mod) -> Path | None:
    if isinstance(mod, str):
        mod = importlib.import_module(mod)
    if isinstance(mod, types.ModuleType):
        f = getattr(mod, "__file__", None)
        return Path(f) if f else None
    # a function or class: the module that defines it
    m = inspect.getmodule(mod)
    return Path(m.__file__) if m is not None and getattr(m, "__file__", None) else None


def code_version(*modules) -> str:
    """sha256 (first 16 hex) of the source files of ``modules`` (module objects, dotted names, or functions/classes,
    which stand for their module), in a fixed order. Raises ``ModuleNotFoundError`` for an unknown dotted name."""
    files = sorted({p.resolve() for p in (_module_file(m) for m in modules) if p is not None})
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def package_versions(*names: str) -> dict[str, str]:
    """``{name: __version__}`` of the installed packages ``names`` (numpy always included); a missing one is
    recorded as ``"absent"``."""
    out = {}
    for n in ("numpy", *names):
        try:
            out[n] = str(importlib.import_module(n).__version__)
        except ImportError:
            out[n] = "absent"
    return dict(sorted(out.items()))


def _canonical(x):
    """JSON-able form of a key (NumPy scalars and arrays as Python values, paths as strings, sets sorted)."""
    if isinstance(x, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if isinstance(x, (list, tuple)):
        return [_canonical(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(_canonical(v) for v in x)
    if isinstance(x, np.ndarray):
        if x.size > 10_000:  # large arrays enter the key by their hash, not their values
            return {"sha256": hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(),
                    "shape": list(x.shape), "dtype": str(x.dtype)}
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise CacheError(f"cache key holds a {type(x).__name__} ({x!r:.80}); use JSON-able values (numbers, strings, "
                     f"lists, dicts, arrays)")


def _full_key(key: Mapping, code: Iterable, packages: Iterable[str], compute: Callable | None) -> dict:
    mods = list(code)
    if compute is not None:
        m = inspect.getmodule(compute)
        if m is not None and m.__name__.startswith("neuro_lib"):
            mods.append(m)
    return {"key": _canonical(dict(key)), "code": code_version(*mods) if mods else "",
            "packages": package_versions(*packages)}


def cache_path(namespace: str, key: Mapping, *, kind: str = "npz", name: str = "item", code: Iterable = (),
               packages: Iterable[str] = (), compute: Callable | None = None) -> Path:
    """The file :func:`cached` would use for these arguments (it may not exist)."""
    if kind not in KINDS:
        raise CacheError(f"unknown cache kind {kind!r}; expected one of {sorted(KINDS)}")
    full = _full_key(key, code, packages, compute)
    digest = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / namespace / f"{name}-{digest}{KINDS[kind]}"


def _write(path: Path, value, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=KINDS[kind])
    os.close(fd)
    try:
        if kind == "npz":
            arrays = value if isinstance(value, Mapping) else {"array": value}
            bad = [k for k, v in arrays.items() if np.asarray(v).dtype == object]
            if bad:
                raise CacheError(f"npz cache values must be numeric or string arrays; {bad} hold Python objects")
            with open(tmp, "wb") as fh:
                np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
        elif kind == "json":
            try:
                text = json.dumps(value)
            except TypeError as err:
                raise CacheError(f"json cache value is not JSON-able: {err}") from err
            Path(tmp).write_text(text)
        else:
            import torch

            torch.save(value, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read(path: Path, kind: str, single: bool):
    if kind == "npz":
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        return out["array"] if single and list(out) == ["array"] else out
    if kind == "json":
        return json.loads(path.read_text())
    import torch

    return torch.load(path, weights_only=True, map_location="cpu")


def cached(namespace: str, key: Mapping, compute: Callable[[], Any], *, kind: str = "npz", name: str = "item",
           code: Iterable = (), packages: Iterable[str] = (), refresh: bool = False) -> Any:
    """Return ``compute()``, computed once and then read from the cache.

    Parameters
    ----------
    namespace : sub-folder of the cache, e.g. ``"mea/models"``.
    key : JSON-able mapping of what the result depends on (see the module docstring for what else enters it).
    compute : called without arguments on a cache miss; its value is stored and returned.
    kind : ``"npz"`` (mapping of arrays, or one array: returned as it was given), ``"json"``, ``"pt"``.
    name : file-name stem, for people browsing the cache.
    code : modules (objects or dotted names) whose source the result depends on, besides ``compute``'s own.
    packages : names of packages whose version the result depends on (numpy is always included), e.g. ``("torch",)``.
    refresh : recompute and overwrite even if a cached copy exists.

    Raises :class:`CacheError` for an unknown ``kind``, a key that is not JSON-able or a value that ``kind`` cannot
    store (nothing is written then). A cached file that cannot be read (truncated, foreign) is recomputed.
    """
    path = cache_path(namespace, key, kind=kind, name=name, code=code, packages=packages, compute=compute)
    if path.exists() and not refresh:
        try:
            return _read(path, kind, single=True)
        except Exception as err:  # unreadable: recompute and replace
            print(f"[neuro_lib.cache] {path} could not be read ({type(err).__name__}: {err}); recomputing",
                  file=sys.stderr)
    value = compute()
    _write(path, value, kind)
    meta = path.with_name(path.name + ".key.json")
    try:
        full = _full_key(key, code, packages, compute)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".meta-")
        with os.fdopen(fd, "w") as fh:
            json.dump(full, fh, indent=1, sort_keys=True)
        os.replace(tmp, meta)
    except OSError:  # the sidecar is for people; its failure must not fail the run
        pass
    return value
