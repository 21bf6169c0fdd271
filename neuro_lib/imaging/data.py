"""The book's imaging data: the Neurofinder movie from the registry, its summary images (cached), the inputs the
networks see, and our earlier numbers on the previous (200 raw frames) movie."""
from __future__ import annotations

import numpy as np

from ..datasets import REGISTRY, fetch_archive
from .neurofinder import NeurofinderData, load_neurofinder
from .summary import SUMMARY_CHANNELS, local_normalise, stack_summary, summary_images

__all__ = ["DATA_KEY", "FRAME_RATE_HZ", "SOURCE_FRAME_RATE_HZ", "FRAMES_PER_BIN", "GCAMP6S_TAU_S", "load_book_movie",
           "cached_summary", "network_input", "patch_image", "earlier_movie_numbers"]

DATA_KEY = "neurofinder/neurofinder_vs1_600frames_bin3.tar.xz"
#: Frame rate of the source recording (Hz): Neurofinder 00.xx (Peron et al. 2015) was imaged at ~7 Hz.
SOURCE_FRAME_RATE_HZ = 7.0
#: Source frames averaged into one frame of the book's movie (``neurofinder/PROVENANCE.txt``: ``temporal_mean_3``).
FRAMES_PER_BIN = 3
#: Frame rate of the book's movie (Hz): 7 Hz / 3 = ~2.33 Hz; 200 frames cover ~86 s.
FRAME_RATE_HZ = SOURCE_FRAME_RATE_HZ / FRAMES_PER_BIN
#: Decay time of GCaMP6s (s), suite2p's ``tau`` (its documentation: 1.25-1.5 for GCaMP6s; Chen et al. 2013).
GCAMP6S_TAU_S = 1.25


def load_book_movie(key: str = DATA_KEY, *, frames: slice | None = None) -> NeurofinderData:
    """Fetch (sha256-checked) and unpack the registry archive ``key`` and load it with :func:`load_neurofinder`
    (``frames``: optional slice of frame positions)."""
    return load_neurofinder(fetch_archive(key), frames=frames)


def cached_summary(data: NeurofinderData, key: str = DATA_KEY) -> dict[str, np.ndarray]:
    """:func:`summary_images` of ``data.movie`` (normalised), cached (:func:`neuro_lib.cache.cached`) under the
    archive's sha256, the frames read and the code of :mod:`.summary`, so the pages share it."""
    from .. import cache

    ck = {"archive": REGISTRY[key].sha256, "n_frames": int(data.movie.shape[0]),
          "first_frame": int(data.metadata.get("first_frame", 0))}
    return cache.cached("imaging/summary", ck, lambda: summary_images(data.movie), name="summary",
                        code=["neuro_lib.imaging.summary"])


def network_input(summary: dict[str, np.ndarray], inputs: str = "local") -> np.ndarray:
    """The U-Net's input, (4, rows, cols) float32: the mean, max, std and correlation images, each locally normalised
    (``inputs="local"``, :func:`~.summary.local_normalise`: the field of view is unevenly bright, and a network
    trained on three quadrants must see the fourth in the same range) or as scaled to [0, 1] on page 1
    (``"global"``). Raises ``ValueError`` for another ``inputs``."""
    if inputs == "local":
        return np.stack([local_normalise(summary[c]) for c in SUMMARY_CHANNELS]).astype(np.float32)
    if inputs == "global":
        return stack_summary(summary)
    raise ValueError(f"inputs must be 'local' or 'global', got {inputs!r}")


def patch_image(summary: dict[str, np.ndarray], inputs: str = "local") -> np.ndarray:
    """The three-channel image patches are cut from, (3, rows, cols) float32 in about [0, 1]: mean, std and
    correlation images as the red, green and blue a ResNet expects, locally normalised and mapped from
    :func:`~.summary.local_normalise`'s [-4/3, 2] to [0, 1] (``"local"``) or as on page 1 (``"global"``)."""
    if inputs == "local":
        return np.stack([(local_normalise(summary[c]) * 3 + 4) / 10 for c in ("mean", "std", "corr")])
    if inputs == "global":
        return stack_summary(summary, ("mean", "std", "corr"))
    raise ValueError(f"inputs must be 'local' or 'global', got {inputs!r}")


def earlier_movie_numbers(root=None) -> dict:
    """Our earlier numbers on the previous movie (the first 200 raw frames, ~29 s), from
    ``data/imaging_earlier_movie.yml``: ``{"commit", "frames", "frame_rate_hz", "duration_s",
    "numbers": {results key: value}}``. Not a rerun (that archive is gone); pages quote them. Raises
    ``FileNotFoundError`` naming the file."""
    import yaml

    from ..results import repo_root

    path = repo_root(root) / "data" / "imaging_earlier_movie.yml"
    if not path.exists():
        raise FileNotFoundError(f"no file {path}")
    return yaml.safe_load(path.read_text())
