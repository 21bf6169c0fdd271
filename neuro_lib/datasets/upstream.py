"""Downloads from the upstream URLs and the assembly of an archive's folder from its manifest rows.

Downloads (:func:`download_rows`) go through :func:`pooch.retrieve` with a downloader of ours
(:class:`ResumableDownloader`): several at once (a thread pool), each resumable (an interrupted download is kept as
``<file>.part`` and continued with an HTTP ``Range`` request), each checked against its ``url_sha256`` by pooch,
which writes to a temporary file and renames it only when the hash matches, so a partial or wrong download never
becomes a cached file. One tqdm bar per archive. Downloaded files live in ``<cache>/downloads/<host>/<url path>``
until the archive's folder is complete, so a rerun after an interruption downloads only what is missing.

The assembly (:func:`assemble`) applies each row's transform (:mod:`.transforms`), checks every result against its
``member_sha256`` (the movie: against the array checksums of its recipe), writes the folder under a temporary name
and publishes it with a completion marker (:func:`publish`). Every mismatch is collected and reported together
(:class:`~neuro_lib.datasets.ChecksumError`); every file that could not be downloaded is listed
(:class:`~neuro_lib.datasets.DataNotAvailableError`).

``base_url`` (or the environment variable ``NEURO_LIB_UPSTREAM_BASE``) replaces the scheme and host of every URL,
keeping its path: for tests and benchmarks against a local server, or for a local proxy of the upstream hosts.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import numpy as np

from ..cache import cache_dir
from . import transforms
from .errors import ChecksumError, DataNotAvailableError, Mismatch
from .registry import DataFile, Row

__all__ = ["rewrite_url", "ResumableDownloader", "DownloadFailure", "download_rows", "assemble", "publish",
           "marker_ok", "AssemblyReport", "LAYOUT", "download_path", "convert_members"]

#: version of the unpacked-folder layout and marker; a folder with another (or an old plain-text) marker is rebuilt
LAYOUT = 2
ENV_BASE = "NEURO_LIB_UPSTREAM_BASE"
#: HTTP statuses worth a retry
_TRANSIENT = {429, 500, 502, 503, 504}


def rewrite_url(url: str, base_url: str | None = None) -> str:
    """``url`` with its scheme and host replaced by ``base_url`` (default ``$NEURO_LIB_UPSTREAM_BASE``; unchanged
    when neither is set): ``rewrite_url("https://raw.githubusercontent.com/a/b", "http://127.0.0.1:8000")`` ->
    ``"http://127.0.0.1:8000/a/b"``."""
    base = base_url if base_url is not None else os.environ.get(ENV_BASE)
    if not base:
        return url
    parts = urlsplit(url)
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def download_path(url: str, root: Path | None = None) -> Path:
    """Where a download of ``url`` is kept until its archive is assembled: ``<cache>/downloads/<host>/<path>``."""
    parts = urlsplit(url)
    return (root or cache_dir() / "downloads") / parts.netloc / parts.path.lstrip("/")


class _Unreachable(Exception):
    """No connection could be opened to the host (not a broken transfer)."""


class ResumableDownloader:
    """A pooch downloader (``callable(url, output_file, pooch)``) that resumes from ``part`` (``<file>.part``).

    The bytes go to ``part`` first; a rerun after an interruption asks for the rest with ``Range: bytes=<n>-`` and
    appends when the server answers 206 (starts again when it answers 200). When the transfer is whole, ``part`` is
    moved to pooch's temporary ``output_file``, which pooch hashes and renames, or deletes when the hash is wrong (so
    a corrupted part is not resumed again). Transient failures (a broken connection, HTTP 429/5xx) are retried
    ``retries`` times, resuming; a connection that cannot be opened at all raises at once (no network).
    ``session``: a ``requests.Session`` (one per thread); ``on_bytes(n)`` is told how many bytes arrived.
    """

    def __init__(self, part: Path, session, *, retries: int = 2, timeout=(10, 60), on_bytes: Callable | None = None):
        self.part, self.session, self.retries, self.timeout = Path(part), session, retries, timeout
        self.on_bytes = on_bytes or (lambda n: None)

    def __call__(self, url: str, output_file, pooch_obj=None) -> None:
        import requests

        self.part.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(self.retries + 1):
            start = self.part.stat().st_size if self.part.exists() else 0
            # a resumed request asks for the identity encoding: a Range counts bytes of the encoded response, and
            # the part holds decoded bytes (a first attempt may have come gzip-encoded)
            headers = {"Range": f"bytes={start}-", "Accept-Encoding": "identity"} if start else {}
            try:
                with self.session.get(url, headers=headers, stream=True, timeout=self.timeout) as r:
                    if start and r.status_code == 416:  # the part is not a prefix of this file: start again
                        self.part.unlink()
                        continue
                    if r.status_code in _TRANSIENT and attempt < self.retries:
                        time.sleep(0.5 * 2 ** attempt)
                        continue
                    r.raise_for_status()
                    resumed = bool(start) and r.status_code == 206 and \
                        r.headers.get("Content-Range", "").startswith(f"bytes {start}-")
                    with open(self.part, "ab" if resumed else "wb") as fh:
                        for chunk in r.iter_content(1 << 16):
                            fh.write(chunk)
                            self.on_bytes(len(chunk))
                break
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as err:
                if _connect_failure(err):
                    raise _Unreachable(str(err)) from err
                if attempt == self.retries:
                    raise
                time.sleep(0.5 * 2 ** attempt)
        else:
            raise requests.ConnectionError(f"{url}: no complete response after {self.retries + 1} attempts")
        os.replace(self.part, output_file)


def _connect_failure(err: Exception) -> bool:
    """Whether a requests error means that no connection could be opened (refused, no route, name not resolved,
    connect timeout), as opposed to a transfer broken off."""
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(err, requests.ConnectionError) or isinstance(err, requests.exceptions.ChunkedEncodingError):
        return False
    inner = err.args[0] if err.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return isinstance(inner, NewConnectionError)


@dataclass(frozen=True)
class DownloadFailure:
    """A file that could not be downloaded: its ``url`` (as in the manifest), the ``member`` it feeds and ``why``."""

    url: str
    member: str
    why: str


@contextlib.contextmanager
def _quiet_pooch():
    import pooch

    log = pooch.get_logger()
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def download_rows(rows: Sequence[Row], *, desc: str, base_url: str | None = None, workers: int = 8,
                  retries: int = 2, progress: bool = True, root: Path | None = None,
                  unreachable: set | None = None) -> tuple[dict[str, Path], list[DownloadFailure], list[Mismatch]]:
    """Download the distinct URLs of ``rows`` into :func:`download_path` (``root`` instead of the cache's
    ``downloads/`` when given), ``workers`` at a time, one tqdm bar (``desc``). A file already there with the right
    sha256 is not downloaded again.

    Returns ``(paths, failures, mismatches)``: ``{url: local path}`` of the verified files, the files that could
    not be downloaded (HTTP status, broken connection, host unreachable: once a host cannot be reached the rest of
    its files are not attempted and say so) and the downloads whose sha256 differs from ``url_sha256`` (deleted).
    ``unreachable``: a set of hosts shared between calls (``fetch-all`` passes one, so that with no network every
    archive fails at once).
    """
    import pooch
    import requests
    from tqdm.auto import tqdm

    todo: dict[str, Row] = {}
    for r in rows:
        todo.setdefault(r.url, r)
    unreachable = unreachable if unreachable is not None else set()
    local = threading.local()
    lock = threading.Lock()
    got: dict[str, Path] = {}
    failures: list[DownloadFailure] = []
    mismatches: list[Mismatch] = []
    nbytes = [0]

    def count(n):
        with lock:
            nbytes[0] += n

    def one(row: Row):
        url = rewrite_url(row.url, base_url)
        host = urlsplit(url).netloc
        dest = download_path(row.url, root)
        if host in unreachable:
            return row, None, f"not attempted: {host} could not be reached"
        if not hasattr(local, "session"):
            local.session = requests.Session()
        dl = ResumableDownloader(dest.with_name(dest.name + ".part"), local.session, retries=retries,
                                 on_bytes=count)
        try:
            path = pooch.retrieve(url, known_hash=f"sha256:{row.url_sha256}", fname=dest.name, path=dest.parent,
                                  downloader=dl, progressbar=False)
        except ValueError as err:  # pooch: the downloaded file's hash does not match (it deleted it)
            where = row.url if url == row.url else f"{row.url} (served by {url})"
            return row, Mismatch("download of", where, row.url_sha256, _actual_from_pooch(str(err))), None
        except _Unreachable as err:
            with lock:
                unreachable.add(host)
            return row, None, f"could not connect to {host} ({_short(err)})"
        except requests.HTTPError as err:
            resp = err.response
            return row, None, f"HTTP {resp.status_code} {resp.reason}" if resp is not None else _short(err)
        except requests.RequestException as err:
            done = dest.with_name(dest.name + ".part")
            kept = f"; {done.stat().st_size:,} bytes kept, a rerun resumes" if done.exists() else ""
            return row, None, f"download broken off ({_short(err)}){kept}"
        return row, Path(path), None

    hopeless = all(urlsplit(rewrite_url(u, base_url)).netloc in unreachable for u in todo)
    with _quiet_pooch(), tqdm(total=len(todo), desc=desc, unit="file", disable=not progress or hopeless) as bar, \
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, r) for r in todo.values()]
        for fut in as_completed(futures):
            row, result, why = fut.result()
            if isinstance(result, Path):
                got[row.url] = result
            elif isinstance(result, Mismatch):
                mismatches.append(result)
            else:
                failures.append(DownloadFailure(row.url, row.member, why))
            bar.update(1)
            bar.set_postfix_str(f"{nbytes[0] / 1e6:.1f} MB", refresh=False)
    return got, failures, mismatches


def _actual_from_pooch(message: str) -> str:
    import re

    found = re.findall(r"[0-9a-f]{64}", message)
    return found[-1] if found else "unknown"


def _short(err: Exception, n: int = 160) -> str:
    s = str(err).replace("\n", " ")
    return s if len(s) <= n else s[: n - 3] + "..."


# ----------------------------------------------------------------------------------------------------------------
# the unpacked folder: temporary name, completion marker, publication

def marker_ok(folder: Path, entry: DataFile) -> bool:
    """Whether ``folder`` is complete: its ``.complete`` marker names this entry's sha256 and :data:`LAYOUT`."""
    try:
        m = json.loads((folder / ".complete").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("sha256") == entry.sha256 and m.get("layout") == LAYOUT


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (``.x-<name>-<pid>-...``); folders left by dead processes are
    removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".x-{out.name}-"
    for old in out.parent.glob(prefix + "*"):
        try:
            pid = int(old.name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    import tempfile

    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{prefix}{os.getpid()}-"))


def publish(tmp: Path, out: Path, entry: DataFile, info: dict) -> Path:
    """Write the completion marker into ``tmp`` (last) and rename ``tmp`` to ``out``. A complete ``out`` made
    meanwhile by another process wins (``tmp`` is discarded); an incomplete or old-layout ``out`` is replaced."""
    marker = {"key": entry.key, "sha256": entry.sha256, "layout": LAYOUT, **info}
    (tmp / ".complete").write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    for _ in range(3):
        try:
            os.rename(tmp, out)
            return out
        except OSError:
            if marker_ok(out, entry):
                shutil.rmtree(tmp, ignore_errors=True)
                return out
            old = out.with_name(f".old-{out.name}-{os.getpid()}")
            try:
                os.rename(out, old)
            except FileNotFoundError:
                continue
            shutil.rmtree(old, ignore_errors=True)
    raise OSError(f"could not publish {tmp} as {out}")


# ----------------------------------------------------------------------------------------------------------------
# transforms applied to downloaded (or mirror-held) files

def _write_checked(tmp: Path, member: str, data: bytes, expected: str, what: str, source: str,
                   mismatches: list[Mismatch]) -> bool:
    actual = hashlib.sha256(data).hexdigest()
    if expected and actual != expected:
        mismatches.append(Mismatch(what, f"{source} -> {member}", expected, actual))
        return False
    dest = tmp / member
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return True


def convert_members(rows: Sequence[Row], tmp: Path, original_of: Callable[[Row], Path],
                    mismatches: list[Mismatch]) -> tuple[int, dict]:
    """Convert every ``convert`` row of ``rows`` from its original file (``original_of(row)``: a local path) into
    ``tmp/<member>``, checked against ``member_sha256``. Returns ``(number verified, {member: skipped counts})``."""
    aux = {Path(urlsplit(r.url).path).name: original_of(r) for r in rows if r.transform == "convert_aux"}
    ok, skipped = 0, {}
    for r in rows:
        if r.transform != "convert":
            continue
        data, sk = transforms.convert(r.url, original_of(r), aux)
        if any(sk.values()):
            skipped[r.member] = sk
        ok += _write_checked(tmp, r.member, data, r.member_sha256, "conversion of", r.url, mismatches)
    return ok, skipped


def _temporal_mean(rows: Sequence[Row], paths: dict[str, Path], tmp: Path, recipe: dict,
                   mismatches: list[Mismatch]) -> int:
    import tifffile

    n = recipe["frames_per_bin"]
    # source frames in recording order: by the frame number at the end of the file name (image00000.tiff, ...)
    frames = sorted((r for r in rows if r.transform == "temporal_mean_3"),
                    key=lambda r: (int(m.group(1)) if (m := re.search(r"(\d+)\D*$", r.url)) else -1, r.url))
    if len(frames) % n:
        raise ValueError(f"{len(frames)} temporal_mean_3 rows: expected a multiple of {n}")
    src, out = hashlib.sha256(), hashlib.sha256()
    shape = tuple(recipe["frame_shape"])
    for k in range(len(frames) // n):
        group = []
        for r in frames[n * k: n * k + n]:
            a = tifffile.imread(paths[r.url])
            if a.shape != shape or a.dtype != np.uint16:
                raise transforms.ConversionError(r.url, None, f"frame {a.shape} {a.dtype}: expected {shape} uint16")
            group.append(a)
        stack = np.stack(group)
        src.update(np.ascontiguousarray(stack, dtype="<u2").tobytes())
        mean = transforms.temporal_mean(stack, n)[0]
        out.update(np.ascontiguousarray(mean, dtype="<u2").tobytes())
        dest = tmp / recipe["member_format"].format(k)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(dest, mean)
    ok = True
    if recipe.get("source_array_sha256") and src.hexdigest() != recipe["source_array_sha256"]:
        mismatches.append(Mismatch("source frames (array)", f"{len(frames)} frames of {frames[0].target}",
                                   recipe["source_array_sha256"], src.hexdigest()))
        ok = False
    if out.hexdigest() != recipe["array_sha256"]:
        mismatches.append(Mismatch("temporal means (array)", f"{len(frames) // n} frames of {frames[0].target}",
                                   recipe["array_sha256"], out.hexdigest()))
        ok = False
    return len(frames) if ok else 0


def derive_members(entry: DataFile, tmp: Path, mismatches: list[Mismatch]) -> int:
    """Write the members of ``entry.recipe["derived"]`` (made from other members, e.g. the projection images'
    label table), checked against their sha256. Returns how many matched."""
    ok = 0
    for member, spec in entry.recipe.get("derived", {}).items():
        if spec["from"] != "folder_labels":
            raise ValueError(f"{entry.key}: unknown derivation {spec['from']!r} for {member}")
        pngs = [p.relative_to(tmp).as_posix() for p in tmp.rglob("*.png")]
        ok += _write_checked(tmp, member, transforms.folder_labels_csv(pngs), spec["sha256"], "derived member",
                             entry.key, mismatches)
    return ok


@dataclass
class AssemblyReport:
    """What one assembly did: ``rows`` (manifest rows), ``verified`` (rows whose download matched ``url_sha256``
    and whose result matched its check), ``members`` (files written), ``seconds``, ``downloaded`` (files fetched in
    this run), ``skipped`` (what conversions left out, per member)."""

    key: str
    rows: int
    verified: int = 0
    members: int = 0
    downloaded: int = 0
    seconds: float = 0.0
    skipped: dict = field(default_factory=dict)


def assemble(entry: DataFile, rows: Sequence[Row], out: Path, *, base_url: str | None = None, workers: int = 8,
             retries: int = 2, progress: bool = True, unreachable: set | None = None,
             keep_downloads: bool = False) -> AssemblyReport:
    """Build ``out`` (the unpacked folder of ``entry``) from upstream: download every row, apply its transform,
    check every result, publish the folder with its marker, then delete the downloads (unless
    ``keep_downloads``).

    Raises :class:`DataNotAvailableError` listing every file that could not be downloaded (the good downloads are
    kept for a rerun), :class:`ChecksumError` listing every mismatch (downloads or results; nothing is published).
    """
    t0 = time.perf_counter()
    report = AssemblyReport(entry.key, len(rows))
    before = {r.url for r in rows if download_path(r.url).exists()}
    paths, failures, mismatches = download_rows(rows, desc=entry.name, base_url=base_url, workers=workers,
                                                retries=retries, progress=progress, unreachable=unreachable)
    report.downloaded = len(set(paths) - before)
    if mismatches:
        raise ChecksumError.many(mismatches)
    if failures:
        raise DataNotAvailableError.for_downloads(entry.key, failures, len({r.url for r in rows}))
    tmp = staging_dir(out)
    try:
        checks: list[Mismatch] = []
        for r in rows:
            if r.transform == "identity":
                dest = tmp / r.member
                dest.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(paths[r.url], dest)
                if r.member_sha256 and r.member_sha256 != r.url_sha256:
                    report.verified += _write_checked(tmp, r.member, dest.read_bytes(), r.member_sha256, "member",
                                                      r.url, checks)
                else:
                    report.verified += 1
            elif r.transform == "crlf_to_lf":
                report.verified += _write_checked(tmp, r.member, transforms.crlf_to_lf(paths[r.url].read_bytes()),
                                                  r.member_sha256, "crlf_to_lf of", r.url, checks)
            elif r.transform not in ("convert", "convert_aux", "temporal_mean_3"):
                raise ValueError(f"{entry.key}: unknown transform {r.transform!r} in the manifest row of {r.url}")
        n_conv, report.skipped = convert_members(rows, tmp, lambda r: paths[r.url], checks)
        report.verified += n_conv + sum(r.transform == "convert_aux" for r in rows)
        if any(r.transform == "temporal_mean_3" for r in rows):
            report.verified += _temporal_mean(rows, paths, tmp, entry.recipe["temporal_mean_3"], checks)
        derive_members(entry, tmp, checks)
        if checks:
            raise ChecksumError.many(checks)
        report.members = sum(1 for p in tmp.rglob("*") if p.is_file())
        report.seconds = time.perf_counter() - t0
        publish(tmp, out, entry, {"source": "upstream", "members": report.members, "rows": report.rows,
                                  "verified": report.verified, "skipped_in_conversion": report.skipped})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_downloads:
        root = cache_dir() / "downloads"
        for p in paths.values():
            with contextlib.suppress(OSError):
                p.unlink()
        for d in sorted({p.parent for p in paths.values()}, key=lambda d: -len(d.parts)):
            while d != root and root in d.parents:
                try:
                    d.rmdir()  # only when empty
                except OSError:
                    break
                d = d.parent
    report.seconds = time.perf_counter() - t0
    return report


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
