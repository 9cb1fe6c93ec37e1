"""Every bound the bridge puts on what it keeps in memory, and a way to shrink them all at once.

The soak run's new senders fill the caches kept per person (20,000 people for the largest)
far more slowly than an hour allows: their resident size keeps rising until they are full,
which tells nothing of what would grow beyond them. With $BENCH_CACHE_SCALE (0.01, say) the
counting bridge shrinks every such bound before the bridge starts, so those caches fill within
the warm-up and a rise after it is something else that grows. The test beside this module
checks that every bounded cache in the bridge's code takes its bound from this table.
"""

from __future__ import annotations

import importlib

# (module, constant): each is read when its cache is made, so setting it before start is enough.
# Kept per person or per message: what a soak's new senders and messages fill, slowly.
SCALED: tuple[tuple[str, str], ...] = (
    ("bridge.ghosts", "MAX_CACHED"),
    ("bridge.matrix.client", "MAX_STATE_USERS"),
    ("bridge.matrix.intents", "MAX_INTENTS"),
    ("portals.context", "MAX_NAMES"),
    ("portals.read_markers", "MAX_WAITING"),
    ("portals.remote_senders", "MAX_INVITED"),
    ("connectors.telegram.direct", "MAX_HINTED"),
    ("connectors.telegram.early", "WAITS"),
    ("connectors.telegram.lookup", "SIGHTED_PER_CHAT"),
    ("connectors.telegram.people", "MAX_PEOPLE"),
)
# Kept per chat or room: a soak's chats fill these while its portals are made, so they are left.
PER_CHAT: tuple[tuple[str, str], ...] = (
    ("bridge.matrix.client", "MAX_STATE_ROOMS"),
    ("portals.context", "MAX_ACTIVE_ROOMS"),
    ("connectors.telegram.early", "CHATS"),
    ("connectors.telegram.lookup", "SIGHTED_CHATS"),
    ("connectors.telegram.pacing", "_MAX_CHATS"),
)
BOUNDS = SCALED + PER_CHAT


def scale(factor: float) -> dict[str, tuple[int, int]]:
    """Multiply every bound kept per person or message by ``factor`` (at least 1 each); what
    changed, as (before, after)."""
    if not 0 < factor <= 1:
        raise ValueError(f"a cache scale is in (0, 1], not {factor}")
    changed: dict[str, tuple[int, int]] = {}
    for module_name, constant in SCALED:
        module = importlib.import_module(module_name)
        before = getattr(module, constant)
        if not isinstance(before, int):
            raise TypeError(f"{module_name}.{constant} is no count: {before!r}")
        after = max(1, int(before * factor))
        setattr(module, constant, after)
        changed[f"{module_name}.{constant}"] = (before, after)
    return changed
