"""The registry and the fetch layer: every entry has a public source, the project's manifest agrees with the
mirror's, mirror lookup, sha256 refusal, downloads that never replace a good cached copy, archives unpacked once
with the converted cells made by our own converter. (Assembly from upstream: tests/test_datasets_upstream.py.)"""
import csv
import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

from neuro_lib import datasets
from neuro_lib.datasets import (REGISTRY, ChecksumError, DataNotAvailableError, fetch, fetch_archive, registry,
                                sha256sum, transforms)

KEY = "allen_cell_types/ophir2023_human_ephys_data.csv"
SMALL = "morphology/misc_small.tar.xz"
FETCH = sys.modules["neuro_lib.datasets.fetching"]
UPSTREAM = sys.modules["neuro_lib.datasets.upstream"]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty mirror and an empty cache."""
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    monkeypatch.setenv("NEURO_LIB_DATA", str(mirror))
    monkeypatch.setenv("NEURO_LIB_CACHE", str(cache))
    return mirror, cache


def _link(data_mirror: Path, mirror: Path, *keys: str) -> None:
    for key in keys:
        (mirror / key).parent.mkdir(parents=True, exist_ok=True)
        (mirror / key).symlink_to(data_mirror / key)


def _writer(data: bytes):
    def download(url, output_file, pooch_obj):
        Path(output_file).write_bytes(data)
    return download


def _members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


# --- the registry -------------------------------------------------------------------------------------------------

def test_every_registry_entry_is_in_the_mirror_with_its_checksum(data_mirror):
    sums = {}
    for line in (data_mirror / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    for key, entry in REGISTRY.items():
        assert sums[key] == entry.sha256, key
        assert (data_mirror / key).stat().st_size == entry.size, key


def test_every_entry_has_a_public_source():
    pinned = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/")
    for key, e in REGISTRY.items():
        assert e.source in registry.SOURCES, key
        if e.source == "url":
            assert pinned.match(e.url), key
        elif e.source == "repository":
            path = registry.DATA_ROOT / e.repository
            assert sha256sum(path) == e.sha256 and path.stat().st_size == e.size, key
        else:
            rows = registry.manifest_rows(key)
            assert rows and all(pinned.match(r.url) and re.fullmatch("[0-9a-f]{64}", r.url_sha256) for r in rows)
    with pytest.raises(ValueError, match="public source"):
        datasets.DataFile("x/y.tar", "0" * 64, 1, "", "")  # no source: refused


def test_project_manifest_is_the_mirrors_plus_our_conversion_hashes(data_mirror):
    """data/upstream.csv.xz == the mirror's UPSTREAM.csv, except that the 112 convert rows, blank there, carry the
    sha256 of the member the mirror packed (= our conversion, tests/test_datasets_transforms.py)."""
    theirs = list(csv.DictReader(io.StringIO((data_mirror / "UPSTREAM.csv").read_text(), newline="")))
    ours = registry.manifest()
    assert len(ours) == len(theirs) == 4662
    packed = {key: _members(data_mirror / key) for key in (SMALL, "morphology/mouse_retinal_ganglion.tar.xz")}
    n_convert = 0
    for mine, row in zip(ours, theirs):
        if row["transform"] == "convert":
            n_convert += 1
            assert row["member_sha256"] == ""
            assert mine.member_sha256 == hashlib.sha256(packed[mine.target][mine.member]).hexdigest()
            assert mine._replace(member_sha256="") == registry.Row(**row)
        else:
            assert mine == registry.Row(**row)
    assert n_convert == 112


def test_manifest_members_are_the_archives_members(data_mirror):
    """The members a manifest assembles are the archive's members (the archives under 10 MB, to keep this fast;
    the large ones are checked by bench/upstream_rebuild.py, and their cells by the labels-table test)."""
    for key, e in REGISTRY.items():
        if not e.assembled or e.size > 10e6:
            continue
        with tarfile.open(data_mirror / key) as tar:
            names = {m.name for m in tar.getmembers() if m.isfile()}
        rows = registry.manifest_rows(key)
        expected = {r.member for r in rows if r.member} | set(e.recipe.get("derived", {}))
        if "temporal_mean_3" in e.recipe:
            rec = e.recipe["temporal_mean_3"]
            n = sum(r.transform == "temporal_mean_3" for r in rows) // rec["frames_per_bin"]
            expected |= {rec["member_format"].format(k) for k in range(n)}
        assert names == expected, key


def test_labels_table_agrees_with_the_manifest():
    """Every cell of the curated labels.csv has the sha256 the manifest gives its member."""
    sums = {(r.target.rsplit("/", 1)[-1], r.member): r.member_sha256 for r in registry.manifest() if r.member}
    with open(fetch("morphology/labels.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3480
    assert all(sums[(r["archive"], r["path"])] == r["sha256"] for r in rows)


def test_transform_counts_say_how_each_cell_came():
    assert datasets.transform_counts(SMALL) == {"identity": 42, "convert:neuron_hoc": 9, "convert:neurolucida_asc": 4,
                                                "convert:swc_type_codes": 5}
    morph = [k for k in registry.chapter_keys(("morphology",)) if REGISTRY[k].assembled]
    counts = datasets.transform_counts(*morph)
    assert sum(v for k, v in counts.items() if k.startswith("convert:")) == 112
    assert counts["crlf_to_lf"] == 156 and counts["convert:neurolucida_xml"] == 94
    assert datasets.transform_counts("neurofinder/neurofinder_vs1_600frames_bin3.tar.xz") == \
        {"identity": 1, "temporal_mean_3": 200}


def test_checksums_for_results_files():
    assert datasets.checksums(KEY) == {KEY: REGISTRY[KEY].sha256}


# --- fetch: mirror, cache, repository, download -------------------------------------------------------------------

def test_fetch_uses_the_mirror_in_place(data_mirror):
    path = fetch(KEY)
    assert path == data_mirror / KEY
    assert sha256sum(path) == REGISTRY[KEY].sha256


def test_repository_tables_come_from_the_repository(isolated, tmp_path, monkeypatch):
    path = fetch("morphology/lmeasure_paper19.csv", source="upstream")
    assert path == registry.DATA_ROOT / "morphology" / "lmeasure_paper19.csv"
    edited = tmp_path / "repo" / "morphology" / "lmeasure_paper19.csv"
    edited.parent.mkdir(parents=True)
    edited.write_bytes(path.read_bytes() + b"\n")
    monkeypatch.setattr(registry, "DATA_ROOT", tmp_path / "repo")
    with pytest.raises(ChecksumError, match="repository table .*lmeasure_paper19.csv"):
        fetch("morphology/lmeasure_paper19.csv")
    edited.unlink()
    with pytest.raises(DataNotAvailableError, match="NEURO_LIB_DATA"):
        fetch("morphology/lmeasure_paper19.csv")


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


def test_wrong_download_is_refused_and_keeps_the_old_cached_file(isolated):
    _, cache = isolated
    old = cache / KEY
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older cached copy")  # stale: its hash no longer matches, so a download is attempted
    with pytest.raises(ChecksumError) as err:
        fetch(KEY, downloader=_writer(b"garbage from the network"), progress=False)
    assert REGISTRY[KEY].sha256 in str(err.value) and REGISTRY[KEY].url in str(err.value)
    assert err.value.actual == hashlib.sha256(b"garbage from the network").hexdigest()
    assert old.read_bytes() == b"an older cached copy"
    assert sorted(p.name for p in old.parent.iterdir()) == [old.name]


def test_failed_download_keeps_good_cached_file_untouched(isolated, data_mirror):
    good = (data_mirror / KEY).read_bytes()
    fetch(KEY, downloader=_writer(good), progress=False)

    def broken(url, output_file, pooch_obj):
        Path(output_file).write_bytes(good[:100])
        raise ConnectionError("connection reset")

    # the good copy is used; the broken downloader is never called
    assert fetch(KEY, downloader=broken, progress=False).read_bytes() == good


def test_unknown_key_and_sources(isolated):
    with pytest.raises(KeyError, match="unknown dataset file"):
        fetch("nope/missing.csv")
    with pytest.raises(ValueError, match="source='web'"):
        fetch(KEY, source="web")
    with pytest.raises(DataNotAvailableError, match="source='mirror' does not download"):
        fetch(KEY, source="mirror")
    with pytest.raises(DataNotAvailableError, match="source='mirror' does not download"):
        fetch_archive(SMALL, source="mirror")
    with pytest.raises(ValueError, match="not an archive"):
        fetch_archive(KEY)


def test_fetch_of_a_packed_archive_without_a_mirror_says_to_use_fetch_archive(isolated):
    with pytest.raises(DataNotAvailableError) as err:
        fetch(SMALL)
    assert "fetch_archive('morphology/misc_small.tar.xz')" in str(err.value)
    assert "61 upstream files" in str(err.value) and "NEURO_LIB_DATA" in str(err.value)


# --- fetch_archive from the mirror --------------------------------------------------------------------------------

def test_fetch_archive_from_the_mirror_converts_the_cells_itself(isolated, data_mirror, monkeypatch):
    mirror, cache = isolated
    _link(data_mirror, mirror, SMALL, registry.ORIGINALS_KEY)
    calls = []
    real = transforms.convert
    monkeypatch.setattr(transforms, "convert", lambda url, original, aux=None: calls.append(url) or
                        real(url, original, aux))
    out = fetch_archive(SMALL, progress=False)
    assert out == cache / "archives" / "misc_small-025182e4304e"
    assert len(calls) == 18  # the 18 convert rows, from the mirror's upstream_originals
    marker = json.loads((out / ".complete").read_text())
    assert marker == datasets.archive_info(SMALL)
    assert marker["source"] == "mirror" and marker["converted"] == 18 and marker["layout"] == UPSTREAM.LAYOUT
    assert marker["skipped_in_conversion"]["dg_granule_schmidthieber/cell_5.swc"] == {"axon_sections": 23,
                                                                                    "axon_points": 2178}
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    files.pop(".complete")
    assert files == _members(data_mirror / SMALL)  # the same layout and bytes as the mirror's archive
    stamp = (out / ".complete").stat().st_mtime_ns
    assert fetch_archive(SMALL) == out and (out / ".complete").stat().st_mtime_ns == stamp  # unpacked once
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".x-")]


def test_a_conversion_that_differs_is_refused_and_nothing_published(isolated, data_mirror, monkeypatch):
    mirror, cache = isolated
    _link(data_mirror, mirror, SMALL, registry.ORIGINALS_KEY)
    real = transforms.convert

    def off_by_one(url, original, aux=None):
        data, skipped = real(url, original, aux)
        return (data + b"\n" if url.endswith("GolgiCell.swc") else data), skipped

    monkeypatch.setattr(transforms, "convert", off_by_one)
    with pytest.raises(ChecksumError) as err:
        fetch_archive(SMALL, progress=False)
    assert "conversion of" in str(err.value) and "GolgiCell.swc" in str(err.value)
    assert not (cache / "archives" / "misc_small-025182e4304e").exists()
    assert not [p for p in (cache / "archives").iterdir() if p.name.startswith(".x-misc_small")]


def test_an_old_or_unfinished_folder_is_rebuilt(isolated, data_mirror):
    mirror, cache = isolated
    _link(data_mirror, mirror, "morphology/rat_s1_vasques.tar.xz")
    out = FETCH.archive_folder("morphology/rat_s1_vasques.tar.xz")
    out.mkdir(parents=True)
    (out / "half.swc").write_text("1 1 0 0 0 1 -1\n")
    (out / ".complete").write_text(REGISTRY["morphology/rat_s1_vasques.tar.xz"].sha256 + "\n")  # the old marker
    assert fetch_archive("morphology/rat_s1_vasques.tar.xz", progress=False) == out
    assert not (out / "half.swc").exists() and len(list(out.glob("*.swc"))) == 229
    assert json.loads((out / ".complete").read_text())["layout"] == UPSTREAM.LAYOUT
