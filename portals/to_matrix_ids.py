"""How the bridge marks what it sends into Matrix: which bridge sent it (so that its own events
coming back are told from another bridge's in the same room), and with which transaction (so
that a send whose answer was lost can be recognised instead of made twice)."""

from __future__ import annotations

import hashlib
from typing import Any

from bridge.network.ids import PortalKey

# The send's transaction id, in the content of every message, edit and reaction the bridge
# sends: how a send made before is found again (to_matrix.py).
SOURCE_KEY = "net.telegram_bridge.txn_id"
# The bridge that sent it (bridge_name): with double puppeting the sender is a real Matrix
# user, and only this tells whose doing the event was.
BRIDGE_KEY = "net.telegram_bridge.bridge"


def bridge_name(registration_id: str, domain: str) -> str:
    """The bridge's name in its events: its registration's id, which the homeserver keeps unique
    among its appservices, qualified by the homeserver, since two homeservers' bridges (two
    instances of this one, say, both with the default id) may share a room."""
    return f"{registration_id}:{domain}"


def mark(content: dict[str, Any], bridge: str, txn_id: str | None = None) -> dict[str, Any]:
    """``content`` marked as sent by ``bridge`` (in place, and returned)."""
    content[BRIDGE_KEY] = bridge
    if txn_id is not None:
        content[SOURCE_KEY] = txn_id
    return content


def carries_marker(event: dict[str, Any], bridge: str) -> bool:
    """Whether an event is one ``bridge`` put into Matrix, by its content marker: so also when
    it was sent as a real Matrix user (double puppeting), not only as a ghost. Another bridge's
    marker is not this one's: what it sent is a user's doing, to be carried.

    Releases before the bridge's name was in the marker wrote the transaction id alone. Such an
    event counts as this bridge's own: after an upgrade its own double-puppeted messages of the
    last hour come back in the catch-up's walk through the room (catch_up.py) or in a
    transaction the homeserver sends again, and taking them for a user's would post each into
    the remote chat a second time. The cost is that another bridge still on such a release
    keeps having its double-puppeted messages ignored here, as before, until it is upgraded;
    no event without the name is made any more, so the rule only concerns old events and old
    bridges.
    """
    content = event.get("content")
    if not isinstance(content, dict):
        return False
    if BRIDGE_KEY in content:
        name: object = content[BRIDGE_KEY]
        return name == bridge
    return SOURCE_KEY in content


def transaction_id(portal: PortalKey, message_id: str, part_id: str) -> str:
    """The same remote message part always gets the same Matrix transaction id, so a resend
    after a crash is recognised by the homeserver instead of posted twice."""
    digest = hashlib.sha256(f"{portal}|{message_id}|{part_id}".encode()).hexdigest()[:32]
    return f"bridge-{digest}"
