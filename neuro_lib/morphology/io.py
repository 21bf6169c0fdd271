"""Reading and validating SWC reconstructions; handing them to NeuroM/MorphIO.

The SWC format (Cannon et al. 1998; NeuroMorpho.Org's "standardized" CNG variant, Ascoli et al. 2007) has one
sample per line, seven whitespace-separated fields::

    id  type  x  y  z  radius  parent_id        # x, y, z and radius in micrometres; parent -1 for the root

Lines starting with ``#`` are comments. :func:`read_swc` checks everything MorphIO would otherwise crash or guess
on, and raises :class:`SWCError` naming the file, the 1-based line and what was expected:

- a field that is not a finite number, an id or parent that is not an integer, a line with other than 7 fields;
- a duplicate id, a parent id that does not exist, a cycle, more than one root (parent -1), no root;
- no soma sample (type 1), a negative radius; an empty file.

The returned :class:`SWC` holds plain NumPy arrays in an order where every parent comes before its children, with
``parent`` as an *index* into those arrays (-1 for the root); it is the common input of the morphology chapter
(repair, features, projections, the Tree-LSTM's reduced tree). :func:`to_neurom` turns it into a NeuroM morphology
(MorphIO underneath), which recognises NeuroMorpho's 3-point soma (a sphere written as three points along y).
"""
from __future__ import annotations

import gzip
import io
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable

import numpy as np

__all__ = ["SWC", "SWCError", "read_swc", "load_swc", "file_key", "parse_swc", "write_swc", "to_neurom",
           "load_directory", "LoadReport",
           "SWC_TYPES"]

#: SWC type codes (Cannon et al. 1998); codes above 4 are "custom" and are kept as they are.
SWC_TYPES = {0: "undefined", 1: "soma", 2: "axon", 3: "basal dendrite", 4: "apical dendrite"}


class SWCError(ValueError):
    """A malformed SWC file.

    Attributes: ``path`` (the file, or ``"<string>"``), ``line`` (1-based line number in the file, ``None`` when the
    problem is the file as a whole, e.g. no soma) and ``reason`` (what is wrong and what was expected).
    """

    def __init__(self, path, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # picklable across joblib workers
        return (SWCError, (self.path, self.line, self.reason))


@dataclass
class SWC:
    """A validated reconstruction: ``n`` samples in parent-before-child order.

    Attributes
    ----------
    ids : (n,) int, the SWC sample ids as written in the file.
    types : (n,) int, SWC type codes (1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite, others custom).
    xyz : (n, 3) float, coordinates in micrometres.
    radius : (n,) float, radii in micrometres (>= 0).
    parent : (n,) int, index into these arrays of each sample's parent, -1 for the root (row 0).
    path : the file it came from (``None`` for a string or a generated cell).
    lines : (n,) int, the 1-based file line of each sample, or ``None`` when the file was already in order (row k
        is then the k-th data line) or the cell was generated.
    n_skipped : samples dropped while reading (only with ``read_swc(..., drop_fragments=True)``).
    metadata : free-form provenance (comments of the header, repair steps applied, ...).
    """

    ids: np.ndarray
    types: np.ndarray
    xyz: np.ndarray
    radius: np.ndarray
    parent: np.ndarray
    path: Path | None = None
    lines: np.ndarray | None = None
    n_skipped: int = 0
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_children(self) -> np.ndarray:
        """(n,) int, number of children of each sample."""
        return np.bincount(self.parent[1:], minlength=len(self)) if len(self) > 1 else np.zeros(len(self), int)

    @property
    def soma_mask(self) -> np.ndarray:
        return self.types == 1

    def copy(self, **changes) -> SWC:
        """A deep copy, with the given attributes replaced."""
        d = dict(ids=self.ids.copy(), types=self.types.copy(), xyz=self.xyz.copy(), radius=self.radius.copy(),
                 parent=self.parent.copy(), path=self.path,
                 lines=None if self.lines is None else self.lines.copy(), n_skipped=self.n_skipped,
                 metadata=dict(self.metadata))
        d.update(changes)
        return SWC(**d)

    def segment_lengths(self) -> np.ndarray:
        """(n,) float, length in um of the segment from each sample to its parent (0 for the root)."""
        d = np.zeros(len(self))
        if len(self) > 1:
            d[1:] = np.linalg.norm(self.xyz[1:] - self.xyz[self.parent[1:]], axis=1)
        return d


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise SWCError(path, None, f"not a readable gzip file ({err})") from None
    return raw.decode("utf-8", errors="replace")


def read_swc(path: str | os.PathLike, *, drop_fragments: bool = False) -> SWC:
    """Read and validate one SWC file (plain or gzip-compressed, e.g. ``.swc.gz``).

    Returns an :class:`SWC` (coordinates and radii in micrometres, rows re-ordered parent before child).
    ``drop_fragments=True`` accepts several roots (parent -1): it keeps the tree that grows from the soma root (the
    first root of type 1, else the first root) and drops the disconnected pieces (many Allen Cell Types files carry
    dozens of axon fragments as separate roots); the number of dropped samples is ``SWC.n_skipped`` (also
    ``SWC.metadata["dropped_samples"]``) and the number of dropped pieces ``SWC.metadata["dropped_fragments"]``. By
    default several roots are an error. A cycle of parent links is an error whatever ``drop_fragments`` says (its
    samples hang from no root, so they are not a fragment).
    Raises :class:`SWCError` (file, line, reason) for malformed input (see the module docstring) and
    ``FileNotFoundError`` for a missing file.
    """
    path = Path(path)
    return parse_swc(_open_text(path), path=path, drop_fragments=drop_fragments)


def load_swc(path: str | os.PathLike) -> SWC:
    """Read one of the book's cells with the book's policy: :func:`read_swc` with ``drop_fragments=True`` (Allen
    files carry disconnected axon pieces as extra roots; they are dropped and counted in ``n_skipped``). Raises
    :class:`SWCError` for a malformed file (a handful in the mirror: negative radius, no soma)."""
    return read_swc(path, drop_fragments=True)


def file_key(paths) -> list:
    """What a per-file cache of ``paths`` is keyed by: each path with its size and modification time (a changed
    file is read again)."""
    return [[str(p), os.path.getsize(p), int(os.path.getmtime(p))] for p in paths]


def _data_lines(text: str) -> tuple[list[str], list[int]]:
    rows, numbers = [], []
    for i, line in enumerate(text.split("\n"), start=1):
        s = line.split("#", 1)[0].strip()
        if s:
            rows.append(s)
            numbers.append(i)
    return rows, numbers


def _slow_parse(text: str, where) -> tuple[np.ndarray, np.ndarray]:
    """Field-by-field parse that names the first bad line."""
    rows, numbers = _data_lines(text)
    if not rows:
        raise SWCError(where, None, "no data lines (expected lines 'id type x y z radius parent')")
    out = np.empty((len(rows), 7))
    names = ("id", "type", "x", "y", "z", "radius", "parent")
    for k, (s, ln) in enumerate(zip(rows, numbers)):
        fields = s.split()
        if len(fields) != 7:
            raise SWCError(where, ln, f"{len(fields)} fields, expected 7 (id type x y z radius parent)")
        for j, f in enumerate(fields):
            try:
                v = float(f)
            except ValueError:
                raise SWCError(where, ln, f"field {j + 1} ({names[j]}) is {f!r}, not a number") from None
            out[k, j] = v
    return out, np.asarray(numbers)


def parse_swc(text: str, path: str | os.PathLike | None = None, *, drop_fragments: bool = False) -> SWC:
    """Parse and validate SWC ``text`` (see :func:`read_swc`); ``path`` only names the source in errors."""
    where = path if path is not None else "<string>"
    arr, lines = None, None
    try:  # fast path: NumPy's C parser; line numbers are worked out only when needed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(io.StringIO(text), comments="#", ndmin=2, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 7 or arr.shape[0] == 0:
            arr = None
    except Exception:  # any parse problem: the slow path finds and names the line
        arr = None
    if arr is None:
        arr, lines = _slow_parse(text, where)
    n = arr.shape[0]

    def get_lines() -> np.ndarray:
        nonlocal lines
        if lines is None:
            lines = np.asarray(_data_lines(text)[1], dtype=np.int64)
            if len(lines) != n:  # NumPy and we disagree on what a line is: fall back to counting rows
                lines = np.arange(1, n + 1)
        return lines

    def line_of(k: int) -> int:
        return int(get_lines()[k])

    finite = np.isfinite(arr)
    if not finite.all():
        k, j = np.argwhere(~finite)[0]
        names = ("id", "type", "x", "y", "z", "radius", "parent")
        raise SWCError(where, line_of(k), f"field {j + 1} ({names[j]}) is {arr[k, j]}, expected a finite number")
    for j, name in ((0, "id"), (1, "type"), (6, "parent")):
        col = arr[:, j]
        bad = (col != np.round(col)) | (np.abs(col) > 2**53)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise SWCError(where, line_of(k), f"{name} is {float(col[k])!r}, expected an integer")
    ids = arr[:, 0].astype(np.int64)
    types = arr[:, 1].astype(np.int64)
    xyz = np.ascontiguousarray(arr[:, 2:5])
    radius = arr[:, 5].copy()
    pid = arr[:, 6].astype(np.int64)

    neg = radius < 0
    if neg.any():
        k = int(np.flatnonzero(neg)[0])
        raise SWCError(where, line_of(k), f"negative radius {radius[k]} (radii are in um and must be >= 0)")
    order = np.argsort(ids, kind="stable")
    sids = ids[order]
    dup = np.flatnonzero(sids[1:] == sids[:-1])
    if dup.size:
        k2 = int(order[dup[0] + 1])
        k1 = int(order[dup[0]])
        raise SWCError(where, line_of(max(k1, k2)),
                       f"duplicate id {ids[k2]} (first used on line {line_of(min(k1, k2))})")
    roots = np.flatnonzero(pid == -1)
    nonroot = np.flatnonzero(pid != -1)
    pos = np.searchsorted(sids, pid[nonroot])
    pos_c = np.minimum(pos, n - 1)
    missing = sids[pos_c] != pid[nonroot]
    if missing.any():
        k = int(nonroot[np.flatnonzero(missing)[0]])
        raise SWCError(where, line_of(k), f"parent id {pid[k]} of sample {ids[k]} does not exist "
                                          "(expected the id of another sample, or -1 for the root)")
    parent = np.full(n, -1, dtype=np.int64)
    parent[nonroot] = order[pos_c]
    self_loop = parent == np.arange(n)
    if self_loop.any():
        k = int(np.flatnonzero(self_loop)[0])
        raise SWCError(where, line_of(k), f"sample {ids[k]} is its own parent (a cycle)")
    if len(roots) == 0:
        raise SWCError(where, line_of(0), "no root (no sample with parent -1): the parent links form a cycle")
    if len(roots) > 1 and not drop_fragments:
        raise SWCError(where, line_of(int(roots[1])),
                       f"{len(roots)} roots (parent -1): sample {ids[roots[1]]} is a second root after sample "
                       f"{ids[roots[0]]} on line {line_of(int(roots[0]))}; expected one connected tree")

    # Parent-before-child order. Most files are already in it (parent row < own row); else a breadth-first sort.
    root = int(roots[0])
    if len(roots) > 1:
        soma_roots = roots[types[roots] == 1]
        root = int(soma_roots[0]) if len(soma_roots) else root
    n_dropped = 0
    if len(roots) == 1 and root == 0 and np.all(parent[1:] < np.arange(1, n)):
        perm = None
    else:
        # a sample that no root reaches is on a cycle of parent links or hangs from one: an error whatever
        # drop_fragments says (a fragment hangs from a root of its own; a cycle has none)
        from_any_root = _topological_order(parent, roots)
        if len(from_any_root) < n:
            reached = np.zeros(n, bool)
            reached[from_any_root] = True
            k, cycle = _first_cycle(parent, ~reached)
            shown = " -> ".join(str(ids[c]) for c in cycle[:8]) + (" -> ..." if len(cycle) > 8 else f" -> {ids[k]}")
            raise SWCError(where, line_of(k), f"sample {ids[k]} is on a cycle of parent links ({shown}); "
                                              f"{int((~reached).sum())} sample(s) on it or hanging from it cannot "
                                              "be reached from a root")
        perm = from_any_root if len(roots) == 1 else _topological_order(parent, np.array([root]))
        kept = np.sort(perm)  # keep the file's own order (depth-first in most files) where it is parent-first
        if kept[0] == root and np.all(parent[kept[1:]] < kept[1:]):
            perm = kept
        n_dropped = n - len(perm)  # only with drop_fragments: the samples of the other roots' trees
    if not (types[perm] == 1 if perm is not None else types == 1).any():
        raise SWCError(where, None, "no soma: no sample has type 1 (expected at least one soma sample)")
    line_arr = lines
    if perm is not None:
        inv = np.full(n, -1, dtype=np.int64)
        inv[perm] = np.arange(len(perm))
        ids, types, xyz, radius = ids[perm], types[perm], xyz[perm], radius[perm]
        parent = np.where(parent[perm] >= 0, inv[np.maximum(parent[perm], 0)], -1)
        line_arr = get_lines()[perm]
    meta = {"header": [ln for ln in text[:4000].split("\n")[:40] if ln.lstrip().startswith("#")]}
    if n_dropped:
        meta["dropped_fragments"] = int(len(roots) - 1)
        meta["dropped_samples"] = int(n_dropped)
    return SWC(ids=ids, types=types, xyz=xyz, radius=radius, parent=parent,
               path=Path(path) if path is not None else None, lines=line_arr, n_skipped=n_dropped, metadata=meta)


def _topological_order(parent: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """Breadth-first order from ``roots`` (an array of start rows, in that order) over the child lists of
    ``parent``; rows on a cycle, or hanging from one, are never reached."""
    n = len(parent)
    roots = np.atleast_1d(np.asarray(roots, dtype=np.int64))
    has_p = parent >= 0
    kids_sorted = np.argsort(parent[has_p], kind="stable")
    child_idx = np.flatnonzero(has_p)[kids_sorted]
    starts = np.searchsorted(parent[has_p][kids_sorted], np.arange(n + 1))
    order = [roots]
    frontier = roots
    seen = np.zeros(n, bool)
    seen[roots] = True
    while frontier.size:
        a, b = starts[frontier], starts[frontier + 1]
        cnt = b - a
        if cnt.sum() == 0:
            break
        # all children of the frontier at once: concatenated ranges child_idx[a_i:b_i]
        offs = np.repeat(a - np.r_[0, np.cumsum(cnt)[:-1]], cnt) + np.arange(cnt.sum())
        nxt = child_idx[offs]
        nxt = nxt[~seen[nxt]]
        seen[nxt] = True
        order.append(nxt)
        frontier = nxt
    order = np.concatenate(order)
    return np.asarray(order, dtype=np.int64)


def _first_cycle(parent: np.ndarray, unreached: np.ndarray) -> tuple[int, list[int]]:
    """The cycle of parent links that holds the first row (in file order) on any cycle, among the ``unreached`` rows
    (whose parents are all unreached too): ``(row, [row, parent, grandparent, ...])`` up to the row again."""
    jump = parent.copy()
    rows = np.flatnonzero(unreached)
    for _ in range(int(np.ceil(np.log2(max(len(rows), 2)))) + 1):  # 2^k >= n steps up: every row lands on a cycle
        jump[rows] = jump[jump[rows]]
    k = int(jump[rows].min())
    cycle, c = [k], int(parent[k])
    while c != k:
        cycle.append(c)
        c = int(parent[c])
    return k, cycle


def write_swc(swc: SWC, path: str | os.PathLike | None = None, *, renumber: bool = True) -> str:
    """Write ``swc`` as SWC text (ids renumbered 1..n in row order when ``renumber``); return the text and, if
    ``path`` is given, write it there (gzip-compressed when the name ends in ``.gz``)."""
    n = len(swc)
    ids = np.arange(1, n + 1) if renumber else swc.ids
    pid = np.where(swc.parent >= 0, ids[np.maximum(swc.parent, 0)], -1)
    buf = io.StringIO()
    buf.write("# written by neuro_lib.morphology.io.write_swc\n")
    for i in range(n):
        x, y, z = swc.xyz[i]
        buf.write(f"{ids[i]} {swc.types[i]} {x:.4f} {y:.4f} {z:.4f} {swc.radius[i]:.4f} {pid[i]}\n")
    text = buf.getvalue()
    if path is not None:
        path = Path(path)
        if path.suffix == ".gz":
            with gzip.open(path, "wt") as fh:
                fh.write(text)
        else:
            path.write_text(text)
    return text


def to_neurom(swc: SWC | str | os.PathLike, *, allow_unifurcated: bool = True):
    """A NeuroM ``Morphology`` (MorphIO underneath) for ``swc`` (an :class:`SWC` or a path).

    MorphIO recognises NeuroMorpho's 3-point soma (three type-1 samples: the centre and two points at +-r along one
    axis, the standard of CNG files; its surface is that of a sphere of radius r) and single-point and contour
    somata. ``allow_unifurcated`` passes ``morphio.Option.allow_unifurcated_section_change``, needed by a few
    NeuroMorpho and Allen files whose type changes along an unbranched section. The object is validated first by
    :func:`read_swc`, so malformed input raises :class:`SWCError` rather than a MorphIO error.
    """
    import morphio
    import neurom

    if not isinstance(swc, SWC):
        swc = read_swc(swc)
    # MorphIO prints (not warns) about 3-point somata that are not exactly +-r along one axis; those are common
    # in NeuroMorpho files and handled, so the message is silenced
    morphio.set_ignored_warning(morphio.Warning.soma_non_conform, True)
    opts = morphio.Option.allow_unifurcated_section_change if allow_unifurcated else morphio.Option.no_modifier
    fd, tmp = tempfile.mkstemp(suffix=".swc", prefix="nl_")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(write_swc(swc))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = morphio.Morphology(tmp, options=opts)
        return neurom.load_morphology(m)
    except morphio.MorphioError as err:
        raise SWCError(swc.path or "<SWC>", None, f"MorphIO refused the tree: {str(err).strip()[:300]}") from None
    finally:
        os.unlink(tmp)


@dataclass
class LoadReport:
    """What :func:`load_directory` loaded and skipped: ``cells`` {path: SWC}, ``skipped`` {path: reason}."""

    cells: dict
    skipped: dict

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        return f"{len(self.cells)} loaded, {self.n_skipped} skipped"


def load_directory(path: str | os.PathLike | Iterable, on_error: str = "raise",
                   pattern: tuple[str, ...] = ("*.swc", "*.SWC", "*.swc.gz")) -> LoadReport:
    """Read every SWC file under ``path`` (recursively; or an iterable of file paths), sorted by name.

    ``on_error="raise"`` (default) raises the first :class:`SWCError`; ``"skip"`` skips bad files, warns once with
    the count and keeps each file's reason in ``LoadReport.skipped``. Raises ``ValueError`` for another value.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if isinstance(path, (str, os.PathLike)):
        root = Path(path)
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory")
        files = sorted({p for pat in pattern for p in root.rglob(pat)})
    else:
        files = [Path(p) for p in path]
    cells, skipped = {}, {}
    for f in files:
        try:
            cells[f] = read_swc(f)
        except SWCError as err:
            if on_error == "raise":
                raise
            skipped[f] = str(err)
    if skipped:
        reasons = "; ".join(list(skipped.values())[:3])
        warnings.warn(f"load_directory: skipped {len(skipped)} of {len(files)} files ({reasons}"
                      f"{' ...' if len(skipped) > 3 else ''})", stacklevel=2)
    return LoadReport(cells, skipped)
