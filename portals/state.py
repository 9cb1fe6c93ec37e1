"""One portal as its handlers see it: which chat and room it is, its record, and the little it
remembers between events. The portal (portal.py) owns it and hands it to each handler as an
argument; handlers get the services they use when they are built (handlers.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bridge.db.models import Portal as PortalRecord
from bridge.network.ids import PortalKey

# Tells the Matrix sender of the event in hand why it did not cross (a notice in the room).
Notify = Callable[[str], Awaitable[None]]


@dataclass(eq=False)
class PortalState:
    id: int
    key: PortalKey
    # The name of the portal's lane, under which its waiting events are stored.
    lane: str
    log: logging.Logger
    loaded: PortalRecord | None = None
    # Events handled ahead of their place in the lane (catching up a gap in the homeserver's
    # deliveries): the lane skips them when their turn comes.
    caught_up: set[str] = field(default_factory=set)
    # The inbox id of the event from which this room's timeline was last looked through for
    # undelivered events (bridge/matrix/gaps.py).
    checked_at: int = 0
    # The inbox id of the event the room's own lane was handling when the room became this
    # portal's (the invite or command that bound it): it and what came before are that lane's,
    # never events of this portal's left unhandled.
    room_lane_until: int = 0
    # Senders told that their messages are not relayed (bridge.relay.enabled): once a run.
    told_relay_off: set[str] = field(default_factory=set)
    # Senders told that their encrypted messages cannot be bridged: once a run.
    told_encrypted: set[str] = field(default_factory=set)

    @property
    def record(self) -> PortalRecord:
        if self.loaded is None:
            raise RuntimeError(f"portal {self.id} is not loaded")
        return self.loaded

    @property
    def room_id(self) -> str | None:
        return self.record.mxid
