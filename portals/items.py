"""What travels through a portal's queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.network.events import RemoteEvent


@dataclass(frozen=True, slots=True)
class MatrixItem:
    """A Matrix event from the inbox (``inbox_id``), marked handled once done."""

    inbox_id: int
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteItem:
    inbox_id: int
    event: RemoteEvent
    # Taken from the inbox after a restart: it may have been sent before the bridge stopped.
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class CallItem:
    """Work that must happen in the portal's order (creating its room); its result or error
    goes to ``done``."""

    run: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


PortalItem = MatrixItem | RemoteItem | CallItem
