"""``python -m neuro_lib.datasets list | fetch KEY... | fetch-all [--source mirror|upstream|auto] | transforms``.

``fetch`` and ``fetch-all`` exit with status 1 when any file could not be got, naming each one and why, and say how
to point ``NEURO_LIB_DATA`` at a mirror (``make book`` runs ``fetch-all`` first and stops there).
"""
from __future__ import annotations

import argparse
import sys
import time

from . import registry
from .errors import MIRROR_HINT
from .fetching import SOURCES, fetch_all


def _list() -> int:
    for f in registry.REGISTRY.values():
        where = (f.url if f.source == "url" else f"repository: data/{f.repository}" if f.source == "repository"
                 else f"assembled from {len(registry.manifest_rows(f.key)):,} upstream files (data/upstream.csv.xz)")
        chapters = ",".join(f.chapters) or "-"
        print(f"{f.key}\t{f.size:>10} B\t{chapters}\t{f.sha256[:12]}\t{where}")
    return 0


def _transforms(keys) -> int:
    for key in keys or [k for k in registry.chapter_keys() if registry.REGISTRY[k].assembled]:
        counts = registry.transform_counts(key)
        print(f"{key}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.datasets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["list", "fetch-all", "fetch", "transforms"])
    ap.add_argument("keys", nargs="*", help="registry keys (fetch, transforms)")
    ap.add_argument("--source", choices=SOURCES, default="auto",
                    help="mirror: NEURO_LIB_DATA or the cache only; upstream: the cache or the public sources only; "
                         "auto (default): mirror, cache, then the public sources")
    ap.add_argument("--workers", type=int, default=8, help="downloads at a time (default 8)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "transforms":
        return _transforms(args.keys)
    if args.command == "fetch" and not args.keys:
        ap.error("fetch needs at least one registry key (see `list`)")
    keys = args.keys if args.command == "fetch" else None
    t0 = time.perf_counter()

    def report(res):
        if res.error is None:
            print(f"ok  {res.key} -> {res.path}", flush=True)
        else:
            print(f"--  {res.key}: {type(res.error).__name__}", file=sys.stderr, flush=True)

    results = fetch_all(keys, source=args.source, progress=not args.no_progress, workers=args.workers,
                        on_result=report)
    failed = [r for r in results if r.error is not None]
    if not failed:
        print(f"all {len(results)} files verified ({time.perf_counter() - t0:.0f} s)")
        return 0
    err = sys.stderr
    print(f"\n{len(failed)} of {len(results)} registry files could not be got (source={args.source}):", file=err)
    for r in failed:
        text = str(r.error).replace(MIRROR_HINT, "").strip()
        print(f"\n* {r.key}:\n    " + text.replace("\n", "\n    "), file=err)
    print(f"\nThe chapters that read them would fail. {MIRROR_HINT}", file=err)
    return 1


if __name__ == "__main__":
    sys.exit(main())
