"""Noticing when the homeserver's deliveries may have left a gap.

Synapse numbers transactions in one sequence for all its appservices (also those without a
URL, such as a double puppeting registration, which gets one per event of a local user), so
the ids one bridge sees grow but skip whatever went to the others. How Synapse delivers
(synapse/appservice/scheduler.py, _ServiceQueuer, _TransactionController and _Recoverer): one
transaction in flight per appservice; when one fails (an error answer, a broken connection, a
timeout) it marks the appservice down, keeps newer transactions without sending them, and
sends the failed one again after 2 s (then 4, 8 ... up to 512 s), then the kept ones in order.
So a failed delivery normally shows as a silence of at least 2 s and no skip. Two races leave
a transaction behind newer ones: the one made right after the failure, while the "down" mark
is still being written, is sent at once (with PostgreSQL, whose connection pool runs the two
queries side by side; SQLite runs them in turn) and the failed one comes 2 s later; and one
made just as the recoverer finishes is stranded until the next failure. Ids also restart after
a Synapse restart (on SQLite), and whatever was sent while the bridge was down may come in any
order.

So a skip counts as a gap after a silence of RETRY_SILENCE, and every skip counts for
RECOVERY after a start or after a sign of failed deliveries: a transaction the listener did not
store (refused, broken off, or given up by the homeserver, which sent the next one while it
was still in hand). A skip within a steady flow is taken for the other appservices' share;
what the bridge cannot tell from it is a delivery that failed before any of it reached the
bridge, followed at once by the next (the PostgreSQL race behind a proxy that fails to
forward): the sweep still finds its events, after newer ones.

Each such irregularity starts a gap at the next event the bridge stores: what is missing lies
before that event. A portal that has not looked at its room's timeline from an event at or past
a gap's start looks before relaying its next message past it (looking from an older event would
not see what is missing after it). After a start, each event stored before it is looked before
once: the gaps the last run saw among them went with it (a stranded transaction's event may
belong between any two of them); and the first events after the start are a gap's start. In
the steady state (transactions in order, without a silence before a skip) nothing is looked up.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("bridge.matrix.gaps")

# Seconds without a transaction after which a skip in the ids may hide a stranded one:
# Synapse retries a failed delivery after 2 s at the soonest.
RETRY_SILENCE = 1.5
# Seconds after a start or a sign of failed deliveries during which every skip counts: the
# homeserver then resends what it kept back without pauses, and a stranded one hides there.
RECOVERY = 60.0
# Gap starts remembered (a homeserver without numbered transactions opens one per transaction).
MAX_STARTS = 1000


class DeliveryGaps:
    def __init__(self, first_new_id: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        """``first_new_id``: the first inbox id this run stores."""
        self._clock = clock
        self._last_seen = clock()
        self._recovering_until = clock() + RECOVERY
        self._first_new_id = first_new_id
        self._starts: deque[int] = deque([first_new_id], maxlen=MAX_STARTS)
        self._next_id = first_new_id
        self._last: int | None = None
        # Gaps opened so far (the start counts as one): the sweep for events never delivered
        # runs only when this changed.
        self.opened = 1

    def stored(self, inbox_id: int) -> None:
        """An event was stored with this id (ids only grow)."""
        self._next_id = max(self._next_id, inbox_id + 1)

    def due(self, checked_at: int, inbox_id: int) -> bool:
        """Whether a portal that last looked from the event ``checked_at`` must look again
        before the event ``inbox_id``: a gap starts after the one and at or before the other."""
        if checked_at < inbox_id < self._first_new_id:
            return True  # stored before this start (see the module's docstring)
        starts = list(self._starts)
        index = bisect.bisect_right(starts, inbox_id) - 1
        return index >= 0 and starts[index] > checked_at

    def observe(self, txn_id: str) -> None:
        try:
            number = int(txn_id)
        except ValueError:
            # A homeserver that does not count its transactions: every one is a reason.
            self._open()
            return
        last, now = self._last, self._clock()
        silence, self._last_seen = now - self._last_seen, now
        if last is None or number == last + 1:
            self._last = number
            return
        if number == last:
            return  # the same transaction again (the bridge asked for a retry)
        steady = now >= self._recovering_until
        if number > last and silence < RETRY_SILENCE and steady:
            self._last = number  # the other appservices' share of the sequence
            return
        if number < last or silence >= RETRY_SILENCE:
            self._recovering_until = now + RECOVERY  # late, restarted, or after a failure
        log.info(
            "Transaction %d came after %d: looking for events delivered late or not at all",
            number,
            last,
        )
        self._open()
        self._last = number

    def mark(self) -> None:
        """Another reason to look (the homeserver was unreachable for a while, say)."""
        self._recovering_until = self._clock() + RECOVERY
        self._open()

    def _open(self) -> None:
        self.opened += 1
        if self._starts[-1] != self._next_id:
            self._starts.append(self._next_id)
