"""Run a function over a list of files in chunks, on joblib workers: the one loop behind the chapter's per-file
passes (the index of the reconstructions, the projections, the across-labs features, the augmented copies and the
TMD persistence images). Kept out of the modules whose source keys their caches: how the work is split does not
change the numbers."""
from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["map_chunks"]


def map_chunks(fn: Callable, items: Sequence, *args, n_jobs: int = 2, size: int = 50, desc: str = "",
               progress: bool = False) -> list:
    """``[fn(chunk, *args) for chunk in chunks of `size` items]``, in order: in this process when ``n_jobs`` is 1
    or there is a single chunk, else on ``n_jobs`` joblib workers (a chunk per task keeps the overhead of sending
    each file low). ``progress``: a tqdm bar over the chunks, labelled ``desc``. Returns the list of ``fn``'s results,
    one per chunk (empty for no items). Raises ``ValueError`` for ``size`` < 1."""
    from tqdm.auto import tqdm

    if size < 1:
        raise ValueError(f"map_chunks: size must be at least 1, got {size}")
    items = list(items)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    bar = tqdm(chunks, desc=desc, disable=not progress)
    if n_jobs == 1 or len(chunks) <= 1:
        return [fn(c, *args) for c in bar]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(fn)(c, *args) for c in bar)
