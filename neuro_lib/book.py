"""Execute the whole book and build it: ``python -m neuro_lib.book [execute|table|build|all] [--profile cpu]``.

Why not let Jupyter Book execute the pages? Every notebook has to run through the same path as a user's
``python -m neuro_lib.run`` (papermill, with the profile injected as a parameter), the results table on the index page
must be generated *after* every notebook has written its results file, and jupyter-cache is known to drop the outputs
of ``.py`` pages. So the build is three steps:

1. ``execute``: every notebook listed in ``_toc.yml`` (a jupytext percent script ``book/<chapter>/<name>.py``) runs
   through :func:`neuro_lib.run.run_notebook`; the executed notebook lands beside its script as
   ``book/<chapter>/<name>.ipynb`` (a build output, git-ignored) and its results file in ``_build/results``. A
   notebook whose script, parameters and library code are unchanged since its last run is not run again; its
   library code is the ``neuro_lib`` modules it imports, directly or through other modules
   (:func:`library_dependencies`), so an edit to the morphology code does not re-run the ephys chapter.
2. ``table``: :func:`results_table` writes ``book/_generated/results.md`` (ours beside the papers', from
   ``data/paper_numbers/*.yml``), included by ``book/index.md``.
3. ``build``: ``jupyter-book build`` with execution off renders the executed notebooks to ``_build/html``.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from .results import read_all

__all__ = ["toc_notebooks", "library_dependencies", "execute_book", "results_table", "build_html", "main"]


def toc_notebooks(root: str | Path) -> list[Path]:
    """The ``.py`` notebook scripts listed in ``root/_toc.yml``, in table-of-contents order."""
    root = Path(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    return [root / f"{f}.py" for f in files if (root / f"{f}.py").exists()]


def _repo_name(path) -> str:
    """``path`` from its last ``neuro_lib`` or ``book`` folder on (``book/ephys/01_data.py``), so that the same tree
    checked out in another folder gets the same stamps; the file name for anything else."""
    parts = Path(path).parts
    for anchor in ("neuro_lib", "book"):
        if anchor in parts[:-1]:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return Path(path).name


def _tree_hash(paths) -> str:
    """sha256 over each file's repo-relative name (:func:`_repo_name`) and its bytes."""
    h = hashlib.sha256()
    for p in paths:
        h.update(_repo_name(p).encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def _module_file(package_root: Path, dotted: str) -> Path | None:
    """``neuro_lib.a.b`` -> ``<package_root>/a/b.py`` or ``.../a/b/__init__.py``, or ``None`` if neither exists."""
    parts = dotted.split(".")[1:]
    base = package_root.joinpath(*parts) if parts else package_root
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def library_dependencies(script: str | Path) -> list[Path]:
    """The ``neuro_lib`` source files that ``script`` imports, directly or through other ``neuro_lib`` modules
    (imports inside functions included), with the ``__init__.py`` of every package on the way; sorted.

    Found by reading the files' import statements with :mod:`ast` (nothing is imported or run). ``from pkg import
    name`` counts ``pkg/name.py`` when ``name`` is a submodule. Raises ``SyntaxError`` (with the file name) for a file
    that does not parse.
    """
    package_root = Path(__file__).resolve().parent
    seen: set[Path] = set()
    todo = [Path(script).resolve()]
    deps: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        if path.is_relative_to(package_root):
            rel = path.relative_to(package_root).with_suffix("")
            pkg = ["neuro_lib", *rel.parts[:-1]]      # the package that a level-1 relative import names
        else:
            pkg = []
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if not pkg:
                        continue
                    base = pkg[:len(pkg) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                names.append(mod)
                names += [f"{mod}.{a.name}" for a in node.names]
        for name in names:
            if name != "neuro_lib" and not name.startswith("neuro_lib."):
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):       # the packages on the way, then the module itself
                f = _module_file(package_root, ".".join(parts[:i]))
                if f is not None and f not in deps:
                    deps.add(f)
                    todo.append(f)
    return sorted(deps)


def execute_book(root: str | Path = ".", profile: str = "cpu", *, force: bool = False,
                 results_dir: str | Path | None = None, only: str | None = None,
                 extra: dict | None = None) -> list[Path]:
    """Run every toc notebook in ``profile``; return the executed notebooks. ``only`` keeps scripts whose path
    contains that text (e.g. ``"ephys"``). Raises papermill's error for the first notebook that fails."""
    from .run import run_notebook

    root = Path(root).resolve()
    results_dir = Path(results_dir) if results_dir else root / "_build" / "results"
    out = []
    for script in toc_notebooks(root):
        if only and only not in str(script):
            continue
        params = {"profile": profile, **(extra or {})}
        chapter = script.parent.name
        stamp_file = root / "_build" / "stamps" / chapter / f"{script.stem}.json"
        stamp = {"script": _tree_hash([script]), "lib": _tree_hash(library_dependencies(script)),
                 "parameters": params}
        executed = script.with_suffix(".ipynb")
        result = results_dir / chapter / f"{script.stem}.json"
        if (not force and stamp_file.exists() and executed.exists() and result.exists()
                and json.loads(stamp_file.read_text()) == stamp):
            print(f"[book] up to date: {script.relative_to(root)}")
            out.append(executed)
            continue
        print(f"[book] executing {script.relative_to(root)} (profile={profile})", flush=True)
        run_notebook(script, params, script.parent.parent, results_dir=results_dir)
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(json.dumps(stamp))
        out.append(executed)
    return out


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)) and 0 <= v <= 1:
        return f"{100 * v:.1f}%"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _fmt_ours(metrics: dict, key: str) -> str:
    """Our number for ``key``: a rate as a percentage with its sd (``87.6% ± 1.9``); a paired difference
    (``.../diff_vs_M/metric``) in percentage points with its 95% interval (``+1.2 pts [-0.5, +2.9]``)."""
    v = metrics.get(key)
    if v is None:
        return "n/a"
    if "/diff_vs_" in key:
        lo, hi = metrics.get(key + "_lo"), metrics.get(key + "_hi")
        txt = f"{100 * v:+.1f} pts"
        if lo is not None and hi is not None:
            txt += f" [{100 * lo:+.1f}, {100 * hi:+.1f}]"
        return txt
    sd = metrics.get(key + "_sd")
    if isinstance(v, (int, float)) and 0 <= v <= 1:
        return f"{100 * v:.1f}%" + (f" ± {100 * sd:.1f}" if sd else "")
    return _fmt(v) + (f" ± {sd:.3g}" if sd else "")


_ROW_FIELDS = ("task", "model", "metric", "key", "notebook", "paper", "source")
_ROW_REQUIRED = ("task", "model", "metric", "key", "notebook")


def _read_specs(root: Path) -> list[dict]:
    specs = []
    for p in sorted((root / "data" / "paper_numbers").glob("*.yml")):
        spec = yaml.safe_load(p.read_text())
        for i, row in enumerate(spec.get("rows", [])):
            unknown = set(row) - set(_ROW_FIELDS)
            missing = set(_ROW_REQUIRED) - set(row)
            if unknown or missing:
                raise ValueError(f"{p}, row {i + 1} ({row.get('key')}): "
                                 + (f"unknown field(s) {sorted(map(str, unknown))}" if unknown else "")
                                 + ("; " if unknown and missing else "")
                                 + (f"missing field(s) {sorted(missing)}" if missing else "")
                                 + f"; expected {', '.join(_ROW_FIELDS)}")
        specs.append(spec)
    specs.sort(key=lambda c: c.get("order", 99))
    return specs


def results_table(root: str | Path = ".", results_dir: str | Path | None = None) -> str:
    """Markdown tables, one per chapter, of every row of ``data/paper_numbers/<chapter>.yml``: our number (from the
    results files, with its sd, or for a paired difference its 95% interval) beside the paper's, with the data
    difference; written to ``book/_generated/results.md`` and returned. Also writes ``book/_generated/results.csv``
    (:func:`results_csv`).

    Each YAML file holds ``chapter``, ``title``, ``order``, ``note`` (the data difference), optionally ``paper_label``
    (what the paper column says when a row has no paper number, e.g. ``"new"`` for a chapter of our own; default
    ``"n/a"``) and ``rows``, each row ``{task, model, metric, key, notebook, paper, source}``; ``paper`` is the
    paper's published number (cited, with the table it comes from in ``source``), ``key`` the results key of ours. A
    key that an executed notebook's results file lacks shows as "missing". Raises ``ValueError`` naming the file and
    the row for a row with a field other than these or without one of ``task``, ``model``, ``metric``, ``key``,
    ``notebook`` (an unquoted comma in a YAML flow mapping, for one, splits a field in two).
    """
    root = Path(root).resolve()
    specs = _read_specs(root)
    results = read_all(results_dir or root / "_build" / "results")
    lines = []
    for chapter in specs:
        profiles_run = sorted({str(doc.get("parameters", {}).get("profile", "?"))
                               for (ch, _), doc in results.items() if ch == chapter["chapter"]})
        ran = (f"*Our numbers here come from the `{'`, `'.join(profiles_run)}` profile"
               + (" (tiny subsets for tests: not comparable with the paper)*" if "smoke" in profiles_run else "*")
               if profiles_run else "*Not run in this build.*")
        lines += [f"### {chapter['title']}", "", chapter.get("note", ""), "", ran, "",
                  "| task | model | metric | ours | paper | page |",
                  "|---|---|---|---|---|---|"]
        for row in chapter["rows"]:
            doc = results.get((chapter["chapter"], row["notebook"]))
            metrics = doc["metrics"] if doc else {}
            cell = ("not run" if not doc
                    else "missing" if row["key"] not in metrics else _fmt_ours(metrics, row["key"]))
            paper = row.get("paper")
            ptxt = (_fmt(paper) + (f" ({row['source']})" if row.get("source") else "")) if paper is not None \
                else chapter.get("paper_label", "n/a")
            link = f"[{row['notebook'].split('_', 1)[0]}]({chapter['chapter']}/{row['notebook']}.ipynb)"
            lines.append(f"| {row['task']} | {row['model']} | {row['metric']} | {cell} | {ptxt} | {link} |")
        lines.append("")
    text = "\n".join(lines)
    out = root / "book" / "_generated" / "results.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    results_csv(root, results_dir)
    return text


def results_csv(root: str | Path = ".", results_dir: str | Path | None = None) -> Path:
    """``book/_generated/results.csv``: every key of every results file, one row each, with its chapter, notebook,
    value, the profile and seed it ran with, how long the page took, and the sha256 of the data it read
    (``key=sha256`` joined by ``;``). Returns the path."""
    import csv

    root = Path(root).resolve()
    results = read_all(results_dir or root / "_build" / "results")
    out = root / "book" / "_generated" / "results.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["chapter", "notebook", "key", "value", "profile", "seed", "page_seconds", "data_sha256"])
        for (chapter, nb), doc in sorted(results.items()):
            params = doc.get("parameters", {})
            data = ";".join(f"{k}={v}" for k, v in sorted(doc.get("data", {}).items()))
            secs = doc.get("execution", {}).get("seconds", "")
            for k, v in sorted(doc.get("metrics", {}).items()):
                w.writerow([chapter, nb, k, "" if v is None else repr(float(v)), params.get("profile", ""),
                            params.get("seed", ""), secs, data])
    tmp.replace(out)
    return out


def build_html(root: str | Path = ".", *, strict: bool = False) -> Path:
    """``jupyter-book build`` of ``root`` (execution off: pages are the executed notebooks); returns the HTML dir."""
    root = Path(root).resolve()
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return root / "_build" / "html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.book", description="execute and build the book")
    ap.add_argument("step", choices=["execute", "table", "build", "all"], nargs="?", default="all")
    ap.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"])
    ap.add_argument("--root", default=".")
    ap.add_argument("--force", action="store_true", help="re-execute notebooks even if up to date")
    ap.add_argument("--only", default=None, help="execute only scripts whose path contains this text")
    ap.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
    args = ap.parse_args(argv)
    if args.step in ("execute", "all"):
        execute_book(args.root, args.profile, force=args.force, only=args.only)
    if args.step in ("table", "all"):
        results_table(args.root)
    if args.step in ("build", "all"):
        html = build_html(args.root, strict=args.strict)
        print(f"[book] HTML in {html}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
