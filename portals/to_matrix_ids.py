"""How the bridge marks what it sends into Matrix, so that a send whose answer was lost can be
recognised instead of made twice."""

from __future__ import annotations

import hashlib
from typing import Any

from bridge.network.ids import PortalKey

# In the content of every event the bridge sends: also how its own events are recognised.
SOURCE_KEY = "net.telegram_bridge.txn_id"


def carries_marker(event: dict[str, Any]) -> bool:
    """Whether an event is one the bridge put into Matrix, by its content marker: so also
    when it was sent as a real Matrix user (double puppeting), not only as a ghost."""
    content = event.get("content")
    return isinstance(content, dict) and SOURCE_KEY in content


def transaction_id(portal: PortalKey, message_id: str, part_id: str) -> str:
    """The same remote message part always gets the same Matrix transaction id, so a resend
    after a crash is recognised by the homeserver instead of posted twice."""
    digest = hashlib.sha256(f"{portal}|{message_id}|{part_id}".encode()).hexdigest()[:32]
    return f"bridge-{digest}"
