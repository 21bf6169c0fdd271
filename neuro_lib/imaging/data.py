"""The book's imaging data: the Neurofinder movie from the registry, and its summary images cached on disk."""
from __future__ import annotations

import numpy as np

from ..datasets import REGISTRY, cache_dir, fetch_archive
from .neurofinder import NeurofinderData, load_neurofinder
from .summary import summary_images

__all__ = ["DATA_KEY", "FRAME_RATE_HZ", "SOURCE_FRAME_RATE_HZ", "FRAMES_PER_BIN", "GCAMP6S_TAU_S", "load_book_movie", "cached_summary"]

DATA_KEY = "neurofinder/neurofinder_vs1_600frames_bin3.tar.xz"
#: Frame rate of the source recording (Hz): Neurofinder 00.xx (Peron et al. 2015) was imaged at ~7 Hz.
SOURCE_FRAME_RATE_HZ = 7.0
#: Source frames averaged into one frame of the book's movie (``neurofinder/PROVENANCE.txt``: ``temporal_mean_3``).
FRAMES_PER_BIN = 3
#: Frame rate of the book's movie (Hz): 7 Hz / 3 = ~2.33 Hz; 200 frames cover ~86 s.
FRAME_RATE_HZ = SOURCE_FRAME_RATE_HZ / FRAMES_PER_BIN
#: Decay time of GCaMP6s (s), suite2p's ``tau`` (its documentation: 1.25-1.5 for GCaMP6s; Chen et al. 2013).
GCAMP6S_TAU_S = 1.25


def load_book_movie(key: str = DATA_KEY) -> NeurofinderData:
    """Fetch (sha256-checked) and unpack the registry archive ``key`` and load it with :func:`load_neurofinder`."""
    return load_neurofinder(fetch_archive(key))


def cached_summary(data: NeurofinderData, key: str = DATA_KEY) -> dict[str, np.ndarray]:
    """:func:`summary_images` of ``data.movie`` (normalised), cached in ``<cache>/imaging/`` under the archive's
    sha256 and the number of frames, so notebooks share it and each can recompute it alone."""
    tag = f"{REGISTRY[key].sha256[:12]}-{data.movie.shape[0]}f"
    path = cache_dir() / "imaging" / f"summary-{tag}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    out = summary_images(data.movie)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    return out
