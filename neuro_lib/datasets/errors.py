"""The fetch layer's two errors and its file hash."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple
from collections.abc import Sequence

__all__ = ["ChecksumError", "DataNotAvailableError", "Mismatch", "sha256sum", "MIRROR_HINT"]

#: what every "could not get it" message ends with
MIRROR_HINT = ("With no internet (or to skip the downloads), point NEURO_LIB_DATA at a copy of the data mirror, e.g. "
               "`NEURO_LIB_DATA=/path/to/shared/data make book`; `python -m neuro_lib.datasets list` shows every "
               "file, its source and sha256.")
_SHOW = 20


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class Mismatch(NamedTuple):
    """One failed check: ``what`` was checked (``"download of"``, ``"conversion of"``, ...), ``where`` (a path, a
    URL, or ``"<url> -> <member>"``), the ``expected`` and ``actual`` sha256."""

    what: str
    where: str
    expected: str
    actual: str

    def line(self) -> str:
        return f"{self.what} {self.where} has sha256 {self.actual}, expected {self.expected}"


class ChecksumError(ValueError):
    """A file (or a transform's result) whose sha256 differs from the registry's or the manifest's.

    Attributes: ``path`` (the file or URL refused), ``expected`` and ``actual`` (hex digests) of the first
    mismatch, and ``mismatches`` (every :class:`Mismatch`, when several were found together)."""

    def __init__(self, path, expected: str, actual: str, what: str = "file", mismatches: Sequence[Mismatch] = ()):
        self.path, self.expected, self.actual = path if isinstance(path, str) and "://" in path else Path(path), \
            expected, actual
        self.mismatches = list(mismatches) or [Mismatch(what, str(path), expected, actual)]
        lines = [m.line() for m in self.mismatches[:_SHOW]]
        more = len(self.mismatches) - _SHOW
        head = f"{len(self.mismatches)} checksum mismatches:\n  " if len(self.mismatches) > 1 else ""
        super().__init__(head + "\n  ".join(lines) + (f"\n  ... and {more} more" if more > 0 else "")
                         + ": refusing it (corrupted, truncated or a different version)")

    @classmethod
    def many(cls, mismatches: Sequence[Mismatch]) -> ChecksumError:
        first = mismatches[0]
        return cls(first.where, first.expected, first.actual, first.what, mismatches)


class DataNotAvailableError(FileNotFoundError):
    """A registry file that could not be got: no mirror copy, no cached copy, and the upstream download failed
    (or a packed archive asked for with :func:`~neuro_lib.datasets.fetch` where only a mirror holds its bytes).

    ``missing``: ``[(what, why), ...]``, every file that could not be got and why."""

    def __init__(self, message: str, missing: Sequence[tuple[str, str]] = ()):
        self.missing = list(missing)
        super().__init__(message)

    @classmethod
    def for_downloads(cls, key: str, failures, n_files: int) -> DataNotAvailableError:
        """The error for the files of archive ``key`` that could not be downloaded (``failures``: objects with
        ``url``, ``member``, ``why``), grouped by reason, each group with up to 10 of its URLs (3 for files not
        attempted)."""
        groups: dict[str, list] = {}
        for f in failures:
            groups.setdefault(f.why, []).append(f)
        lines = []
        for why, fs in groups.items():
            lines.append(f"{len(fs):,} file(s): {why}")
            show = 3 if why.startswith("not attempted") else 10
            lines += [f"    {f.url}" + (f" ({f.member})" if f.member else "") for f in fs[:show]]
            if len(fs) > show:
                lines.append(f"    ... and {len(fs) - show:,} more")
        msg = (f"{key}: {len(failures):,} of its {n_files:,} upstream files could not be downloaded:\n  "
               + "\n  ".join(lines)
               + ("\nThe files that did download are kept; a rerun fetches only the rest. " if len(failures) < n_files
                  else "\n") + MIRROR_HINT)
        return cls(msg, [(f.url, f.why) for f in failures])
