"""``python -m neuro_lib.datasets [list|fetch-all|fetch KEY...]``: list the registry, or fetch and verify files."""
import argparse
import sys

from . import REGISTRY, DataNotAvailableError, fetch, fetch_archive


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.datasets")
    ap.add_argument("command", choices=["list", "fetch-all", "fetch"])
    ap.add_argument("keys", nargs="*")
    args = ap.parse_args(argv)
    if args.command == "list":
        for f in REGISTRY.values():
            print(f"{f.key}\t{f.size:>10} B\t{f.url or '(mirror only)'}")
        return 0
    keys = args.keys if args.command == "fetch" else list(REGISTRY)
    missing = []
    for key in keys:
        try:
            path = fetch_archive(key) if ".tar" in key else fetch(key)
            print(f"ok  {key} -> {path}")
        except DataNotAvailableError as err:
            missing.append(key)
            print(f"--  {key}: {err}", file=sys.stderr)
    if missing:
        print(f"{len(missing)} file(s) not available; the chapters that need them will fail", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
