"""A lane's sources as the metrics' directions, and the queue wait of each event taken."""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.metrics import MATRIX_TO_REMOTE, REMOTE_TO_MATRIX, BridgeMetrics, Direction

from .lanes import Source, StoredItem

DIRECTIONS: dict[Source, Direction] = {"matrix": MATRIX_TO_REMOTE, "remote": REMOTE_TO_MATRIX}


def queue_wait_recorder(metrics: BridgeMetrics) -> Callable[[StoredItem], None]:
    """For a lane's ``on_take``: how long the event waited since it was stored."""

    def taken(item: StoredItem) -> None:
        if item.received_at is not None:
            metrics.waited(DIRECTIONS[item.source], time.time() - item.received_at)

    return taken
