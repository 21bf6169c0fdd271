"""The book's imaging data: the Neurofinder movie from the registry, and its summary images cached on disk."""
from __future__ import annotations

import numpy as np

from ..datasets import REGISTRY, cache_dir, fetch_archive
from .neurofinder import NeurofinderData, load_neurofinder
from .summary import summary_images

__all__ = ["DATA_KEY", "load_book_movie", "cached_summary"]

DATA_KEY = "neurofinder/neurofinder_vs1_first200frames.tar.xz"


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
