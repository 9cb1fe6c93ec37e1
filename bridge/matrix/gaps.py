"""Noticing when the homeserver's deliveries may have left a gap.

Synapse numbers its transactions to an appservice 1, 2, 3, ... A transaction it stranded while
recovering from a failed delivery arrives late, after newer ones; ids restart after a Synapse
restart (on SQLite); and whatever was sent while the bridge was down may come in any order.
Each such irregularity raises ``generation``: a portal whose last look at its room's timeline is
older than that looks again before relaying its next Matrix message. In the steady state (each
id one past the last) nothing is looked up.
"""

from __future__ import annotations

import logging

log = logging.getLogger("bridge.matrix.gaps")


class DeliveryGaps:
    def __init__(self) -> None:
        # Portals start at 0: the first message of each after a start is checked.
        self.generation = 1
        self._last: int | None = None

    def observe(self, txn_id: str) -> None:
        try:
            number = int(txn_id)
        except ValueError:
            # A homeserver that does not count its transactions: every one is a reason.
            self.generation += 1
            return
        last = self._last
        if last is None or number == last + 1:
            self._last = number
            return
        if number == last:
            return  # the same transaction again (the bridge asked for a retry)
        log.info(
            "Transaction %d came after %d: looking for events delivered late or not at all",
            number,
            last,
        )
        self.generation += 1
        self._last = number

    def mark(self) -> None:
        """Another reason to look (the homeserver was unreachable for a while, say)."""
        self.generation += 1
