"""Get a verified local copy of a registry file: mirror, then cache, then the public source.

:func:`fetch` (one file) and :func:`fetch_archive` (an archive's unpacked folder) look, in this order (``source=
"auto"``; ``"mirror"`` never downloads, ``"upstream"`` never reads the mirror):

1. the local mirror named by ``NEURO_LIB_DATA`` (CI and tests point it at ``../shared/data``): a file is used in
   place after its sha256 is checked; an archive is unpacked into the cache, and its converted members are made
   again by this project's converter from the mirror's ``morphology/upstream_originals.tar.xz`` and checked;
2. the user cache (``NEURO_LIB_CACHE``, default ``~/.cache/neuro_lib``): a file checked the same way, an
   unpacked folder used when its completion marker is there (for an archive this comes first: the folder was
   checked when it was made);
3. the public source (:attr:`~neuro_lib.datasets.registry.DataFile.source`): a single file downloaded from its URL;
   an archive assembled from its upstream files (:func:`neuro_lib.datasets.upstream.assemble`).

A curated table (``source == "repository"``) is read from this repository's ``data/`` whatever ``source`` says
(the mirror only when ``data/`` is missing).

A file or result whose checksum does not match is refused with :class:`ChecksumError` (naming the file or URL and
both hashes); a file that could not be got raises :class:`DataNotAvailableError` (naming every missing file and
why). Unpacked folders: ``<cache>/archives/<archive stem>-<first 12 hex of its sha256>/``, written under a
temporary name and renamed, with a ``.complete`` marker written last, so a half-made folder is never used.
"""
from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import NamedTuple
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..cache import cache_dir
from . import registry, upstream
from .errors import MIRROR_HINT, ChecksumError, DataNotAvailableError, Mismatch, sha256sum
from .registry import ORIGINALS_KEY, DataFile, entry

__all__ = ["fetch", "fetch_archive", "fetch_all", "checksums", "archive_folder", "archive_info", "FetchResult",
           "SOURCES"]

SOURCES = ("auto", "mirror", "upstream")


def _mirror() -> Path | None:
    m = os.environ.get("NEURO_LIB_DATA")
    return Path(m).expanduser() if m else None


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: expected one of {SOURCES}")


def _mirror_file(e: DataFile) -> Path | None:
    """The mirror's copy of ``e``, sha256-checked (``ChecksumError`` if it differs); ``None`` if there is none."""
    mirror = _mirror()
    if mirror is None:
        return None
    candidate = mirror / e.key
    if not candidate.exists():
        return None
    actual = sha256sum(candidate)
    if actual != e.sha256:
        raise ChecksumError(candidate, e.sha256, actual, "mirror file")
    return candidate


def fetch(key: str, *, source: str = "auto", downloader: Callable | None = None, progress: bool = True,
          base_url: str | None = None) -> Path:
    """Return a local path to the registry file ``key``, verified by sha256.

    Parameters
    ----------
    key : registry key, e.g. ``"allen_cell_types/ephys_features.csv"`` (see :data:`REGISTRY`).
    source : ``"auto"`` (mirror, cache, then the public source), ``"mirror"`` (mirror or cache, never the network)
        or ``"upstream"`` (cache or the public source, never the mirror).
    downloader : optional pooch downloader (``callable(url, output_file, pooch)``), for proxies or tests; the
        default resumes interrupted downloads (:class:`~neuro_lib.datasets.upstream.ResumableDownloader`).
    progress : show a tqdm bar while downloading.
    base_url : replaces the scheme and host of the URL (default ``$NEURO_LIB_UPSTREAM_BASE``; for a local server).

    An archive key (``.tar``/``.tar.xz``) gives the packed archive, which only a mirror holds: use
    :func:`fetch_archive`, which also assembles it from its upstream files.

    Raises
    ------
    KeyError : ``key`` is not in the registry.
    ChecksumError : the mirror's, the cache's or the repository's copy, or a fresh download, does not match the
        registry's sha256. A bad download is deleted and an existing good cached copy is left as it was.
    DataNotAvailableError : nothing found where ``source`` allows looking, or the download failed.
    """
    _check_source(source)
    e = entry(key)
    if e.source == "repository":  # a curated table of ours: it is local, whatever the source
        path = registry.DATA_ROOT / e.repository
        if path.exists():
            actual = sha256sum(path)
            if actual != e.sha256:
                raise ChecksumError(path, e.sha256, actual, "repository table")
            return path
        found = _mirror_file(e) if source != "upstream" else None
        if found is not None:
            return found
        raise DataNotAvailableError(f"{key} is served from this repository's data/{e.repository}, which is not "
                                    f"there (an installed package without the repository?). {MIRROR_HINT}",
                                    [(key, f"data/{e.repository} missing")])
    if source != "upstream":
        found = _mirror_file(e)
        if found is not None:
            return found
    cached = cache_dir() / e.key
    if cached.exists() and sha256sum(cached) == e.sha256:
        return cached
    if source == "mirror":
        raise DataNotAvailableError(f"{key}: not in the mirror (NEURO_LIB_DATA={os.environ.get('NEURO_LIB_DATA')!r}) "
                                    "nor in the cache, and source='mirror' does not download. " + MIRROR_HINT,
                                    [(key, "not in the mirror")])
    if e.source == "manifest":
        n = len(registry.manifest_rows(key))
        raise DataNotAvailableError(
            f"{key} is an archive assembled from {n:,} upstream files: its packed bytes exist only on a mirror. Use "
            f"fetch_archive({key!r}) for its unpacked folder (it downloads and assembles the files), or point "
            "NEURO_LIB_DATA at a mirror that holds the archive." + (f" (NEURO_LIB_DATA={_mirror()})" if _mirror()
                                                                    else ""),
            [(key, "packed archive: mirror only; fetch_archive assembles it")])
    return _download_one(e, cached, downloader=downloader, progress=progress, base_url=base_url)


def _download_one(e: DataFile, cached: Path, *, downloader, progress, base_url) -> Path:
    import pooch
    import requests

    from tqdm.auto import tqdm

    url = upstream.rewrite_url(e.url, base_url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    part = cached.with_name(cached.name + ".part")
    bar = tqdm(total=e.size, desc=e.name, unit="B", unit_scale=True, disable=not progress or downloader is not None)
    dl = downloader or upstream.ResumableDownloader(part, requests.Session(), on_bytes=bar.update)
    try:
        with upstream._quiet_pooch(), bar:
            # pooch downloads into a temporary file beside ``cached`` and renames it only after the hash check,
            # so a failed or wrong download never touches an existing file
            got = pooch.retrieve(url, known_hash=f"sha256:{e.sha256}", fname=cached.name, path=cached.parent,
                                 downloader=dl, progressbar=progress)
    except ValueError as err:  # pooch's hash mismatch (it deleted the download)
        raise ChecksumError(url, e.sha256, upstream._actual_from_pooch(str(err)), "download of") from err
    except upstream._Unreachable as err:
        host = urlsplit(url).netloc
        raise DataNotAvailableError(f"could not download {e.key}: no connection to {host} (no network?): "
                                    f"{upstream._short(err, 200)}. " + MIRROR_HINT,
                                    [(url, f"could not connect to {host}")]) from err
    except Exception as err:  # other network errors
        raise DataNotAvailableError(f"could not download {e.key} from {url}: {upstream._short(err, 300)}. "
                                    + MIRROR_HINT, [(url, upstream._short(err))]) from err
    return Path(got)


def _cached_ok(e: DataFile) -> bool:
    cached = cache_dir() / e.key
    return cached.exists() and sha256sum(cached) == e.sha256


def archive_folder(key: str) -> Path:
    """Where the unpacked folder of archive ``key`` lives: ``<cache>/archives/<stem>-<sha256[:12]>``. (Versions
    before the upstream assembly used ``<cache>/extracted/``, with a plain-text marker; that folder is no longer
    read and can be deleted.)"""
    e = entry(key)
    return cache_dir() / "archives" / f"{e.stem}-{e.sha256[:12]}"


def fetch_archive(key: str, *, source: str = "auto", progress: bool = True, base_url: str | None = None,
                  workers: int = 8, retries: int = 2, unreachable: set | None = None) -> Path:
    """The unpacked folder of the registry archive ``key``, with the layout of the mirror's archive.

    Order (``source`` as in :func:`fetch`): a complete folder in the cache; the mirror's packed archive (sha256
    checked, unpacked with tarfile's ``data`` filter, its ``convert`` members made again by our converter from
    :data:`~neuro_lib.datasets.registry.ORIGINALS_KEY` and checked against the manifest's ``member_sha256``); the
    upstream files (:func:`neuro_lib.datasets.upstream.assemble`: ``workers`` downloads at a time, ``retries``
    per file; each download checked against ``url_sha256``, each member against ``member_sha256``, the movie's
    means against the array sha256 of ``neurofinder/PROVENANCE.txt``).

    Raises ``ValueError`` for a key that is not an archive, :class:`ChecksumError` for any mismatch (nothing is
    published), :class:`DataNotAvailableError` listing what could not be downloaded (what did is kept: a rerun
    downloads only the rest).
    """
    _check_source(source)
    e = entry(key)
    if not e.is_archive:
        raise ValueError(f"{key} is not an archive (.tar/.tar.xz): use fetch({key!r})")
    out = archive_folder(key)
    if upstream.marker_ok(out, e):
        return out
    if source != "upstream":
        packed = _mirror_file(e)
        if packed is not None:
            return _unpack_mirror(e, packed, out, progress=progress, originals_source=source, base_url=base_url,
                                  workers=workers, retries=retries, unreachable=unreachable)
        if source == "mirror":
            raise DataNotAvailableError(
                f"{key}: not in the mirror (NEURO_LIB_DATA={os.environ.get('NEURO_LIB_DATA')!r}) nor unpacked in the "
                "cache, and source='mirror' does not download. " + MIRROR_HINT, [(key, "not in the mirror")])
    upstream.assemble(e, registry.manifest_rows(key), out, base_url=base_url, workers=workers, retries=retries,
                      progress=progress, unreachable=unreachable)
    return out


def _unpack_mirror(e: DataFile, packed: Path, out: Path, *, progress: bool, originals_source: str = "mirror",
                   **kw) -> Path:
    rows = registry.manifest_rows(e.key)
    tmp = upstream.staging_dir(out)
    try:
        with tarfile.open(packed) as tar:
            tar.extractall(tmp, filter="data")
        n_conv, skipped = 0, {}
        if any(r.transform == "convert" for r in rows):
            # the project converts the originals itself on every path; the mirror's converted members are replaced
            # (from the same mirror; a mirror without them: from upstream too when source="auto")
            originals = fetch_archive(ORIGINALS_KEY, source=originals_source, progress=progress, **kw)
            checks: list[Mismatch] = []
            n_conv, skipped = upstream.convert_members(
                rows, tmp, lambda r: originals / registry.originals_member(r.url), checks)
            if checks:
                raise ChecksumError.many(checks)
        upstream.publish(tmp, out, e, {"source": "mirror", "mirror_file": str(packed), "converted": n_conv,
                                       "skipped_in_conversion": skipped})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def archive_info(key: str, **kwargs) -> dict:
    """What the unpacked folder of archive ``key`` was made from (its ``.complete`` marker, after
    :func:`fetch_archive` with ``kwargs``): ``source`` (``"mirror"`` or ``"upstream"``), ``converted`` or
    ``verified`` counts, and ``skipped_in_conversion`` (``{member: counts}`` of what a conversion left out, e.g. the
    ``axon[]`` sections of 4 of the 9 NEURON hoc cells; see :func:`neuro_lib.datasets.transforms.hoc_to_swc`)."""
    import json

    return json.loads((fetch_archive(key, **kwargs) / ".complete").read_text())


class FetchResult(NamedTuple):
    """One file of :func:`fetch_all`: its ``key``, the local ``path`` (``None`` if it could not be got) and the
    ``error`` (``None`` if it was)."""

    key: str
    path: Path | None
    error: Exception | None


def fetch_all(keys: Iterable[str] | None = None, *, source: str = "auto", progress: bool = True,
              base_url: str | None = None, workers: int = 8, on_result: Callable | None = None) -> list[FetchResult]:
    """Fetch every file the chapters read (or ``keys``): :func:`fetch` for files, :func:`fetch_archive` for
    archives. Never raises for a file it cannot get: each result carries the error; once a host cannot be reached,
    the remaining downloads from it are not attempted (so with no network this fails in seconds).
    ``on_result(result)`` is called as each file is done."""
    _check_source(source)
    unreachable: set = set()
    out = []
    for key in (list(keys) if keys is not None else registry.chapter_keys()):
        try:
            e = entry(key)
            if e.is_archive:
                path = fetch_archive(key, source=source, progress=progress, base_url=base_url, workers=workers,
                                     unreachable=unreachable)
            elif e.url and urlsplit(upstream.rewrite_url(e.url, base_url)).netloc in unreachable \
                    and not (source != "upstream" and _mirror_file(e)) and not _cached_ok(e):
                host = urlsplit(upstream.rewrite_url(e.url, base_url)).netloc
                raise DataNotAvailableError(f"{key}: not attempted, {host} could not be reached. {MIRROR_HINT}",
                                            [(e.url, f"not attempted: {host} could not be reached")])
            else:
                try:
                    path = fetch(key, source=source, progress=progress, base_url=base_url)
                except DataNotAvailableError as err:
                    if isinstance(err.__cause__, upstream._Unreachable):
                        unreachable.add(urlsplit(upstream.rewrite_url(e.url, base_url)).netloc)
                    raise
            res = FetchResult(key, path, None)
        except (DataNotAvailableError, ChecksumError, KeyError) as err:
            res = FetchResult(key, None, err)
        if on_result:
            on_result(res)
        out.append(res)
    return out


def checksums(*keys: str) -> dict[str, str]:
    """``{key: sha256}`` for the given registry keys, for results files (what a run was computed from)."""
    return {k: entry(k).sha256 for k in keys}
