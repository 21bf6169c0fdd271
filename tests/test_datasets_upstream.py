"""Assembling archives from their upstream files, against a local HTTP server on 127.0.0.1 that serves mirror files
under the manifest's URL paths (no network): every transform, a corrupted byte, a download cut off halfway, a 404,
a rerun that downloads only what is missing, and `fetch-all` failing fast with no connection."""
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from neuro_lib.datasets import (REGISTRY, ChecksumError, DataNotAvailableError, DataFile, fetch, fetch_archive,
                                registry, transforms)
from neuro_lib.datasets.localserver import LocalServer
from neuro_lib.datasets.registry import Row

UPSTREAM = sys.modules["neuro_lib.datasets.upstream"]
SMALL = "morphology/misc_small.tar.xz"
RAW = "https://raw.githubusercontent.com/test-owner/test-repo/" + "ab" * 20 + "/"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    c = tmp_path / "cache"
    monkeypatch.setenv("NEURO_LIB_CACHE", str(c))
    monkeypatch.delenv("NEURO_LIB_DATA", raising=False)
    monkeypatch.delenv(UPSTREAM.ENV_BASE, raising=False)
    return c


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture(scope="module")
def mirror_members(data_mirror):
    """The members of the small archives and the originals, read once from the mirror."""
    out = {}
    for key in (SMALL, "morphology/mouse_retinal_ganglion.tar.xz", "morphology/rat_s1_vasques.tar.xz",
                registry.ORIGINALS_KEY):
        with tarfile.open(data_mirror / key) as tar:
            out[key] = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    with tarfile.open(data_mirror / "morphology/zhang2021_projection_images.tar") as tar:
        names = [m.name for m in tar.getmembers() if m.isfile() and m.name.endswith(".png")][:2]
        out["morphology/zhang2021_projection_images.tar"] = {n: tar.extractfile(n).read() for n in names}
    return out


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _entry(recipe=None) -> DataFile:
    return DataFile("test/mini.tar.xz", "0" * 64, 0, "test", "test", assembled=True, recipe=recipe or {})


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != ".complete"}


def _tiff(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    tifffile.imwrite(b, a)
    return b.getvalue()


# --- every transform ----------------------------------------------------------------------------------------------

def test_every_transform_from_a_local_server(cache, server, mirror_members):
    rows, expected = [], {}
    by_key = {k: {r.member: r for r in registry.manifest_rows(k)} for k in
              (SMALL, "morphology/mouse_retinal_ganglion.tar.xz", "morphology/rat_s1_vasques.tar.xz")}
    orig = mirror_members[registry.ORIGINALS_KEY]
    # identity: served byte for byte
    for m in ("neurontools_data127/purkinje/martone/alxP.swc", "striatum_snudda/lts/LTS_Experiment-9862_20181211.swc"):
        r = by_key[SMALL][m]
        rows.append(r)
        server.add(r.url, mirror_members[SMALL][m])
        expected[m] = mirror_members[SMALL][m]
    # crlf_to_lf: upstream has CRLF; two of the cells whose upstream bytes are their member with CRLF line ends
    n = 0
    for m, r in by_key["morphology/rat_s1_vasques.tar.xz"].items():
        crlf = mirror_members["morphology/rat_s1_vasques.tar.xz"][m].replace(b"\n", b"\r\n")
        if r.transform == "crlf_to_lf" and _sha(crlf) == r.url_sha256:
            rows.append(r)
            server.add(r.url, crlf)
            expected[m] = mirror_members["morphology/rat_s1_vasques.tar.xz"][m]
            n += 1
            if n == 2:
                break
    # convert: one file of each format, and the convert_aux row (morphologies.yaml)
    for key, m in [(SMALL, "cerebellum_dbbs/GranuleCell.swc"), (SMALL, "cerebellum_dbbs/human/grc_human.swc"),
                   (SMALL, "dg_granule_schmidthieber/cell_9.swc"),
                   ("morphology/mouse_retinal_ganglion.tar.xz", "rgc_eldanaf/CB2/CB2-06222012-cell2-b-corrected.swc")]:
        r = by_key[key][m]
        rows.append(r)
        server.add(r.url, orig[registry.originals_member(r.url)])
        expected[m] = mirror_members[key][m]
    aux = next(r for r in registry.manifest_rows(SMALL) if r.transform == "convert_aux")
    rows.append(aux)
    server.add(aux.url, orig[registry.originals_member(aux.url)])
    # temporal_mean_3: six synthetic 8x8 source frames -> two means
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4000, size=(6, 8, 8)).astype(np.uint16)
    means = np.round(frames.reshape(2, 3, 8, 8).astype(np.float64).mean(axis=1)).astype(np.uint16)
    for i, f in enumerate(frames):
        data = _tiff(f)
        url = f"{RAW}images/image{i:05d}.tiff"
        rows.append(Row("test/mini.tar.xz", "", "", url, _sha(data), "temporal_mean_3"))
        server.add(url, data)
    for k, mean in enumerate(means):
        expected[f"movie/frame{k:03d}.tiff"] = _tiff(mean)
    # identity members a derived member is made from (the projection images' label table)
    for m, data in mirror_members["morphology/zhang2021_projection_images.tar"].items():
        url = RAW + m.replace(" ", "%20")
        rows.append(Row("test/mini.tar.xz", m, _sha(data), url, _sha(data), "identity"))
        server.add(url, data)
        expected[m] = data
    labels = transforms.folder_labels_csv(list(mirror_members["morphology/zhang2021_projection_images.tar"]))
    expected["labels.csv"] = labels
    recipe = {"temporal_mean_3": {"frames_per_bin": 3, "frame_shape": [8, 8], "member_format": "movie/frame{:03d}.tiff",
                                  "source_array_sha256": _sha(frames.astype("<u2").tobytes()),
                                  "array_sha256": _sha(means.astype("<u2").tobytes())},
              "derived": {"labels.csv": {"from": "folder_labels", "sha256": _sha(labels)}}}
    out = cache / "archives" / "mini"
    report = UPSTREAM.assemble(_entry(recipe), rows, out, base_url=server.base_url, workers=4, progress=False)
    assert _files(out) == expected
    assert report.verified == report.rows == len(rows) and report.downloaded == len(rows)
    marker = json.loads((out / ".complete").read_text())
    assert marker["source"] == "upstream" and marker["verified"] == len(rows)
    assert not (cache / "downloads").exists() or not any(p.is_file() for p in (cache / "downloads").rglob("*"))


def test_fetch_archive_from_upstream_has_the_mirrors_layout(cache, server, mirror_members):
    for r in registry.manifest_rows(SMALL):
        if r.transform == "identity":
            server.add(r.url, mirror_members[SMALL][r.member])
        else:
            server.add(r.url, mirror_members[registry.ORIGINALS_KEY][registry.originals_member(r.url)])
    out = fetch_archive(SMALL, source="upstream", base_url=server.base_url, progress=False)
    assert _files(out) == mirror_members[SMALL]
    assert json.loads((out / ".complete").read_text())["verified"] == 61
    n = len(server.log)
    assert fetch_archive(SMALL, base_url=server.base_url) == out and len(server.log) == n  # cached: no requests
    with pytest.raises(DataNotAvailableError, match="fetch_archive"):
        fetch(SMALL, base_url=server.base_url)  # the packed bytes: a mirror's only


def test_a_single_file_downloads_from_its_url(cache, server, data_mirror):
    key = "allen_cell_types/ophir2023_human_ephys_data.csv"
    server.add(REGISTRY[key].url, data_mirror / key)
    path = fetch(key, base_url=server.base_url, progress=False)
    assert path == cache / key and path.read_bytes() == (data_mirror / key).read_bytes()
    other = "allen_cell_types/ephys_features.csv"
    with pytest.raises(DataNotAvailableError, match="404"):
        fetch(other, base_url=server.base_url, progress=False)


# --- failures -----------------------------------------------------------------------------------------------------

def _three(server, size=50_000):
    rng = np.random.default_rng(1)
    rows, blobs = [], {}
    for i in range(3):
        data = rng.integers(0, 256, size + i, dtype=np.uint8).tobytes()
        url = f"{RAW}files/f{i}.bin"
        rows.append(Row("test/mini.tar.xz", f"f{i}.bin", _sha(data), url, _sha(data), "identity"))
        server.add(url, data)
        blobs[f"f{i}.bin"] = data
    return rows, blobs


def test_a_corrupted_byte_is_refused_naming_the_url_and_both_hashes(cache, server):
    rows, blobs = _three(server)
    server.fault(rows[1].url, "flip", 1234)
    bad = bytearray(blobs["f1.bin"])
    bad[1234] ^= 0xFF
    out = cache / "archives" / "mini"
    with pytest.raises(ChecksumError) as err:
        UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False)
    msg = str(err.value)
    assert rows[1].url in msg and rows[1].url_sha256 in msg and _sha(bytes(bad)) in msg
    assert err.value.actual == _sha(bytes(bad))
    dest = UPSTREAM.download_path(rows[1].url)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()  # nothing of it left
    assert not out.exists() and not list(out.parent.glob(".x-*"))  # nothing published, no half-made folder
    # the good files stay downloaded; the rerun fetches only the bad one again
    report = UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False)
    assert report.downloaded == 1 and _files(out) == blobs
    assert [len(server.requests_for(r.url)) for r in rows] == [1, 2, 1]


def test_a_download_cut_off_halfway_is_not_used_and_the_rerun_fetches_only_the_rest(cache, server):
    rows, blobs = _three(server, size=300_000)
    server.fault(rows[2].url, "cut", 150_000)
    out = cache / "archives" / "mini"
    with pytest.raises(DataNotAvailableError) as err:
        UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False, retries=0)
    assert rows[2].url in str(err.value) and "broken off" in str(err.value) and "a rerun resumes" in str(err.value)
    assert [u for u, _ in err.value.missing] == [rows[2].url]
    dest = UPSTREAM.download_path(rows[2].url)
    part = dest.with_name(dest.name + ".part")
    assert not dest.exists() and not out.exists()  # the partial file is not used
    kept = part.stat().st_size
    assert 0 < kept <= 150_000
    report = UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False, retries=0)
    assert _files(out) == blobs and report.downloaded == 1
    second = server.requests_for(rows[2].url)[-1]
    assert second.start == kept and second.status == 206 and second.sent == len(blobs["f2.bin"]) - kept
    assert [len(server.requests_for(r.url)) for r in rows] == [1, 1, 2]
    assert not part.exists()


def test_a_broken_connection_is_retried_and_resumed_in_the_same_run(cache, server):
    rows, blobs = _three(server, size=200_000)
    server.fault(rows[0].url, "cut", 70_000)
    out = cache / "archives" / "mini"
    UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False, retries=2)
    assert _files(out) == blobs
    first, second = server.requests_for(rows[0].url)
    assert first.start == 0 and second.start > 0 and second.start + second.sent == len(blobs["f0.bin"])


def test_a_404_lists_what_is_missing_and_the_rerun_downloads_only_that(cache, server):
    rows, blobs = _three(server)
    missing = rows[0]
    del server.files[LocalServer._key(missing.url)]
    out = cache / "archives" / "mini"
    with pytest.raises(DataNotAvailableError) as err:
        UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False)
    assert err.value.missing == [(missing.url, "HTTP 404 Not Found")]
    assert "1 of its 3 upstream files" in str(err.value) and missing.url in str(err.value)
    assert not out.exists()
    server.add(missing.url, blobs["f0.bin"])
    report = UPSTREAM.assemble(_entry(), rows, out, base_url=server.base_url, progress=False)
    assert report.downloaded == 1 and _files(out) == blobs
    assert [len(server.requests_for(r.url)) for r in rows] == [2, 1, 1]


def test_a_transform_whose_result_differs_is_refused(cache, server):
    rows, blobs = _three(server)
    r = rows[0]
    rows[0] = r._replace(transform="crlf_to_lf", member_sha256="f" * 64)
    with pytest.raises(ChecksumError, match=r"crlf_to_lf of .*f0\.bin -> f0\.bin has sha256"):
        UPSTREAM.assemble(_entry(), rows, cache / "archives" / "mini", base_url=server.base_url, progress=False)
    assert not (cache / "archives" / "mini").exists()


def test_rewrite_url_keeps_the_path():
    assert UPSTREAM.rewrite_url("https://raw.githubusercontent.com/a/b%20c?x=1", "http://127.0.0.1:9/") == \
        "http://127.0.0.1:9/a/b%20c?x=1"
    assert UPSTREAM.rewrite_url("https://h/a", "") == "https://h/a"


# --- fetch-all with no connection ---------------------------------------------------------------------------------

def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_fetch_all_with_no_connection_fails_fast_naming_every_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NEURO_LIB_DATA"}
    env.update(NEURO_LIB_CACHE=str(tmp_path / "cache"), NEURO_LIB_UPSTREAM_BASE=f"http://127.0.0.1:{_closed_port()}")
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-m", "neuro_lib.datasets", "fetch-all", "--no-progress"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    chapter = registry.chapter_keys()
    remote = [k for k in chapter if REGISTRY[k].source != "repository"]
    assert f"{len(remote)} of {len(chapter)} registry files could not be got" in p.stderr
    for key in remote:
        assert f"* {key}:" in p.stderr
    for key in chapter:
        if REGISTRY[key].source == "repository":
            assert f"ok  {key}" in p.stdout
    # one refused connection, then nothing else is attempted: every archive says so
    assert p.stderr.count("could not connect to 127.0.0.1") + p.stderr.count("no connection to 127.0.0.1") == 1
    assert "not attempted: 127.0.0.1" in p.stderr and "NEURO_LIB_DATA=" in p.stderr
