"""Rebuild every archive of the registry through the upstream path, from a local server, into an empty cache.

The server (127.0.0.1, :mod:`neuro_lib.datasets.localserver`) serves the mirror's unpacked members and its original
files (``morphology/upstream_originals.tar.xz``) under the manifest's URL paths. Each archive is then assembled by
``fetch_archive(key, source="upstream")`` (downloads checked against ``url_sha256``, transforms applied, results
checked against ``member_sha256`` and the movie's array sha256) into an empty cache, and the folder compared with
the mirror's unpacked archive file by file.

Rows whose upstream bytes the mirror cannot give are served as stand-ins and are not counted as verified: the 90
``crlf_to_lf`` cells whose upstream file is not their member with CRLF line ends (it differs in ways the member
does not record), and the 600 source frames of the movie (the mirror holds only their 3-frame means). A stand-in row
gets the sha256 of the stand-in as its ``url_sha256`` for this run only, so that its transform is still exercised:
the crlf stand-ins are checked against their real ``member_sha256``, and the movie's stand-in frames (each mean
repeated three times) against the real array sha256 of the 200 means in ``neurofinder/PROVENANCE.txt``.

    python bench/upstream_rebuild.py [--mirror ../shared/data] [--workers 8] [--keep DIR]

Prints per archive the rows verified and the time, then one line ``verified N/M rows, K mismatches, T s``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", default=os.environ.get("NEURO_LIB_DATA") or str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--keep", help="work folder to use and keep (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    mirror = Path(args.mirror)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="upstream-rebuild-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["NEURO_LIB_CACHE"] = str(work / "cache")
    os.environ.pop("NEURO_LIB_DATA", None)
    shutil.rmtree(work / "cache", ignore_errors=True)

    from neuro_lib.datasets import REGISTRY, ChecksumError, DataNotAvailableError, fetch_archive, registry
    from neuro_lib.datasets.fetching import archive_folder
    from neuro_lib.datasets.localserver import LocalServer
    from neuro_lib.datasets import upstream

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    archives = [k for k, e in REGISTRY.items() if e.assembled and k != registry.ORIGINALS_KEY]

    # --- the server's files: the mirror unpacked -----------------------------------------------------------------
    t0 = time.perf_counter()
    unpacked = {}
    for key in archives + [registry.ORIGINALS_KEY]:
        dest = work / "mirror" / REGISTRY[key].stem
        if not (dest / ".done").exists():
            shutil.rmtree(dest, ignore_errors=True)
            with tarfile.open(mirror / key) as tar:
                tar.extractall(dest, filter="data")
            (dest / ".done").write_text("")
        unpacked[key] = dest
    originals = unpacked[registry.ORIGINALS_KEY]
    server = LocalServer()
    rows_for, standins = {}, {}
    for key in archives:
        rows, n_stand = [], 0
        for r in registry.manifest_rows(key):
            if r.transform == "identity":
                server.add(r.url, unpacked[key] / r.member)
            elif r.transform in ("convert", "convert_aux"):
                server.add(r.url, originals / registry.originals_member(r.url))
            elif r.transform == "crlf_to_lf":
                crlf = (unpacked[key] / r.member).read_bytes().replace(b"\n", b"\r\n")
                server.add(r.url, crlf)
                if _sha(crlf) != r.url_sha256:
                    r = r._replace(url_sha256=_sha(crlf))
                    n_stand += 1
            elif r.transform == "temporal_mean_3":
                k = int(Path(r.url).stem.removeprefix("image")) // 3
                frame = unpacked[key] / "images" / f"image{k:05d}.tiff"
                server.add(r.url, frame)
                r = r._replace(url_sha256=_sha(frame.read_bytes()))
                n_stand += 1
            rows.append(r)
        rows_for[key], standins[key] = rows, n_stand
    n_rows = len(registry.manifest())
    print(f"server ready: the mirror unpacked and {len(server.files):,} URLs laid out "
          f"({time.perf_counter() - t0:.0f} s, not counted below)")

    # --- the rebuild ---------------------------------------------------------------------------------------------
    verified = mismatches = 0
    total = time.perf_counter()
    with server:
        for key in archives:
            e = REGISTRY[key]
            t = time.perf_counter()
            out = archive_folder(key)
            note = ""
            try:
                if standins[key]:  # the same assembly, with this run's stand-in hashes
                    recipe = dict(e.recipe)
                    if "temporal_mean_3" in recipe:
                        recipe["temporal_mean_3"] = {**recipe["temporal_mean_3"], "source_array_sha256": None}
                        note = (f"; means' array sha256 = PROVENANCE.txt's "
                                f"{recipe['temporal_mean_3']['array_sha256'][:12]}... (from stand-in frames)")
                    rep = upstream.assemble(dataclasses.replace(e, recipe=recipe), rows_for[key], out,
                                            base_url=server.base_url, workers=args.workers, progress=False)
                    ok = rep.verified - standins[key]
                else:
                    fetch_archive(key, source="upstream", base_url=server.base_url, workers=args.workers,
                                  progress=False)
                    import json

                    ok = json.loads((out / ".complete").read_text())["verified"]
                bad = 0
            except ChecksumError as err:
                bad = len(err.mismatches)
                ok = len(rows_for[key]) - bad - standins[key]
                print(f"  {key}: {err}")
            except DataNotAvailableError as err:
                bad = len(err.missing)
                ok = len(rows_for[key]) - bad - standins[key]
                print(f"  {key}: {err}")
            dt = time.perf_counter() - t
            same, n_files = _compare(out, unpacked[key]) if out.exists() else (0, 0)
            verified += ok
            mismatches += bad
            stand = f" + {standins[key]} stand-ins" if standins[key] else ""
            print(f"{key}: {ok}/{len(rows_for[key])} rows verified{stand}, {bad} mismatches, "
                  f"{same}/{n_files} files identical to the mirror's, {dt:.1f} s{note}", flush=True)
        # the originals archive (read by the mirror path's conversion) has a recipe too: the convert rows again
        t = time.perf_counter()
        out = fetch_archive(registry.ORIGINALS_KEY, source="upstream", base_url=server.base_url,
                            workers=args.workers, progress=False)
        same, n_files = _compare(out, originals)
        print(f"{registry.ORIGINALS_KEY}: {same}/{n_files} files identical to the mirror's, "
              f"{time.perf_counter() - t:.1f} s (its {len(registry.manifest_rows(registry.ORIGINALS_KEY))} rows are "
              "the convert rows counted above)", flush=True)
    elapsed = time.perf_counter() - total
    n_stand = sum(standins.values())
    print(f"{n_stand} rows served as stand-ins (upstream bytes not in the mirror: "
          f"{standins.get('morphology/rat_s1_vasques.tar.xz', 0)} crlf_to_lf cells, "
          f"{standins.get('neurofinder/neurofinder_vs1_600frames_bin3.tar.xz', 0)} source frames); "
          f"their transforms ran, they are not counted as verified")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"verified {verified}/{n_rows} rows, {mismatches} mismatches, {elapsed:.0f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if mismatches == 0 else 1


def _compare(built: Path, reference: Path) -> tuple[int, int]:
    """(files of ``reference`` that ``built`` has byte for byte, files of ``reference``)."""
    ref = [p for p in reference.rglob("*") if p.is_file() and p.name != ".done"]
    same = 0
    for p in ref:
        q = built / p.relative_to(reference)
        if q.is_file() and q.stat().st_size == p.stat().st_size and q.read_bytes() == p.read_bytes():
            same += 1
    extra = [p for p in built.rglob("*") if p.is_file() and p.name != ".complete"
             and not (reference / p.relative_to(built)).exists()]
    return same, len(ref) + len(extra)


if __name__ == "__main__":
    sys.exit(main())
