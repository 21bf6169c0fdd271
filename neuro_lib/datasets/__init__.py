"""Every dataset the book reads, from its public source, verified: the registry and the fetch layer.

- :mod:`.registry`: :data:`REGISTRY` (key, sha256, size, source, licence, citation) and the upstream manifest
  (``data/upstream.csv.xz``) that archives are assembled from; :func:`transform_counts`.
- :mod:`.fetching`: :func:`fetch` (a file) and :func:`fetch_archive` (an archive's unpacked folder): mirror
  (``NEURO_LIB_DATA``), then cache (``NEURO_LIB_CACHE``), then the public source; :func:`fetch_all`.
- :mod:`.upstream`: resumable, parallel, verified downloads and the assembly of an archive from its rows.
- :mod:`.transforms`: ``crlf_to_lf``, the format converters (Neurolucida XML/ASC, NEURON hoc, dbbs SWC codes),
  ``temporal_mean_3``.

``python -m neuro_lib.datasets list | fetch KEY... | fetch-all [--source mirror|upstream|auto]``.
"""
from ..cache import cache_dir
from .errors import ChecksumError, DataNotAvailableError, sha256sum
from .fetching import archive_info, checksums, fetch, fetch_all, fetch_archive
from .registry import REGISTRY, DataFile, transform_counts

__all__ = [
    "DataFile",
    "REGISTRY",
    "ChecksumError",
    "DataNotAvailableError",
    "fetch",
    "fetch_archive",
    "fetch_all",
    "sha256sum",
    "cache_dir",
    "checksums",
    "transform_counts",
    "archive_info",
]
