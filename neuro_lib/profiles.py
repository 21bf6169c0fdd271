"""Run profiles of the book's notebooks: ``smoke`` (tests: tiny subsets, one epoch), ``cpu`` (the default: the whole
book on a 2-core laptop in well under an hour, on real data) and ``gpu`` (the papers' scale)."""
from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("smoke", "cpu", "gpu")

__all__ = ["PROFILES", "select", "settings", "Runtime", "runtime", "pick_models"]


def select(profile: str, **settings: dict) -> dict:
    """Return ``settings[profile]`` merged over ``settings.get("cpu", {})``.

    Each keyword is a profile name mapping to a dict of knobs, e.g.
    ``select(profile, smoke=dict(epochs=1), cpu=dict(epochs=200), gpu=dict(epochs=500))``.
    Raises ``ValueError`` naming the known profiles for an unknown one.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    unknown = set(settings) - set(PROFILES)
    if unknown:
        raise ValueError(f"settings for unknown profiles {sorted(unknown)}")
    out = dict(settings.get("cpu", {}))
    out.update(settings.get(profile, {}))
    return out


def settings(profile: str, table: dict, overrides: dict, *, ints=(), what: str = "") -> dict:
    """A chapter's settings: :func:`select` of ``profile`` from ``table`` (profile name -> dict of knobs), then every
    value of ``overrides`` that is not ``None`` (a notebook parameter left at ``None`` keeps the profile's value),
    then the keys in ``ints`` cast to ``int``.

    Raises ``ValueError`` for an unknown profile, or for an override whose key is not in the table (the message names
    ``what`` settings they are and the known keys).
    """
    cfg = select(profile, **table)
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"unknown {what} setting(s) {sorted(unknown)}; expected some of {sorted(cfg)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    for k in ints:
        cfg[k] = int(cfg[k])
    return cfg


@dataclass(frozen=True)
class Runtime:
    """Where a page's networks run: ``device`` (``"cpu"`` or ``"cuda"``), ``threads`` (torch CPU threads, fixed for
    the whole run so that a rerun on the same machine gives the same numbers), ``profile``."""

    profile: str
    device: str
    threads: int

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")


def runtime(profile: str, device: str | None = "auto", threads: int | None = None, *, default_threads: int = 1
            ) -> Runtime:
    """Resolve a page's ``device`` and ``threads`` parameters once, the same way on every page.

    ``device``: ``"auto"``/``None`` is CUDA when torch sees a GPU, else CPU; ``"cuda"`` without a GPU raises
    ``RuntimeError``. ``threads``: ``None`` takes ``default_threads`` (the chapter's profile table says how many its
    models run fastest with); the value is applied with ``torch.set_num_threads`` (and ``set_num_interop_threads``
    when still possible) and to the OpenMP and BLAS thread pools of NumPy, SciPy and scikit-learn (threadpoolctl),
    for the rest of the process: a t-SNE or a histogram gradient boosting with two OpenMP threads on a 2-core machine
    that is busy elsewhere ran 7-15 times slower than with one (120 cells, 0.8 s against 5.6-12 s, measured here).
    Raises ``ValueError`` for an unknown profile or ``threads < 1``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    n = int(default_threads if threads is None else threads)
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    from .training import resolve_device

    dev = str(resolve_device(device))
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set, or parallel work has started: the intra-op count is what matters here
        pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)  # not as a context: the limit holds for the page's whole run
    return Runtime(profile, dev, n)


def pick_models(models: dict, names=None) -> dict:
    """The chapter's ``models`` (name -> estimator) restricted to ``names`` (a profile's model list, in that order;
    None: all). Raises ``ValueError`` naming the unknown names and the chapter's models."""
    if names is None:
        return models
    unknown = [n for n in names if n not in models]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; the chapter has {list(models)}")
    return {n: models[n] for n in names}
