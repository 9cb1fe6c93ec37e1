"""What the bridge counts, as its Prometheus metrics. With ``metrics.enabled`` off nothing is
counted and prometheus_client is never imported (it and what it loads cost about 1.5 MB);
with it on, bridge/prometheus_metrics.py counts into a registry of the bridge's own (the
composition root, bridge/app.py, picks which).

Every label value comes from a small fixed set (a direction, a kind, a reason, an API method, a
path template): never a room, a user or a message's text, which would make the series grow
without bound.
"""

from __future__ import annotations

import re
from typing import Literal

Direction = Literal["matrix_to_remote", "remote_to_matrix"]
MATRIX_TO_REMOTE: Direction = "matrix_to_remote"
REMOTE_TO_MATRIX: Direction = "remote_to_matrix"

# What crossed: the kinds the handlers count.
MessageKind = Literal["text", "file", "location", "poll", "edit", "reaction", "redaction"]

# A network API method as a label: a name, nothing else (no token, no file path).
_METHOD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def method_label(name: str) -> str:
    return name if _METHOD_NAME.match(name) else "other"


class BridgeMetrics:
    """The metrics switched off: every count is dropped."""

    # Messages.

    def bridged(self, direction: Direction, kind: MessageKind) -> None:
        pass

    def failed(self, direction: Direction, reason: str) -> None:
        """``reason``: one of a few words (see portals/delivery.py, failure_reason)."""

    def retried(self, direction: Direction, reason: str) -> None:
        pass

    def waited(self, direction: Direction, seconds: float) -> None:
        pass

    def transaction(self, events: int) -> None:
        pass

    # API calls.

    def matrix_call(self, method: str, endpoint: str, seconds: float, status: int | None) -> None:
        """``endpoint``: a path template (see matrix_endpoint); ``status`` None: no answer."""

    def remote_call(self, method: str, seconds: float, error: str | None = None) -> None:
        """``error``: an HTTP status ("429" counts as a flood limit), timeout or connection."""

    # The gauges, read from the database at each scrape.

    def counts(self, portals: int, ghosts: int, linked_users: int) -> None:
        pass

    def queue_depth(self, direction: Direction, events: int) -> None:
        pass
