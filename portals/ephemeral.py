"""What the core does with a transaction's ephemeral events (typing, read receipts): each relay
takes them as they come, never stored and never queued behind messages; losing one is
harmless."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class EphemeralRelay(Protocol):
    def handle(self, ephemeral: Iterable[dict[str, Any]]) -> None:
        """Take a transaction's ephemeral events; must not wait (the transaction is answered
        after it)."""

    async def stop(self) -> None:
        """Let go of what is still in flight."""
