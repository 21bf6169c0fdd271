"""The registry: every file the book reads, with its sha256, size, where it comes from, licence and citation.

Each entry is known by a *key*, its path relative to a data mirror (``"morphology/rat_s1_markram.tar.xz"``). Every
entry has a public source (there is no mirror-only entry); :attr:`DataFile.source` says which kind:

``"url"``
    one file, downloaded from :attr:`DataFile.url` (a URL pinned to a commit) and checked against ``sha256``.
``"repository"``
    a table we curate, committed under this repository's ``data/`` folder (:attr:`DataFile.repository`); served
    from there after its sha256 is checked (the three morphology tables, 2.4 MB).
``"manifest"``
    an archive assembled from its upstream files: one row per file in the project's copy of the upstream manifest,
    ``data/upstream.csv.xz`` (:func:`manifest_rows`). Its ``sha256`` is that of the packed ``.tar``/``.tar.xz`` a
    mirror holds; assembled from upstream, the unit of verification is each member's sha256 (and, for the movie,
    the array sha256 in :attr:`DataFile.recipe`), because a re-packed archive would not reproduce the mirror's bytes.

``data/upstream.csv.xz`` is the mirror's ``UPSTREAM.csv`` (sha256 ``7e3486a4...``; columns ``target``, ``member``,
``member_sha256``, ``url``, ``url_sha256``, ``transform``, 4,662 rows) with one change: the 112 ``convert`` rows,
blank there, carry the sha256 of this project's conversion of the original file
(:mod:`neuro_lib.datasets.transforms`), which is byte-identical to the member packed in the mirror's archive (checked
by ``tests/test_datasets.py``).

:func:`transform_counts` says how many members of an archive came through which transform (for the chapters' data
pages).
"""
from __future__ import annotations

import csv
import functools
import io
import lzma
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = ["DataFile", "REGISTRY", "Row", "manifest", "manifest_rows", "transform_counts", "MANIFEST_PATH",
           "DATA_ROOT", "ORIGINALS_KEY", "originals_member", "entry", "chapter_keys", "SOURCES"]

#: the repository's ``data/`` folder (curated tables and the manifest)
DATA_ROOT = Path(__file__).resolve().parents[2] / "data"
#: the project's copy of the upstream manifest
MANIFEST_PATH = DATA_ROOT / "upstream.csv.xz"
#: the mirror's archive of the original files behind the ``convert`` rows (``<owner>__<repo>/<commit>/<path>``)
ORIGINALS_KEY = "morphology/upstream_originals.tar.xz"
SOURCES = ("url", "repository", "manifest")


@dataclass(frozen=True)
class DataFile:
    """One file of the registry.

    ``key``: path relative to a mirror. ``sha256``/``size``: of that file (for an archive: the packed archive a
    mirror holds). Exactly one of ``url`` (a single download), ``repository`` (a path under ``data/``) or
    ``assembled=True`` (built from :func:`manifest_rows`) says where it comes from. ``chapters``: the book's
    chapters that read it (``python -m neuro_lib.datasets fetch-all`` fetches those). ``recipe``: parameters of the
    assembly (the movie's array checksums; members derived from other members).
    """

    key: str
    sha256: str
    size: int
    licence: str
    citation: str
    description: str = ""
    url: str | None = None
    repository: str | None = None
    assembled: bool = False
    chapters: tuple[str, ...] = ()
    recipe: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        if sum([self.url is not None, self.repository is not None, self.assembled]) != 1:
            raise ValueError(f"{self.key}: exactly one of url, repository or assembled=True is needed (every "
                             "registry entry has a public source)")

    @property
    def name(self) -> str:
        return Path(self.key).name

    @property
    def source(self) -> str:
        """``"url"``, ``"repository"`` or ``"manifest"`` (see the module docstring)."""
        return "url" if self.url else "repository" if self.repository else "manifest"

    @property
    def is_archive(self) -> bool:
        return ".tar" in self.name

    @property
    def stem(self) -> str:
        return self.name.split(".tar")[0]


class Row(NamedTuple):
    """One row of the upstream manifest: ``member`` (path in the archive; blank for the movie's source frames and
    the ``convert_aux`` row), ``member_sha256`` (blank where the member is not a file of its own), ``url``,
    ``url_sha256`` (of the bytes the URL serves) and ``transform``."""

    target: str
    member: str
    member_sha256: str
    url: str
    url_sha256: str
    transform: str


_ALLEN_LICENCE = "Allen Institute Terms of Use (research use with attribution to the Allen Cell Types Database)"
_ALLEN_CITE = "Allen Institute for Brain Science (2015). Allen Cell Types Database. celltypes.brain-map.org"
_OPHIR_CITE = (
    "Ophir O, Shefi O, Lindenbaum O (2023). Classifying neuronal cell types based on shared electrophysiological "
    "information from humans and mice. bioRxiv / IEEE; data: github.com/ofek181/Neuronal-Cell-Type-Classification"
)
_OPHIR_RAW = "https://raw.githubusercontent.com/ofek181/Neuronal-Cell-Type-Classification/6eb1bdcafacea21eb9b63e41f56b6c4c4bbbd78c/data"
_NMO_LICENCE = "NeuroMorpho.Org terms (cite NeuroMorpho.Org and each archive's original paper)"
_NMO_CITE = "Ascoli GA, Donohue DE, Halavi M (2007). NeuroMorpho.Org. J Neurosci 27:9247-9251"
_MULTI_LICENCE = ("repository licences per source (MIT CAJAL, GPL-3 Snudda/morphOMICs/dbbs-lab models, AGPL-3 "
                  "dbbs-lab cerebellar-models, none stated for RGCmorphology/NeuronTools); NeuroMorpho.Org terms")
_MORPH = ("morphology",)

REGISTRY: dict[str, DataFile] = {
    f.key: f
    for f in [
        *(DataFile(f"allen_cell_types/ophir2023_{species}_ephys_data.csv", sha, size, _ALLEN_LICENCE,
                   _OPHIR_CITE + "; " + _ALLEN_CITE,
                   f"the paper authors' 41-feature model input, {cells} {species} cells",
                   url=f"{_OPHIR_RAW}/{species}/ephys_data.csv", chapters=("ephys",))
          for species, sha, size, cells in [
              ("mouse", "b91e818fe1938f95f455bb94b411ad3bcbb7218495a018bc8f98368ec84239e1", 1026048, "1,424"),
              ("human", "7492581a54a5cf6a14b087f6fb2dce172c35c1c2951145175e43338f23114fa6", 205628, "299")]),
        DataFile(
            "allen_cell_types/ephys_features.csv",
            "48e595aca23c156f41cb4581893ff837600d4646512dc074741787d407bded75", 1853896,
            _ALLEN_LICENCE, _ALLEN_CITE,
            "ACTB ephys feature table (AllenSDK CellTypesCache.get_ephys_features()), 2,333 cells; the Allen API "
            "serves the newest release, whose bytes differ from this snapshot",
            url="https://raw.githubusercontent.com/BIPN162/Materials/f79f25893381638ce2c8c514c40532fb86c2ae40/cell_types/ephys_features.csv",
            chapters=("ephys",),
        ),
        DataFile(
            "allen_cell_types/cell_types_specimen_details.csv",
            "28744252412094d0585c1801547802ff1573a35d7a30b79fc0ca1c5ef2dff5da", 1406030,
            _ALLEN_LICENCE, _ALLEN_CITE, "ACTB cell metadata ('download all'), 2,333 cells",
            url="https://raw.githubusercontent.com/derekhoward/morph_feature_extraction/cc85421cd0b99dc809f2c20e5d50a6c4dc7a67b3/data/cell_types_specimen_details.csv",
            chapters=("ephys",),
        ),
        # Morphology: curated tables served from this repository, and archives assembled from their upstream files.
        DataFile("morphology/labels.csv", "68b2666507d82347eb7a72b253c836dd871625278ca69f7dbb2ab75a6cef656f",
                 1651128, _NMO_LICENCE + "; " + _MULTI_LICENCE, _NMO_CITE,
                 "one row per reconstruction (archive, path, sha256, species, cell class and type, provenance)",
                 repository="morphology/labels.csv", chapters=_MORPH),
        DataFile("morphology/lmeasure_full_wide.csv",
                 "b5e13e7fd45452d19f88115ea62db3e6887468824d7f62a89048bbef47edf47a", 696957,
                 _NMO_LICENCE, "Vasques X et al. (2016) Front Neuroanat 10:102; " + _NMO_CITE,
                 "every L-Measure statistic for the 433 m-typed rat cells",
                 repository="morphology/lmeasure_full_wide.csv", chapters=_MORPH),
        DataFile("morphology/lmeasure_paper19.csv",
                 "b4179bdf712bbe4929308dc1ec0823a50fefc15ead4ec25f076c5a987b229d4b", 63714,
                 _NMO_LICENCE, "Vasques X et al. (2016) Front Neuroanat 10:102; " + _NMO_CITE,
                 "L-Measure values of the paper's 19 features, 433 rat cells",
                 repository="morphology/lmeasure_paper19.csv", chapters=_MORPH),
        DataFile("morphology/misc_small.tar.xz",
                 "025182e4304e2e672c9071cb704f1ddac4c82599a33c707bfdd817a1671973b8", 4050964,
                 _MULTI_LICENCE, _NMO_CITE, "Purkinje, granule, medium spiny and other cells (60)",
                 assembled=True, chapters=_MORPH),
        DataFile("morphology/mouse_allen_visp.tar.xz",
                 "6ead076049417fed85378b60c3f894bb53581c2df83b6215d1457f825b222b37", 36406260,
                 _ALLEN_LICENCE, _ALLEN_CITE, "509 Allen Cell Types mouse VISp reconstructions (via CamaraLab/CAJAL)",
                 assembled=True, chapters=_MORPH),
        DataFile("morphology/mouse_microglia_s1.tar.xz",
                 "76cffce2361cfe035ea12e76e01477c5de914be72884f4e210389f098752ced8", 31323780,
                 "GPL-3 (siegert-lab/morphOMICs)", "Colombo G et al. (2022) Nat Neurosci 25:1379; morphOMICs",
                 "1,289 mouse microglia", assembled=True, chapters=_MORPH),
        DataFile("morphology/mouse_retinal_ganglion.tar.xz",
                 "11d11b241fedabd6b487a44eb374cca8d417d0eb86b4290cefbf7a10f6b53c2c", 7321004,
                 "no licence stated (Hjorthmedh/RGCmorphology); berenslab/rgc_dendrites",
                 "El-Danaf RN, Huberman AD (2015) J Neurosci 35:2329; Hjorth JJJ et al. (2015); Ran Y et al. (2020)",
                 "125 mouse retinal ganglion cells (94 converted from Neurolucida XML)",
                 assembled=True, chapters=_MORPH),
        DataFile("morphology/rat_s1_markram.tar.xz",
                 "8ab2b41dd14d52f73bf44fee9417d62221cdb4859505e0e9acec86fecc2eae54", 72566312,
                 _NMO_LICENCE, "Markram H et al. (2015) Cell 163:456-492; " + _NMO_CITE,
                 "1,268 rat S1 CNG SWC (Markram archive, via Nevermore520/NeuronTools)",
                 assembled=True, chapters=_MORPH),
        DataFile("morphology/rat_s1_vasques.tar.xz",
                 "e840bc66fe64e2ede54eaf331ffbbc30a5b90a7e80a9a63b8521227a3436489b", 5406120,
                 _NMO_LICENCE, "Vasques X et al. (2016) Front Neuroanat 10:102; " + _NMO_CITE,
                 "229 more rat S1 cells with m-types (via hanyeliu/Neuron_Morpho_Classification_ML)",
                 assembled=True, chapters=_MORPH),
        DataFile(ORIGINALS_KEY, "641af0afa7d7b27efa3bf4a964b9bac1eba4d28ba6fb80cfb738c349d43c559c", 6306992,
                 _MULTI_LICENCE, _NMO_CITE,
                 "the 113 original files (Neurolucida XML and ASC, NEURON hoc, dbbs SWC + morphologies.yaml) behind "
                 "the converted cells, laid out as <owner>__<repo>/<commit>/<path>; read by the mirror path's "
                 "conversion (the upstream path downloads them with the archive that needs them)",
                 assembled=True),
        DataFile("morphology/zhang2021_projection_images.tar",
                 "c5eaadb78b910da81e456d1a20120ce1ece138fef34726f81c09df453fd587dd", 7239680,
                 "no licence stated (paper authors' repository)",
                 "Zhang T et al. (2021) Sci Rep 11:7291", "580 2-D neuron images from the paper's repository",
                 assembled=True, chapters=_MORPH,
                 recipe={"derived": {"png_dict_labels.csv": {
                     "from": "folder_labels",
                     "sha256": "fb8dc2789514e24478d3b750d3267483dbc0dc67a7e42ede032f3d4178359741"}}}),
        DataFile("neurofinder/neurofinder_vs1_600frames_bin3.tar.xz",
                 "5cd556be8c0718f64eb407a7ad82497c1b17960660f96c3aab8f8a0b778bf725", 59834624,
                 "MIT (repository neuhofmo/calcium-imaging-neuron-detection); Neurofinder benchmark",
                 "Peron SP et al. (2015) Neuron 86:783-799; CodeNeuro Neurofinder benchmark",
                 "a Neurofinder GCaMP6s movie of mouse vibrissal S1, the whole 600-frame recording (~86 s at ~7 Hz) "
                 "as 200 means of 3 consecutive frames (~2.3 Hz), with 330 manual ROIs",
                 assembled=True, chapters=("imaging",),
                 recipe={"temporal_mean_3": {
                     "frames_per_bin": 3, "frame_shape": [512, 512],
                     "member_format": "images/image{:05d}.tiff",
                     # neurofinder/PROVENANCE.txt: sha256 of the 600 source frames as one little-endian uint16
                     # array (C order), and of the 200 means
                     "source_array_sha256": "90a79af174463c2a267884e5dd864cc214c2552fcf6519dcb582fb6561adbec4",
                     "array_sha256": "1224eb9a6d9e24507abc02b4c5eef6676207eaca2962c27365d6fc54a46c353d"}}),
    ]
}


def entry(key: str) -> DataFile:
    """The registry entry of ``key``; ``KeyError`` listing every known key otherwise."""
    try:
        return REGISTRY[key]
    except KeyError:
        known = "\n  ".join(sorted(REGISTRY))
        raise KeyError(f"unknown dataset file {key!r}; the registry knows:\n  {known}") from None


def chapter_keys(chapters: tuple[str, ...] | None = None) -> list[str]:
    """Registry keys read by the given chapters (every chapter's by default), in registry order."""
    return [k for k, f in REGISTRY.items() if f.chapters and (chapters is None or set(f.chapters) & set(chapters))]


@functools.cache
def manifest(path: str | None = None) -> tuple[Row, ...]:
    """Every row of the upstream manifest (``data/upstream.csv.xz`` unless ``path``), in file order."""
    raw = lzma.decompress(Path(path or MANIFEST_PATH).read_bytes()).decode()
    rows = tuple(Row(**r) for r in csv.DictReader(io.StringIO(raw, newline="")))
    if not rows:
        raise ValueError(f"{path or MANIFEST_PATH}: no rows")
    return rows


def originals_member(url: str) -> str:
    """Path of an original file in ``upstream_originals``: ``<owner>__<repo>/<commit>/<path>`` from a
    ``raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>`` URL."""
    parts = urlsplit(url).path.lstrip("/").split("/")
    return f"{parts[0]}__{parts[1]}/{parts[2]}/{unquote('/'.join(parts[3:]))}"


def manifest_rows(key: str) -> list[Row]:
    """The manifest rows an archive is assembled from: those whose ``target`` is ``key``; for
    :data:`ORIGINALS_KEY`, every ``convert``/``convert_aux`` row as an ``identity`` member at
    :func:`originals_member`. Raises ``ValueError`` for a key that is not assembled."""
    e = entry(key)
    if not e.assembled:
        raise ValueError(f"{key} is not assembled from the manifest (its source is {e.source!r})")
    rows = manifest()
    if key == ORIGINALS_KEY:
        return [Row(key, originals_member(r.url), r.url_sha256, r.url, r.url_sha256, "identity")
                for r in rows if r.transform in ("convert", "convert_aux")]
    return [r for r in rows if r.target == key]


def transform_counts(*keys: str) -> dict[str, int]:
    """How many members of the archives ``keys`` (every assembled chapter archive if none) came through which
    transform: ``{"identity": n, "crlf_to_lf": n, "convert:neurolucida_xml": n, "convert:neuron_hoc": n,
    "convert:neurolucida_asc": n, "convert:swc_type_codes": n, "temporal_mean_3": n, "derived": n}`` (only the
    transforms that occur; ``temporal_mean_3`` counts the means written, one per 3 source frames; ``derived`` the
    members made from other members, e.g. the projection images' label table). From the manifest: no download."""
    from .transforms import convert_format

    keys = keys or tuple(k for k in chapter_keys() if REGISTRY[k].assembled)
    out: Counter = Counter()
    for key in keys:
        e = entry(key)
        one: Counter = Counter()
        for r in manifest_rows(key):
            if r.transform == "convert":
                one[f"convert:{convert_format(r.url)}"] += 1
            elif r.member or r.transform == "temporal_mean_3":
                one[r.transform] += 1
        if one.get("temporal_mean_3"):
            one["temporal_mean_3"] //= e.recipe["temporal_mean_3"]["frames_per_bin"]
        one["derived"] += len(e.recipe.get("derived", {}))
        out.update(one)
    return {k: v for k, v in out.items() if v}
