"""Run profiles of the book's notebooks: ``smoke`` (tests: tiny subsets, one epoch), ``cpu`` (the default: the whole
book on a 2-core laptop in well under an hour, on real data) and ``gpu`` (the papers' scale)."""
from __future__ import annotations

PROFILES = ("smoke", "cpu", "gpu")

__all__ = ["PROFILES", "select"]


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
