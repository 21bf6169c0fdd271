"""The fetch layer: mirror lookup, sha256 refusal, downloads that never replace a good cached copy."""
import shutil
from pathlib import Path

import pytest

from neuro_lib import datasets
from neuro_lib.datasets import REGISTRY, ChecksumError, DataNotAvailableError, fetch, fetch_archive, sha256sum

KEY = "allen_cell_types/ophir2023_human_ephys_data.csv"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty mirror and an empty cache."""
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    monkeypatch.setenv("NEURO_LIB_DATA", str(mirror))
    monkeypatch.setenv("NEURO_LIB_CACHE", str(cache))
    return mirror, cache


def _writer(data: bytes):
    def download(url, output_file, pooch_obj):
        Path(output_file).write_bytes(data)
    return download


def test_every_registry_entry_is_in_the_mirror_with_its_checksum(data_mirror):
    sums = {}
    for line in (data_mirror / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    for key, entry in REGISTRY.items():
        assert sums[key] == entry.sha256, key
        assert (data_mirror / key).stat().st_size == entry.size, key


def test_fetch_uses_the_mirror_in_place(data_mirror):
    path = fetch(KEY)
    assert path == data_mirror / KEY
    assert sha256sum(path) == REGISTRY[KEY].sha256


def test_corrupted_mirror_file_is_refused_with_both_hashes(isolated, data_mirror):
    mirror, _ = isolated
    bad = mirror / KEY
    bad.parent.mkdir(parents=True)
    data = (data_mirror / KEY).read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ChecksumError) as err:
        fetch(KEY)
    msg = str(err.value)
    assert str(bad) in msg and REGISTRY[KEY].sha256 in msg and sha256sum(bad) in msg


def test_download_is_verified_and_cached(isolated, data_mirror):
    _, cache = isolated
    good = (data_mirror / KEY).read_bytes()
    path = fetch(KEY, downloader=_writer(good), progress=False)
    assert path == cache / KEY and path.read_bytes() == good
    # second call: served from the cache, no download
    assert fetch(KEY, downloader=_writer(b"never used"), progress=False) == path


def test_wrong_download_is_refused_and_keeps_the_old_cached_file(isolated, data_mirror):
    _, cache = isolated
    old = cache / KEY
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older cached copy")  # stale: its hash no longer matches, so a download is attempted
    with pytest.raises(ChecksumError) as err:
        fetch(KEY, downloader=_writer(b"garbage from the network"), progress=False)
    assert REGISTRY[KEY].sha256 in str(err.value)
    assert old.read_bytes() == b"an older cached copy"
    assert not any(p.name.startswith(".download-") for p in old.parent.iterdir())


def test_failed_download_keeps_good_cached_file_untouched(isolated, data_mirror):
    _, cache = isolated
    good = (data_mirror / KEY).read_bytes()
    fetch(KEY, downloader=_writer(good), progress=False)

    def broken(url, output_file, pooch_obj):
        Path(output_file).write_bytes(good[:100])
        raise ConnectionError("connection reset")

    # the good copy is used; the broken downloader is never called
    assert fetch(KEY, downloader=broken, progress=False).read_bytes() == good


def test_unknown_key_and_mirror_only_files(isolated):
    with pytest.raises(KeyError, match="unknown dataset file"):
        fetch("nope/missing.csv")
    with pytest.raises(DataNotAvailableError, match="NEURO_LIB_DATA"):
        fetch("morphology/labels.csv")


def test_fetch_archive_unpacks_once(isolated, data_mirror, tmp_path):
    mirror, cache = isolated
    key = "morphology/misc_small.tar.xz"
    (mirror / "morphology").mkdir()
    shutil.copy(data_mirror / key, mirror / key)
    out = fetch_archive(key)
    assert (out / ".complete").exists()
    swc = list(out.rglob("*.swc*"))
    assert len(swc) > 10
    stamp = (out / ".complete").stat().st_mtime_ns
    assert fetch_archive(key) == out and (out / ".complete").stat().st_mtime_ns == stamp


def test_checksums_for_results_files():
    assert datasets.checksums(KEY) == {KEY: REGISTRY[KEY].sha256}
