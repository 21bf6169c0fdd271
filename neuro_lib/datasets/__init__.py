"""Registry of the real datasets the book uses, and :func:`fetch` to get a verified local copy.

Every file is known by a *key* (its path relative to the data mirror, e.g.
``"allen_cell_types/ophir2023_mouse_ephys_data.csv"``), its sha256, size, upstream source, licence and citation.

Lookup order of :func:`fetch` (the design notes, "Errors and data integrity"):

1. the local mirror named by the ``NEURO_LIB_DATA`` environment variable (CI and tests point it at
   ``../shared/data``); the file is used in place, after its sha256 is checked;
2. the user cache (``NEURO_LIB_CACHE``, default ``~/.cache/neuro_lib``), checked the same way;
3. a download from the upstream URL with :mod:`pooch`, which writes to a temporary file and moves it into the
   cache only once the hash matches, so a partial or wrong download never replaces a good cached copy.

A file whose checksum does not match is refused with :class:`ChecksumError`, which names the file and both hashes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pooch

from ..cache import cache_dir

__all__ = [
    "DataFile",
    "REGISTRY",
    "ChecksumError",
    "DataNotAvailableError",
    "fetch",
    "fetch_archive",
    "sha256sum",
    "cache_dir",
    "checksums",
]


class ChecksumError(ValueError):
    """A file's sha256 differs from the registry's.

    Attributes: ``path`` (the file refused), ``expected`` and ``actual`` (hex digests).
    """

    def __init__(self, path, expected: str, actual: str, what: str = "file"):
        self.path, self.expected, self.actual = Path(path), expected, actual
        super().__init__(
            f"{what} {path} has sha256 {actual}, expected {expected}: refusing it "
            "(corrupted, truncated or a different version)"
        )


class DataNotAvailableError(FileNotFoundError):
    """No mirror, no cached copy and no upstream URL (or the download failed)."""


@dataclass(frozen=True)
class DataFile:
    """One file of the registry.

    ``key`` is the path relative to a mirror; ``url`` the upstream source (``None`` where the file is an archive we
    packaged from many upstream files, which then must come from a mirror).
    """

    key: str
    sha256: str
    size: int
    url: str | None
    licence: str
    citation: str
    description: str = ""

    @property
    def name(self) -> str:
        return Path(self.key).name


_ALLEN_LICENCE = "Allen Institute Terms of Use (research use with attribution to the Allen Cell Types Database)"
_ALLEN_CITE = "Allen Institute for Brain Science (2015). Allen Cell Types Database. celltypes.brain-map.org"
_OPHIR_CITE = (
    "Ophir O, Shefi O, Lindenbaum O (2023). Classifying neuronal cell types based on shared electrophysiological "
    "information from humans and mice. bioRxiv / IEEE; data: github.com/ofek181/Neuronal-Cell-Type-Classification"
)
_OPHIR_RAW = "https://raw.githubusercontent.com/ofek181/Neuronal-Cell-Type-Classification/6eb1bdcafacea21eb9b63e41f56b6c4c4bbbd78c/data"
_NMO_LICENCE = "NeuroMorpho.Org terms (cite NeuroMorpho.Org and each archive's original paper)"
_NMO_CITE = "Ascoli GA, Donohue DE, Halavi M (2007). NeuroMorpho.Org. J Neurosci 27:9247-9251"

REGISTRY: dict[str, DataFile] = {
    f.key: f
    for f in [
        DataFile(
            "allen_cell_types/ophir2023_mouse_ephys_data.csv",
            "b91e818fe1938f95f455bb94b411ad3bcbb7218495a018bc8f98368ec84239e1", 1026048,
            f"{_OPHIR_RAW}/mouse/ephys_data.csv", _ALLEN_LICENCE, _OPHIR_CITE + "; " + _ALLEN_CITE,
            "the paper authors' 41-feature model input, 1,424 mouse cells",
        ),
        DataFile(
            "allen_cell_types/ophir2023_human_ephys_data.csv",
            "7492581a54a5cf6a14b087f6fb2dce172c35c1c2951145175e43338f23114fa6", 205628,
            f"{_OPHIR_RAW}/human/ephys_data.csv", _ALLEN_LICENCE, _OPHIR_CITE + "; " + _ALLEN_CITE,
            "the paper authors' 41-feature model input, 299 human cells",
        ),
        DataFile(
            "allen_cell_types/ephys_features.csv",
            "48e595aca23c156f41cb4581893ff837600d4646512dc074741787d407bded75", 1853896,
            "https://raw.githubusercontent.com/BIPN162/Materials/f79f25893381638ce2c8c514c40532fb86c2ae40/cell_types/ephys_features.csv",
            _ALLEN_LICENCE, _ALLEN_CITE,
            "ACTB ephys feature table (AllenSDK CellTypesCache.get_ephys_features()), 2,333 cells; the Allen API "
            "serves the newest release, whose bytes differ from this snapshot",
        ),
        DataFile(
            "allen_cell_types/cell_types_specimen_details.csv",
            "28744252412094d0585c1801547802ff1573a35d7a30b79fc0ca1c5ef2dff5da", 1406030,
            "https://raw.githubusercontent.com/derekhoward/morph_feature_extraction/cc85421cd0b99dc809f2c20e5d50a6c4dc7a67b3/data/cell_types_specimen_details.csv",
            _ALLEN_LICENCE, _ALLEN_CITE, "ACTB cell metadata ('download all'), 2,333 cells",
        ),
        # Morphology: archives packaged from many NeuroMorpho / GitHub files; they come from a mirror only.
        DataFile("morphology/labels.csv", "68b2666507d82347eb7a72b253c836dd871625278ca69f7dbb2ab75a6cef656f",
                 1651128, None, _NMO_LICENCE, _NMO_CITE, "one row per reconstruction"),
        DataFile("morphology/lmeasure_full_wide.csv",
                 "b5e13e7fd45452d19f88115ea62db3e6887468824d7f62a89048bbef47edf47a", 696957, None,
                 _NMO_LICENCE, _NMO_CITE, "every L-Measure statistic for the 433 m-typed rat cells"),
        DataFile("morphology/lmeasure_paper19.csv",
                 "b4179bdf712bbe4929308dc1ec0823a50fefc15ead4ec25f076c5a987b229d4b", 63714, None,
                 _NMO_LICENCE, _NMO_CITE, "L-Measure values of the paper's 19 features, 433 rat cells"),
        DataFile("morphology/misc_small.tar.xz",
                 "025182e4304e2e672c9071cb704f1ddac4c82599a33c707bfdd817a1671973b8", 4050964, None,
                 _NMO_LICENCE, _NMO_CITE, "Purkinje, granule, medium spiny and other cells (60)"),
        DataFile("morphology/mouse_allen_visp.tar.xz",
                 "6ead076049417fed85378b60c3f894bb53581c2df83b6215d1457f825b222b37", 36406260, None,
                 _ALLEN_LICENCE, _ALLEN_CITE, "509 Allen Cell Types mouse VISp reconstructions"),
        DataFile("morphology/mouse_microglia_s1.tar.xz",
                 "76cffce2361cfe035ea12e76e01477c5de914be72884f4e210389f098752ced8", 31323780, None,
                 _NMO_LICENCE, _NMO_CITE, "1,289 mouse microglia"),
        DataFile("morphology/mouse_retinal_ganglion.tar.xz",
                 "11d11b241fedabd6b487a44eb374cca8d417d0eb86b4290cefbf7a10f6b53c2c", 7321004, None,
                 _NMO_LICENCE, _NMO_CITE, "125 mouse retinal ganglion cells"),
        DataFile("morphology/rat_s1_markram.tar.xz",
                 "8ab2b41dd14d52f73bf44fee9417d62221cdb4859505e0e9acec86fecc2eae54", 72566312, None,
                 _NMO_LICENCE, "Markram H et al. (2015) Cell 163:456-492; " + _NMO_CITE,
                 "1,268 rat S1 CNG SWC (Markram archive)"),
        DataFile("morphology/rat_s1_vasques.tar.xz",
                 "e840bc66fe64e2ede54eaf331ffbbc30a5b90a7e80a9a63b8521227a3436489b", 5406120, None,
                 _NMO_LICENCE, "Vasques X et al. (2016) Front Neuroanat 10:102; " + _NMO_CITE,
                 "229 more rat S1 cells with m-types"),
        DataFile("morphology/zhang2021_projection_images.tar",
                 "c5eaadb78b910da81e456d1a20120ce1ece138fef34726f81c09df453fd587dd", 7239680, None,
                 "no licence stated (paper authors' repository)",
                 "Zhang T et al. (2021) Sci Rep 11:7291", "580 2-D neuron images from the paper's repository"),
        DataFile("neurofinder/neurofinder_vs1_600frames_bin3.tar.xz",
                 "5cd556be8c0718f64eb407a7ad82497c1b17960660f96c3aab8f8a0b778bf725", 59834624, None,
                 "MIT (repository neuhofmo/calcium-imaging-neuron-detection); Neurofinder benchmark",
                 "Peron SP et al. (2015) Neuron 86:783-799; CodeNeuro Neurofinder benchmark",
                 "a Neurofinder GCaMP6s movie of mouse vibrissal S1, the whole 600-frame recording (~86 s at ~7 Hz) "
                 "as 200 means of 3 consecutive frames (~2.3 Hz), with 330 manual ROIs"),
    ]
}


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _entry(key: str) -> DataFile:
    try:
        return REGISTRY[key]
    except KeyError:
        known = "\n  ".join(sorted(REGISTRY))
        raise KeyError(f"unknown dataset file {key!r}; the registry knows:\n  {known}") from None


def fetch(key: str, *, downloader: Callable | None = None, progress: bool = True) -> Path:
    """Return a local path to the registry file ``key``, verified by sha256.

    Parameters
    ----------
    key : registry key, e.g. ``"allen_cell_types/ephys_features.csv"`` (see :data:`REGISTRY`).
    downloader : optional pooch downloader (``callable(url, output_file, pooch)``), for tests or proxies.
    progress : show a tqdm bar while downloading.

    Raises
    ------
    KeyError : ``key`` is not in the registry.
    ChecksumError : the mirror's or the cache's copy, or a fresh download, does not match the registry's sha256.
        A bad download is deleted and an existing good cached copy is left as it was.
    DataNotAvailableError : no mirror copy, no cached copy and no upstream URL.
    """
    entry = _entry(key)
    mirror = os.environ.get("NEURO_LIB_DATA")
    if mirror:
        candidate = Path(mirror).expanduser() / entry.key
        if candidate.exists():
            actual = sha256sum(candidate)
            if actual != entry.sha256:
                raise ChecksumError(candidate, entry.sha256, actual, "mirror file")
            return candidate
    cached = cache_dir() / entry.key
    if cached.exists():
        actual = sha256sum(cached)
        if actual == entry.sha256:
            return cached
        if downloader is None and entry.url is None:
            raise ChecksumError(cached, entry.sha256, actual, "cached file")
    if entry.url is None:
        raise DataNotAvailableError(
            f"{entry.key} has no upstream download (it is an archive packaged for this book from many upstream "
            f"files; see data/README.md). Point NEURO_LIB_DATA at a mirror that holds it"
            + (f" (looked in {mirror})" if mirror else "")
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    # pooch downloads into a temporary file in the same folder and renames it only after the hash check.
    # We download under a temporary name so that a failed download cannot touch an existing cached file.
    tmp_dir = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".download-"))
    try:
        try:
            got = pooch.retrieve(
                entry.url, known_hash=f"sha256:{entry.sha256}", fname=entry.name, path=tmp_dir,
                downloader=downloader or pooch.HTTPDownloader(progressbar=progress), progressbar=progress,
            )
        except ValueError as err:  # pooch's hash mismatch
            actual = _actual_from_pooch(str(err))
            raise ChecksumError(entry.url, entry.sha256, actual, "download of") from err
        except Exception as err:  # network errors
            raise DataNotAvailableError(f"could not download {entry.key} from {entry.url}: {err}") from err
        os.replace(got, cached)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return cached


def _actual_from_pooch(message: str) -> str:
    import re

    found = re.findall(r"[0-9a-f]{64}", message)
    return found[-1] if found else "unknown"


def fetch_archive(key: str, **kwargs) -> Path:
    """Fetch a ``.tar``/``.tar.xz`` registry file and unpack it once into the cache; return the folder.

    The folder is ``<cache>/extracted/<archive name>-<first 12 hex of sha256>/``; a marker file written last means
    a half-finished extraction is redone rather than used. Extraction uses tarfile's ``data`` filter (no absolute
    paths, no links outside the folder).
    """
    entry = _entry(key)
    archive = fetch(key, **kwargs)
    stem = entry.name.split(".tar")[0]
    out = cache_dir() / "extracted" / f"{stem}-{entry.sha256[:12]}"
    marker = out / ".complete"
    if marker.exists():
        return out
    tmp = Path(tempfile.mkdtemp(dir=out.parent if out.parent.exists() else _mk(out.parent), prefix=".x-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / ".complete").write_text(entry.sha256 + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def checksums(*keys: str) -> dict[str, str]:
    """``{key: sha256}`` for the given registry keys, for results files (what a run was computed from)."""
    return {k: _entry(k).sha256 for k in keys}
