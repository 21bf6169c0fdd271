"""Neurofinder-format two-photon movies: frames, ROIs, label images and masks.

The Neurofinder benchmark (CodeNeuro; used by Seong & Park and by Peron et al. 2015's S1 data) stores one dataset as::

    images/image00000.tiff, image00001.tiff, ...   one 2-D TIFF per frame, all the same shape and dtype
    regions/regions.json                            [{"id": ..., "coordinates": [[row, col], ...]}, ...]

ROI coordinates are (row, col) pixel indices (checked on the book's data by overlay on the correlation image).
:func:`load_neurofinder` reads both with :mod:`tifffile` and checks them; every problem raises
:class:`NeurofinderError`, which names the file, the item (frame number or ROI index) and what was expected.
"""
from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence

import numpy as np

__all__ = ["NeurofinderError", "NeurofinderData", "load_neurofinder", "load_regions", "read_regions_doc", "parse_roi",
           "rois_to_labels", "rois_to_masks", "roi_centroids", "write_neurofinder"]

_FRAME_RE = re.compile(r"^image(\d+)\.tiff?$", re.IGNORECASE)


class NeurofinderError(ValueError):
    """A Neurofinder folder that does not follow the format.

    Attributes: ``path`` (the file or folder), ``item`` (frame number, ROI index, or ``None``), ``reason``.
    """

    def __init__(self, path, reason: str, item=None):
        self.path, self.reason, self.item = Path(path), reason, item
        where = f"{path}" + (f" [{item}]" if item is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass
class NeurofinderData:
    """A loaded Neurofinder dataset.

    ``movie``: (frames, rows, cols) array of the frames' dtype (uint16 for the book's data);
    ``rois``: one (n_pixels, 2) int array of (row, col) per ROI; ``roi_ids``: the ``id`` of each ROI (or its index);
    ``metadata``: source folder, frame files, counts (``n_duplicate_pixels`` removed from ROIs).
    """

    movie: np.ndarray
    rois: list[np.ndarray]
    roi_ids: list
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.movie.shape[1:])

    def labels(self) -> np.ndarray:
        """Label image (rows, cols), 0 = background, i + 1 = ROI i (see :func:`rois_to_labels`)."""
        return rois_to_labels(self.rois, self.shape)

    def masks(self) -> np.ndarray:
        """Boolean masks (n_rois, rows, cols) (see :func:`rois_to_masks`)."""
        return rois_to_masks(self.rois, self.shape)

    def centroids(self) -> np.ndarray:
        """(n_rois, 2) float array of ROI centres (row, col) in pixels: the mean of each ROI's coordinates."""
        return roi_centroids(self.rois)


def _frame_files(images: Path) -> list[tuple[int, Path]]:
    if not images.is_dir():
        raise NeurofinderError(images, "no images/ folder (expected images/imageNNNNN.tiff)")
    found = []
    for p in images.iterdir():
        m = _FRAME_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    if not found:
        raise NeurofinderError(images, "no frame files named imageNNNNN.tiff")
    found.sort()
    numbers = [n for n, _ in found]
    expected = list(range(numbers[0], numbers[0] + len(numbers)))
    if numbers != expected:
        missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        raise NeurofinderError(images, f"frame numbers are not consecutive: missing {missing[:10]}"
                               + (" ..." if len(missing) > 10 else ""), item=missing[0] if missing else None)
    return found


def read_regions_doc(path: str | Path) -> list:
    """The raw list of a ``regions.json`` file. Raises :class:`NeurofinderError` naming the file if it is missing,
    not valid JSON (with the line and column) or not a list."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise NeurofinderError(path, "no regions file (expected regions/regions.json)") from None
    except json.JSONDecodeError as err:
        raise NeurofinderError(path, f"not valid JSON: {err}") from None
    if not isinstance(doc, list):
        raise NeurofinderError(path, f"expected a JSON list of ROIs, got {type(doc).__name__}")
    return doc


def load_regions(path: str | Path, shape: tuple[int, int] | None = None) -> tuple[list[np.ndarray], list, int]:
    """Read a Neurofinder ``regions.json``: returns ``(rois, ids, n_duplicate_pixels)``.

    Each ROI becomes a (n_pixels, 2) int64 array of unique (row, col). With ``shape`` (rows, cols), a coordinate
    outside the image raises. Raises :class:`NeurofinderError` for a file that is not a JSON list, an ROI without
    ``coordinates``, an empty ROI, a coordinate that is not a (row, col) pair of integers, or one out of the image.
    Duplicate pixels inside one ROI are dropped and counted.
    """
    path = Path(path)
    doc = read_regions_doc(path)
    rois, ids, dup = [], [], 0
    for i, entry in enumerate(doc):
        coords = parse_roi(entry, i, path, shape, unique=False)
        uniq = np.unique(coords, axis=0)
        dup += len(coords) - len(uniq)
        rois.append(uniq)
        ids.append(entry.get("id", i))
    return rois, ids, dup


def parse_roi(entry, i: int, path: str | Path, shape: tuple[int, int] | None = None, *, unique: bool = True
              ) -> np.ndarray:
    """One ROI of a ``regions.json`` list: ``entry`` (``{"id": ..., "coordinates": [[row, col], ...]}``) at position
    ``i`` of the file ``path``. Returns its (n_pixels, 2) int64 (row, col) pixels (duplicates removed if
    ``unique``). Raises :class:`NeurofinderError` naming ``path`` and ``ROI i, id ...`` for an entry without
    ``coordinates``, an empty ROI, a coordinate that is not a (row, col) pair of integers, or (with ``shape``) one
    outside the image."""
    rid = entry.get("id", i) if isinstance(entry, dict) else i
    item = f"ROI {i}, id {rid}"
    if not isinstance(entry, dict) or "coordinates" not in entry:
        raise NeurofinderError(path, "ROI has no 'coordinates' list", item=item)
    try:
        coords = np.asarray(entry["coordinates"])
    except ValueError:  # ragged lists
        raise NeurofinderError(path, "coordinates must be a list of [row, col] pairs", item=item) from None
    if coords.size == 0:
        raise NeurofinderError(path, "empty ROI (no pixels)", item=item)
    if coords.ndim != 2 or coords.shape[1] != 2 or not np.issubdtype(coords.dtype, np.number):
        raise NeurofinderError(path, f"coordinates must be a list of [row, col] pairs, got shape {coords.shape}",
                               item=item)
    if not np.all(np.equal(np.mod(coords, 1), 0)):
        raise NeurofinderError(path, "coordinates must be integer pixel indices", item=item)
    coords = coords.astype(np.int64)
    if shape is not None:
        bad = (coords[:, 0] < 0) | (coords[:, 0] >= shape[0]) | (coords[:, 1] < 0) | (coords[:, 1] >= shape[1])
        if bad.any():
            r, c = coords[np.argmax(bad)]
            raise NeurofinderError(path, f"ROI pixel (row {r}, col {c}) lies outside the {shape[0]}x{shape[1]} "
                                   f"image ({int(bad.sum())} such pixels)", item=item)
    return np.unique(coords, axis=0) if unique else coords


def load_neurofinder(folder: str | Path, *, frames: slice | None = None, dtype=None, regions: bool = True
                     ) -> NeurofinderData:
    """Load a Neurofinder dataset folder (``images/`` and ``regions/regions.json``).

    Parameters
    ----------
    folder : the dataset folder.
    frames : optional slice of frame positions to read (e.g. ``slice(0, 50)``), default all.
    dtype : optional dtype to cast the movie to (default: keep the files' dtype, uint16 here).
    regions : read ``regions/regions.json`` (default); ``False`` loads the frames only (no ROIs).

    Returns a :class:`NeurofinderData` with ``movie`` of shape (frames, rows, cols).

    Raises :class:`NeurofinderError` naming the file for: no images folder or no frames, non-consecutive frame
    numbers (the missing numbers), a frame that is not 2-D or differs in shape or dtype from the first, and every
    ROI problem of :func:`load_regions` (outside the image, empty, malformed).
    """
    import tifffile

    folder = Path(folder)
    files = _frame_files(folder / "images")
    if frames is not None:
        files = files[frames]
    first = tifffile.imread(files[0][1])
    if first.ndim != 2:
        raise NeurofinderError(files[0][1], f"expected a 2-D frame, got shape {first.shape}", item=files[0][0])
    movie = np.empty((len(files), *first.shape), dtype=first.dtype)
    for k, (num, p) in enumerate(files):
        img = first if k == 0 else tifffile.imread(p)
        if img.shape != first.shape or img.dtype != first.dtype:
            raise NeurofinderError(p, f"frame has shape {img.shape} and dtype {img.dtype}, expected {first.shape} "
                                   f"and {first.dtype} like frame {files[0][0]}", item=num)
        movie[k] = img
    rois, ids, dup = load_regions(folder / "regions" / "regions.json", first.shape) if regions else ([], [], 0)
    if dup:
        warnings.warn(f"{folder}: dropped {dup} duplicate pixel(s) inside ROIs", stacklevel=2)
    if dtype is not None:
        movie = movie.astype(dtype)
    meta = {"folder": str(folder), "n_frames": len(files), "first_frame": files[0][0], "n_rois": len(rois),
            "n_duplicate_pixels": dup}
    return NeurofinderData(movie, rois, ids, meta)


def rois_to_labels(rois: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Label image (rows, cols) int32: 0 background, ``i + 1`` for the pixels of ROI ``i``.

    Where ROIs overlap the later ROI wins (the book's data has a handful of shared pixels); use
    :func:`rois_to_masks` to keep every ROI whole.
    """
    lab = np.zeros(shape, np.int32)
    for i, r in enumerate(rois):
        lab[r[:, 0], r[:, 1]] = i + 1
    return lab


def rois_to_masks(rois: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Boolean masks (n_rois, rows, cols), one per ROI."""
    out = np.zeros((len(rois), *shape), bool)
    for i, r in enumerate(rois):
        out[i, r[:, 0], r[:, 1]] = True
    return out


def roi_centroids(rois: Sequence[np.ndarray]) -> np.ndarray:
    """(n_rois, 2) centres (row, col) in pixels: the mean coordinate of each ROI (Neurofinder's ``center``)."""
    if len(rois) == 0:
        return np.zeros((0, 2))
    return np.stack([np.asarray(r, float).mean(axis=0) for r in rois])


def write_neurofinder(folder: str | Path, movie: np.ndarray, rois: Sequence[np.ndarray], ids: Sequence | None = None
                      ) -> Path:
    """Write ``movie`` (frames, rows, cols) and ``rois`` ((n, 2) row/col arrays) as a Neurofinder folder (tests,
    and users converting their own data). Returns the folder."""
    import tifffile

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "regions").mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(movie):
        tifffile.imwrite(folder / "images" / f"image{k:05d}.tiff", frame)
    ids = list(ids) if ids is not None else list(range(len(rois)))
    doc = [{"id": i, "coordinates": np.asarray(r).tolist()} for i, r in zip(ids, rois)]
    (folder / "regions" / "regions.json").write_text(json.dumps(doc))
    return folder
