"""When a portal must look through its room's timeline before relaying (bridge/matrix/gaps.py):
after a start, and after a gap in the homeserver's numbered transactions; from an event at or
past the gap, never from an older one; never in the steady state."""

from __future__ import annotations

import pytest

from bridge.matrix.gaps import RECOVERY, DeliveryGaps


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_start_events_stored_before_it_and_the_first_after_it_look_once_each() -> None:
    gaps = DeliveryGaps(first_new_id=101)
    assert gaps.due(0, 50), "a replayed event: anything may have been missed before it"
    # Found by the fault suite: the last run saw a stranded transaction between 50 and 60 and
    # would have looked before 60, but that knowledge went with it; each replayed event looks.
    assert gaps.due(50, 60)
    assert not gaps.due(60, 60), "looked from it already"
    assert gaps.due(60, 101), "the first new event: what the last run never got lies before it"
    assert not gaps.due(101, 102)


@pytest.mark.parametrize("step", [1, 2, 5], ids=["alone", "beside-one", "beside-four"])
def test_the_steady_state_never_looks(step: int) -> None:
    """Synapse numbers all its appservices' transactions in one sequence: beside other
    appservices (a double puppeting registration gets one per event) the ids skip."""
    clock = Clock()
    gaps = DeliveryGaps(first_new_id=1, clock=clock)
    clock.now += RECOVERY  # long after the start
    for inbox_id in range(1, 14):
        clock.now += 0.5  # a steady flow, not a silence
        gaps.observe(str(7 + inbox_id * step))
        gaps.stored(inbox_id)
    assert not gaps.due(1, 13)


@pytest.mark.parametrize(
    ("transactions", "silence", "gap"),
    [
        (["5", "6", "8"], 2.0, True),  # 7 stranded, sent after Synapse's retry backoff
        (["5", "6", "8"], 0.1, False),  # 7 went to another appservice
        (["5", "6", "6"], 2.0, False),  # the same transaction again
        (["50", "51", "49"], 0.1, True),  # 49 delivered late, after newer ones
        (["50", "51", "1"], 0.1, True),  # Synapse restarted (SQLite): ids begin again
        (["a", "b"], 0.1, True),  # a homeserver that does not number its transactions
    ],
)
def test_transactions_that_leave_a_gap(transactions: list[str], silence: float, gap: bool) -> None:
    clock = Clock()
    gaps = DeliveryGaps(first_new_id=1, clock=clock)
    clock.now += RECOVERY  # long after the start
    inbox_id = 0
    for txn_id in transactions[:-1]:
        clock.now += 0.1
        gaps.observe(txn_id)
        inbox_id += 1
        gaps.stored(inbox_id)
    checked = inbox_id  # the portal looked from the newest event so far
    clock.now += silence
    gaps.observe(transactions[-1])
    gaps.stored(inbox_id + 1)
    assert gaps.due(checked, inbox_id + 1) is gap


def test_a_look_from_an_event_before_the_gap_does_not_cover_it() -> None:
    """The fault suite found this: the gap was noticed while the portal still worked through
    older events; looking from one of those cannot see what is missing after it."""
    clock = Clock()
    gaps = DeliveryGaps(first_new_id=1, clock=clock)
    for number in range(1, 20):
        gaps.observe(str(number))
        gaps.stored(number)
    clock.now += 4  # Synapse backed off after a failed delivery
    gaps.observe("21")  # 20 stranded; this transaction brings event 20
    gaps.stored(20)
    assert gaps.due(0, 19), "the portal's first look (after the start)"
    # ... from event 19, older than the gap: event 20 must look again.
    assert gaps.due(19, 20)
    assert not gaps.due(20, 21)


def test_after_a_start_or_a_failure_every_skip_counts_for_a_while() -> None:
    """The fault suite found this: after a restart the homeserver resends what it kept back
    without pauses, and a transaction stranded meanwhile hides in that flow."""
    clock = Clock()
    gaps = DeliveryGaps(first_new_id=1, clock=clock)
    gaps.observe("10")
    gaps.stored(1)
    clock.now += 0.1
    gaps.observe("12")  # soon after the start: counts
    gaps.stored(2)
    assert gaps.due(1, 2)
    inbox_id, number = 2, 12
    for _ in range(int(RECOVERY) + 2):  # a steady flow beside another appservice
        clock.now += 1.0
        number += 2
        inbox_id += 1
        gaps.observe(str(number))
        gaps.stored(inbox_id)
    assert not gaps.due(inbox_id - 1, inbox_id), "steady now: the other appservice's share"
    clock.now += 3  # a silence, as after a failed delivery: counts, and so do skips after it
    gaps.observe(str(number + 2))
    gaps.stored(inbox_id + 1)
    assert gaps.due(inbox_id, inbox_id + 1)
    clock.now += 0.1
    gaps.observe(str(number + 4))
    gaps.stored(inbox_id + 2)
    assert gaps.due(inbox_id + 1, inbox_id + 2)
