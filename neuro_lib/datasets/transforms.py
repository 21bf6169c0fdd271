"""The transforms of the upstream manifest (``data/upstream.csv.xz``, column ``transform``): what turns the bytes an
upstream URL serves into the member the book reads. Each is a pure function of its inputs, tested on small
hand-written files with a known answer, and checked on the real files against ``member_sha256``.

``identity``
    the member is the download, byte for byte.
``crlf_to_lf``
    CRLF line ends become LF (:func:`crlf_to_lf`; 156 Vasques cells).
``convert`` (+ the one ``convert_aux`` row)
    a reconstruction in another format becomes an SWC file (Cannon et al. 1998), by the rules stated in the mirror's
    ``morphology/PROVENANCE-multi-source.txt`` (the spec; every rule is repeated in the function that applies it):

    - Neurolucida XML (``.xml``, MBF Bioscience ``mbf`` 4.0; 94 retinal ganglion cells):
      :func:`read_neurolucida_xml` + :func:`neurolucida_xml_to_swc`, readers of ours (MorphIO and NeuroM read
      neither this format nor the next);
    - NEURON hoc, ``pt3dadd`` + ``connect`` (``.hoc``; 9 dentate granule cells): :func:`read_hoc` +
      :func:`hoc_to_swc`;
    - Neurolucida ASC (``.asc``; 4 human cerebellar cells): :func:`asc_to_swc`, MorphIO;
    - SWC with the dbbs-lab custom type codes 16-22 (``.swc``; 5 cerebellar cells): :func:`swc_retype`, with the
      code -> type map :func:`dbbs_type_map` read from their ``morphologies.yaml`` (the ``convert_aux`` row).

    :func:`convert` dispatches on the file name of the upstream URL.
``temporal_mean_3``
    600 source frames of a calcium-imaging movie become 200 means of 3 (:func:`temporal_mean`), rounded as the
    mirror's ``neurofinder/PROVENANCE.txt`` says; :func:`array_sha256` is the checksum that file records.

Also here, for the one member of a packed archive that has no manifest row: :func:`folder_labels_csv` writes the
projection-image archive's ``png_dict_labels.csv`` from its members' folder names.

This module imports no modality package (``neuro_lib.morphology`` reads the SWC files these functions write; the
design notes: a modality folder may import ``datasets``, not the other way round). Errors:
:class:`ConversionError` (the file, the line where there is one, and what was expected).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

import numpy as np

__all__ = ["ConversionError", "crlf_to_lf", "NeurolucidaXML", "NeurolucidaTree", "read_neurolucida_xml",
           "neurolucida_xml_to_swc", "HocMorphology", "read_hoc", "hoc_to_swc", "asc_to_swc", "dbbs_type_map",
           "swc_retype", "convert", "convert_format", "CONVERT_FORMATS", "source_label", "temporal_mean",
           "array_sha256", "folder_labels_csv"]


class ConversionError(ValueError):
    """An upstream file that a transform cannot turn into its member.

    Attributes: ``path`` (the file or URL), ``line`` (1-based, ``None`` when the problem is the file as a whole)
    and ``reason`` (what is wrong and what was expected)."""

    def __init__(self, path, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


# ----------------------------------------------------------------------------------------------------------------
# crlf_to_lf

def crlf_to_lf(data: bytes) -> bytes:
    """``data`` with every CRLF (``b"\\r\\n"``) replaced by LF; a lone CR or LF is left as it is."""
    return data.replace(b"\r\n", b"\n")


# ----------------------------------------------------------------------------------------------------------------
# where a converted file came from (the SWC header names it)

def source_label(url: str) -> str:
    """``owner/repo:path@commit12`` for a ``raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>`` URL (the
    provenance line of a converted SWC file). Raises ``ValueError`` for another kind of URL."""
    parts = urlsplit(url).path.lstrip("/").split("/")
    if len(parts) < 4 or not re.fullmatch(r"[0-9a-f]{40}", parts[2]):
        raise ValueError(f"{url}: expected https://raw.githubusercontent.com/<owner>/<repo>/<40-hex commit>/<path>")
    owner, repo, commit, path = parts[0], parts[1], parts[2], unquote("/".join(parts[3:]))
    return f"{owner}/{repo}:{path}@{commit[:12]}"


def _fmt(v: float) -> str:
    return f"{v:.4f}"


# ----------------------------------------------------------------------------------------------------------------
# Neurolucida XML

_MBF = "{http://www.mbfbioscience.com/2007/neurolucida}"
#: Neurolucida tree type -> SWC type code (the spec: Axon -> 2, Dendrite -> 3; Apical -> 4 as in every SWC converter)
NEUROLUCIDA_TYPES = {"Axon": 2, "Dendrite": 3, "Apical": 4}


@dataclass
class NeurolucidaBranch:
    """A run of points (``(n, 4)`` array of x, y, z, d in um) and the branches that start at its last point."""

    points: np.ndarray
    children: list[NeurolucidaBranch] = field(default_factory=list)


@dataclass
class NeurolucidaTree:
    """One ``<tree>``: its ``type`` (``"Axon"``, ``"Dendrite"``, ``"Apical"``) and its root branch."""

    type: str
    root: NeurolucidaBranch


@dataclass
class NeurolucidaXML:
    """What :func:`read_neurolucida_xml` reads: ``contours`` (name, ``(n, 4)`` points x, y, z, d in um) in file order,
    and ``trees`` in file order."""

    contours: list[tuple[str, np.ndarray]]
    trees: list[NeurolucidaTree]


def _points(el, path) -> np.ndarray:
    out = []
    for p in el.findall(_MBF + "point"):
        try:
            out.append([float(p.get(k)) for k in "xyzd"])
        except (TypeError, ValueError):
            raise ConversionError(path, None, f"<point {dict(p.attrib)}> in <{el.tag.removeprefix(_MBF)}>: expected "
                                              "numeric x, y, z and d attributes") from None
    return np.array(out, dtype=np.float64).reshape(-1, 4)


def _branch(el, path) -> NeurolucidaBranch:
    return NeurolucidaBranch(_points(el, path), [_branch(b, path) for b in el.findall(_MBF + "branch")])


def read_neurolucida_xml(source: str | os.PathLike | bytes, name: str | None = None) -> NeurolucidaXML:
    """Read a Neurolucida XML file (MBF Bioscience, ``<mbf version="4.0">`` in the 2007 namespace).

    ``source`` is a path or the file's bytes (``name`` then labels errors). Reads every top-level ``<contour>``
    (e.g. the ``"Cell Body"`` outlines, one per focal plane) and every ``<tree>`` with its nested ``<branch>``
    elements; a branch's first point connects to the last point of the points listed before it in its parent.
    Images, thumbnails, markers and properties are ignored. Raises :class:`ConversionError` for a file that is not
    XML, not Neurolucida's namespace, or has a point without numeric x, y, z, d.
    """
    path = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        root = ET.fromstring(source) if isinstance(source, bytes) else ET.parse(source).getroot()
    except ET.ParseError as err:
        raise ConversionError(path, err.position[0], f"not well-formed XML ({err})") from None
    if root.tag != _MBF + "mbf":
        raise ConversionError(path, None, f"root element {root.tag!r}: expected <mbf> in the namespace {_MBF[1:-1]}")
    contours = [(c.get("name", ""), _points(c, path)) for c in root.findall(_MBF + "contour")]
    trees = [NeurolucidaTree(t.get("type", ""), _branch(t, path)) for t in root.findall(_MBF + "tree")]
    return NeurolucidaXML(contours, trees)


def _polygon_area(p: np.ndarray) -> float:
    """Shoelace area (um^2) of a closed contour in the x-y plane."""
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def neurolucida_xml_to_swc(source: str | os.PathLike | bytes, label: str, name: str | None = None) -> str:
    """Convert a Neurolucida XML reconstruction to SWC text (the spec of the mirror's conversion):

    - soma: one point (id 1, type 1) at the centroid of the ``"Cell Body"`` contours (the mean of all their points,
      every focal plane together), with radius ``sqrt(A / pi)`` where ``A`` is the largest contour's area in the
      x-y plane (shoelace formula);
    - each ``<tree>`` in file order: type ``Axon`` -> 2, ``Dendrite`` -> 3 (``Apical`` -> 4); its points in file
      order, depth first (a branch's points, then its child branches), each point's parent the point before it, a
      tree's first point's parent the soma; radius = d / 2; every point kept (duplicates too);
    - numbers written with 4 decimals (um); two header lines name the source (``label``, see :func:`source_label`)
      and the soma rule.

    Raises :class:`ConversionError` when there is no ``"Cell Body"`` contour or a tree type other than the three.
    Checked on the 94 El-Danaf retinal ganglion cells against the mirror's files (byte-identical).
    """
    path = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    nl = read_neurolucida_xml(source, name=path)
    soma = [p for n, p in nl.contours if n == "Cell Body" and len(p)]
    if not soma:
        raise ConversionError(path, None, "no <contour name=\"Cell Body\"> with points: expected the soma outline")
    allp = np.concatenate(soma)[:, :3]
    centre = allp.mean(axis=0)
    radius = math.sqrt(max(_polygon_area(p) for p in soma) / math.pi)
    lines = [f"# converted from Neurolucida XML: {label}",
             "# soma = single point at contour centroid, radius from largest contour area",
             f"1 1 {_fmt(centre[0])} {_fmt(centre[1])} {_fmt(centre[2])} {_fmt(radius)} -1"]
    n = 1

    def walk(branch: NeurolucidaBranch, t: int, parent: int) -> None:
        nonlocal n
        last = parent
        for x, y, z, d in branch.points:
            n += 1
            lines.append(f"{n} {t} {_fmt(x)} {_fmt(y)} {_fmt(z)} {_fmt(d / 2)} {last}")
            last = n
        for child in branch.children:
            walk(child, t, last)

    for tree in nl.trees:
        if tree.type not in NEUROLUCIDA_TYPES:
            raise ConversionError(path, None, f"<tree type={tree.type!r}>: expected one of {sorted(NEUROLUCIDA_TYPES)}")
        walk(tree.root, NEUROLUCIDA_TYPES[tree.type], 1)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------------------
# NEURON hoc (pt3dadd + connect)

_BLOCK = re.compile(r"^(\w+)\[(\d+)\]\s*\{\s*$")
_BLOCK1 = re.compile(r"^(\w+)\s*\{\s*$")
_HOC_KEYWORDS = {"forall", "forsec", "ifsec", "proc", "func", "obfunc", "iterator", "if", "else", "for", "while",
                 "begintemplate", "endtemplate"}
_PT3DADD = re.compile(r"^pt3dadd\((.*)\)\s*;?$")
_CONNECT = re.compile(r"^connect\s+(\w+(?:\[\d+\])?)\s*\(\s*([0-9.]+)\s*\)\s*,"
                      r"\s*(\w+(?:\[\d+\])?)\s*\(\s*([0-9.]+)\s*\)\s*;?$")


@dataclass
class HocMorphology:
    """What :func:`read_hoc` reads from a stand-alone NEURON morphology file.

    ``sections``: name (``"section[3]"``, ``"axon[0]"``, ``"soma"``) -> ``(n, 4)`` array of the ``pt3dadd`` points
    (x, y, z, diam in um), in the order the file first fills them. ``connections``: child name -> ``(parent name,
    position on the parent (0..1), position on the child)``, from ``connect child(x), parent(y)``.
    """

    sections: dict[str, np.ndarray]
    connections: dict[str, tuple[str, float, float]]

    def children(self, name: str) -> list[tuple[str, float]]:
        """``(child, position on name)`` of the sections connected to ``name``, in file order."""
        return [(c, x) for c, (p, x, _) in self.connections.items() if p == name]

    def roots(self) -> list[str]:
        """Sections with points that are nobody's child."""
        return [s for s in self.sections if s not in self.connections]


def read_hoc(source: str | os.PathLike, name: str | None = None, *, text: str | None = None) -> HocMorphology:
    """Read the geometry of a stand-alone NEURON morphology file: ``name[i] { pt3dclear() pt3dadd(x, y, z, d) ... }``
    blocks and ``connect child(x), parent(y)`` statements (NEURON semantics: ``pt3dclear()`` empties a section,
    ``pt3dadd`` appends, so a block opened twice for one section continues it). Everything else (``create``,
    assignments, ``forall insert``, ``xopen``, comments ``//``) is not geometry and is ignored.

    ``source`` is a path, or give ``text`` (then ``source``/``name`` only label errors). Raises
    :class:`ConversionError` with the line for a ``pt3dadd`` without 4 numbers, a ``pt3dadd`` outside a section
    block, an unclosed block or a section connected twice.
    """
    path = name or str(source)
    if text is None:
        text = Path(source).read_text()
    sections: dict[str, list] = {}
    connections: dict[str, tuple[str, float, float]] = {}
    current, opened_at = None, None
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.split("//", 1)[0].strip()
        if not s:
            continue
        m = _BLOCK.match(s) or _BLOCK1.match(s)
        if m and current is None and m.group(1) not in _HOC_KEYWORDS:
            current = f"{m.group(1)}[{m.group(2)}]" if m.re is _BLOCK else m.group(1)
            opened_at = lineno
            sections.setdefault(current, [])
            continue
        if s == "}":
            current = None
            continue
        if s.startswith("pt3dclear"):
            if current is not None:
                sections[current] = []
            continue
        m = _PT3DADD.match(s)
        if m:
            if current is None:
                raise ConversionError(path, lineno, "pt3dadd outside a section block: expected 'name[i] { ... }'")
            try:
                vals = [float(v) for v in m.group(1).split(",")]
            except ValueError:
                vals = []
            if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
                raise ConversionError(path, lineno, f"{s!r}: expected pt3dadd(x, y, z, diam) with 4 finite numbers")
            sections[current].append(vals)
            continue
        m = _CONNECT.match(s)
        if m:
            child, cx, parent, px = m.group(1), float(m.group(2)), m.group(3), float(m.group(4))
            if child in connections:
                raise ConversionError(path, lineno, f"{child} connected a second time (a section has one parent)")
            connections[child] = (parent, px, cx)
    if current is not None:
        raise ConversionError(path, opened_at, f"block {current} {{ is never closed: expected '}}'")
    arrays = {k: np.array(v, dtype=np.float64).reshape(-1, 4) for k, v in sections.items()}
    return HocMorphology(arrays, connections)


def _index(name: str) -> int:
    m = re.search(r"\[(\d+)\]$", name)
    return int(m.group(1)) if m else -1


def hoc_to_swc(source: str | os.PathLike, label: str, name: str | None = None, *,
               text: str | None = None) -> tuple[str, dict]:
    """Convert a Schmidt-Hieber-style NEURON morphology (``section[]`` + optional ``axon[]`` arrays) to SWC text, by
    the spec of the mirror's conversion (its ``tools/stage_dggc.py``, not published; these rules reproduce its 9 files
    byte for byte):

    - the soma is the root of the ``section[]`` tree (``section[0]`` in every file): one point (id 1, type 1) at its
      middle ``pt3d`` point (index ``n // 2``), radius = its largest diameter / 2;
    - only ``section[]`` sections are converted. The subtree attached at ``soma(0)`` is typed axon (2), the subtrees
      at any other position dendrite (3);
    - sections are written breadth first from the soma, children in section-index order; each section's points
      in order (its first point too, although NEURON repeats the parent's end there), the first one's parent the
      last point of its parent section (the soma point for the soma's children); radius = diam / 2;
    - numbers written with 4 decimals (um), two header lines name the source and the rules.

    Returns ``(swc_text, skipped)``, where ``skipped`` counts what the rules leave out, so that nothing is dropped
    silently: ``{"axon_sections": n, "axon_points": m}`` for the ``axon[]`` arrays (4 of the 9 cells have them),
    plus ``other_*`` for sections of any other name and ``unconnected_*`` for ``section[]`` sections with points that
    no ``connect`` reaches (none in the 9 cells).

    What these rules do to the biology (kept because they are the spec, the mirror's files and so the book's
    numbers were made by them): in the Schmidt-Hieber cells 1, 3 and 9 the subtree at ``soma(0)`` is a branched
    dendritic tree (17-33 sections, 1.2-2.5 mm of cable) and is typed axon; in cells 5, 6, 9 and 10 the
    reconstructed ``axon[]`` (23, 15, 1 and 15 sections; 2,178, 1,330, 109 and 2,100 points) is left out.

    Raises :class:`ConversionError` when the ``section[]`` sections do not form one tree with points at its root.
    """
    path = name or str(source)
    hoc = read_hoc(source, path, text=text)
    sec = {k: v for k, v in hoc.sections.items() if k.startswith("section[")}
    conn = {c: v for c, v in hoc.connections.items() if c.startswith("section[") and v[0].startswith("section[")}
    roots = [s for s in sec if s not in conn]
    if len(roots) != 1 or not len(sec[roots[0]]):
        raise ConversionError(path, None, f"section[] roots {roots}: expected exactly one, with pt3d points (the soma)")
    soma = roots[0]
    sp = sec[soma]
    mid = sp[len(sp) // 2]
    children: dict[str, list[tuple[str, float]]] = {}
    for c, (p, x, _) in conn.items():
        children.setdefault(p, []).append((c, x))
    for v in children.values():
        v.sort(key=lambda t: _index(t[0]))
    lines = [f"# converted from NEURON morpho.hoc: {label}",
             "# soma = single point (middle soma pt3d point, radius = max soma diam/2); subtree attached at soma(0) "
             "typed as axon (2), others dendrite (3)",
             f"1 1 {_fmt(mid[0])} {_fmt(mid[1])} {_fmt(mid[2])} {_fmt(max(sp[:, 3]) / 2)} -1"]
    n = 1
    queue = [(c, 2 if x == 0 else 3, 1) for c, x in children.get(soma, [])]
    seen = {soma}
    while queue:
        s, t, last = queue.pop(0)
        if s in seen:
            raise ConversionError(path, None, f"{s} reached twice: the connect statements form a cycle")
        seen.add(s)
        for x, y, z, d in sec.get(s, np.zeros((0, 4))):
            n += 1
            lines.append(f"{n} {t} {_fmt(x)} {_fmt(y)} {_fmt(z)} {_fmt(d / 2)} {last}")
            last = n
        queue.extend((c, t, last) for c, _ in children.get(s, []))
    left = [k for k in hoc.sections if not k.startswith("section[")]
    axon = [k for k in left if k.startswith("axon")]
    other = [k for k in left if not k.startswith("axon")]
    skipped = {"axon_sections": len(axon), "axon_points": int(sum(len(hoc.sections[k]) for k in axon))}
    if other:
        skipped.update(other_sections=len(other), other_points=int(sum(len(hoc.sections[k]) for k in other)))
    unreached = [k for k in sec if k not in seen and len(sec[k])]
    if unreached:
        skipped.update(unconnected_sections=len(unreached),
                       unconnected_points=int(sum(len(sec[k]) for k in unreached)))
    return "\n".join(lines) + "\n", skipped


# ----------------------------------------------------------------------------------------------------------------
# Neurolucida ASC (MorphIO)

def asc_to_swc(path: str | os.PathLike) -> str:
    """Convert a Neurolucida ASC file to SWC text with MorphIO: ``morphio.mut.Morphology(path)``, then
    ``remove_unifurcations()`` (a section that is its parent's only child is merged into it) and MorphIO's SWC
    writer (its own header line names the MorphIO version). MorphIO's warnings about the file (no soma, a soma
    that is a contour, merged sections) are silenced: the resulting file is checked by ``read_swc`` like any other.

    The output depends on the MorphIO version (pinned in ``requirements/constraints.txt``; the member sha256 in the
    manifest was made with MorphIO 3.5.0). Raises :class:`ConversionError` when MorphIO cannot read the file.
    """
    import morphio

    quiet = [morphio.Warning.no_soma_found, morphio.Warning.only_child, morphio.Warning.soma_non_conform,
             morphio.Warning.soma_non_contour, morphio.Warning.soma_non_cylinder_or_point,
             morphio.Warning.write_no_soma, morphio.Warning.wrong_root_point]
    morphio.set_ignored_warning(quiet, True)
    try:
        try:
            m = morphio.mut.Morphology(str(path))
        except morphio.MorphioError as err:
            raise ConversionError(path, None, f"MorphIO could not read it as Neurolucida ASC: {err}") from None
        m.remove_unifurcations()
        with tempfile.TemporaryDirectory(prefix="neuro_lib-asc-") as tmp:
            out = Path(tmp) / "out.swc"
            m.write(str(out))
            return out.read_text()
    finally:
        morphio.set_ignored_warning(quiet, False)


# ----------------------------------------------------------------------------------------------------------------
# dbbs-lab SWC type codes

#: first tag of a dbbs-lab ``morphologies.yaml`` type -> SWC type code
DBBS_TAG_TYPES = {"axon": 2, "dendrites": 3}


def dbbs_type_map(yaml_text: str, file_name: str, name: str = "morphologies.yaml") -> dict[int, int]:
    """The custom SWC code -> standard type of one file, from dbbs-lab/cerebellar-models ``morphologies.yaml``:
    each code's first tag (``axon`` -> 2, ``dendrites`` -> 3). Their ``swap_axes`` pipeline step is a modelling
    step of theirs and is not applied (the spec keeps the coordinates). Raises :class:`ConversionError` when the
    file is not listed or a tag is neither."""
    import yaml

    doc = yaml.safe_load(yaml_text)
    for entry in doc.get("morphologies", []):
        if Path(entry.get("file", "")).name == file_name:
            tags = entry.get("parser", {}).get("tags", {})
            out = {}
            for code, names in tags.items():
                if not names or names[0] not in DBBS_TAG_TYPES:
                    raise ConversionError(name, None, f"{file_name}: code {code} tagged {names}: expected the first "
                                                      f"tag to be one of {sorted(DBBS_TAG_TYPES)}")
                out[int(code)] = DBBS_TAG_TYPES[names[0]]
            return out
    raise ConversionError(name, None, f"no entry for {file_name}: expected '- file: ./morphologies/{file_name}'")


_SWC_LINE = re.compile(rb"^(\s*\S+\s+)(\S+)(.*)$", re.S)


def swc_retype(data: bytes, type_map: Mapping[int, int], name: str = "<bytes>") -> bytes:
    """``data`` (SWC bytes) with the type field (2nd column) of every sample line replaced through ``type_map``;
    codes not in the map, comments and every other byte are left exactly as they are. Raises
    :class:`ConversionError` with the line for a type field that is not an integer."""
    out = []
    for lineno, line in enumerate(data.split(b"\n"), 1):
        m = _SWC_LINE.match(line)
        if m and not line.lstrip().startswith(b"#"):
            try:
                code = int(m.group(2))
            except ValueError:
                raise ConversionError(name, lineno, f"type field {m.group(2)!r}: expected an integer") from None
            if code in type_map:
                line = m.group(1) + str(type_map[code]).encode() + m.group(3)
        out.append(line)
    return b"\n".join(out)


# ----------------------------------------------------------------------------------------------------------------
# the dispatcher

#: convert formats by the upstream file's suffix (the names :func:`neuro_lib.datasets.transform_counts` reports)
CONVERT_FORMATS = {".xml": "neurolucida_xml", ".hoc": "neuron_hoc", ".asc": "neurolucida_asc",
                   ".swc": "swc_type_codes"}


def convert_format(url: str) -> str:
    """The format name of a ``convert`` row (:data:`CONVERT_FORMATS`), from its URL's suffix."""
    suffix = Path(urlsplit(url).path).suffix.lower()
    if suffix not in CONVERT_FORMATS:
        raise ConversionError(url, None, f"suffix {suffix!r}: expected one of {sorted(CONVERT_FORMATS)}")
    return CONVERT_FORMATS[suffix]


def convert(url: str, original: str | os.PathLike, aux: Mapping[str, Path] | None = None) -> tuple[bytes, dict]:
    """Turn the original file ``original`` (downloaded from ``url``) into its SWC member: the format from the URL's
    suffix (:func:`convert_format`). ``aux``: file name -> local path of the ``convert_aux`` files (the dbbs
    ``morphologies.yaml``). Returns ``(member bytes, skipped counts)`` (see :func:`hoc_to_swc`)."""
    fmt = convert_format(url)
    label = source_label(url)
    if fmt == "neurolucida_xml":
        return neurolucida_xml_to_swc(original, label, name=url).encode(), {}
    if fmt == "neuron_hoc":
        text, skipped = hoc_to_swc(original, label, name=url)
        return text.encode(), skipped
    if fmt == "neurolucida_asc":
        return asc_to_swc(original).encode(), {}
    yaml_path = (aux or {}).get("morphologies.yaml")
    if yaml_path is None:
        raise ConversionError(url, None, "an SWC with custom type codes needs morphologies.yaml (the convert_aux row)")
    type_map = dbbs_type_map(Path(yaml_path).read_text(), Path(urlsplit(url).path).name, name=str(yaml_path))
    return swc_retype(Path(original).read_bytes(), type_map, name=url), {}


# ----------------------------------------------------------------------------------------------------------------
# temporal_mean_3

def temporal_mean(frames: np.ndarray, n: int = 3) -> np.ndarray:
    """Means of ``n`` consecutive frames: ``frames`` ``(T, H, W)`` unsigned integers with ``T`` a multiple of ``n``
    -> ``(T // n, H, W)`` ``uint16``, frame ``k`` the mean of frames ``n k .. n k + n - 1`` rounded to the nearest
    integer, exactly as ``neurofinder/PROVENANCE.txt`` states it:
    ``np.round(movie.reshape(T // n, n, H, W).astype(np.float64).mean(axis=1)).astype(np.uint16)`` (a mean of three
    integers is never half-way, so the rounding is unambiguous). Raises ``ValueError`` for another shape."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[0] % n:
        raise ValueError(f"frames of shape {frames.shape}: expected (T, H, W) with T a multiple of {n}")
    t, h, w = frames.shape
    means = np.round(frames.reshape(t // n, n, h, w).astype(np.float64).mean(axis=1))
    if means.min(initial=0) < 0 or means.max(initial=0) > np.iinfo(np.uint16).max:
        raise ValueError("frame means outside 0..65535: expected uint16 data")
    return means.astype(np.uint16)


def array_sha256(a: np.ndarray | Iterable[np.ndarray]) -> str:
    """sha256 of an array's bytes as little-endian C order (the checksums ``neurofinder/PROVENANCE.txt`` records);
    an iterable of arrays is hashed as their concatenation along axis 0, without building it."""
    h = hashlib.sha256()
    for part in ([a] if isinstance(a, np.ndarray) else a):
        part = np.asarray(part)
        h.update(np.ascontiguousarray(part, dtype=part.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# the projection images' label table

def folder_labels_csv(members: Iterable[str], prefix: str = "bonus/") -> bytes:
    """``png_dict_labels.csv`` of the projection-image archive, from its image paths
    ``png_dict/<primary>/<secondary>/<tertiary>/<NeuroMorpho id>.png``: a header, then one row per image in sorted
    path order (``file`` = ``prefix`` + path, ``nmo_neuron_id``, the three class folders), written by Python's
    ``csv`` module (CRLF line ends). Raises ``ValueError`` for a path of another depth."""
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow(["file", "nmo_neuron_id", "primary_cell_class", "secondary_cell_class", "tertiary_cell_class"])
    for m in sorted(members):
        parts = m.split("/")
        if len(parts) != 5 or not parts[-1].endswith(".png"):
            raise ValueError(f"{m}: expected png_dict/<primary>/<secondary>/<tertiary>/<id>.png")
        w.writerow([prefix + m, parts[-1][:-4], *parts[1:4]])
    return out.getvalue().encode()
