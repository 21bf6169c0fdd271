"""Run profiles of the book's notebooks: ``smoke`` (tests: tiny subsets, one epoch), ``cpu`` (the default: the whole
book on a 2-core laptop in well under an hour, on real data) and ``gpu`` (the papers' scale)."""
from __future__ import annotations

PROFILES = ("smoke", "cpu", "gpu")

__all__ = ["PROFILES", "select", "settings"]


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
