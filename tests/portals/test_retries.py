"""The two clocks that bound how long a portal tries the event at its head (portals/retries.py):
an outage does not run down ``stuck_after``, trouble of the event's own does; ``give_up_after``
counts everything; an unbridge waiting behind it cuts it short."""

from __future__ import annotations

import pytest

from bridge.config.model import RetryConfig
from portals.retries import HURRIED_AFTER, FailingHeads, HeadWait, duration

BOUNDS = RetryConfig(stuck_after=600, give_up_after=86400)


def failing(steps: list[tuple[float, bool]]) -> HeadWait:
    """A wait that started at 0 and failed at each (time, its own trouble) of ``steps``."""
    wait = HeadWait("event $x", started=0.0)
    for at, its_own in steps:
        wait.failed("the homeserver answers with errors (HTTP 502)", at, its_own)
    return wait


@pytest.mark.parametrize(
    ("steps", "now", "hurried", "verdict"),
    [
        # The same 502 for one file every 10 s while all else works: given up after 600 s.
        ([(t, True) for t in range(0, 600, 10)], 590.0, False, None),
        ([(t, True) for t in range(0, 610, 10)], 600.0, False, "while the bridge reached"),
        # An outage of 5 hours (no check up, or only the database failing): waited out...
        ([(t, False) for t in range(0, 18_000, 10)], 17_990.0, False, None),
        # ...whatever the first failure counted before the health check saw it down.
        (
            [(0, True), (10, True), *((t, False) for t in range(20, 18_000, 10))],
            17_990,
            False,
            None,
        ),
        # ...until give_up_after, which counts everything.
        ([(t, False) for t in range(0, 86_410, 10)], 86_400.0, False, "kept failing for 24.0 h"),
        # An unbridge waiting behind: a flood wait of a few seconds passes, a longer wait not.
        ([(0, False), (3, False)], 3.0, True, None),
        ([(0, False), (HURRIED_AFTER, False)], HURRIED_AFTER, True, "being unbridged"),
    ],
    ids=[
        "own-trouble-below",
        "own-trouble-reached",
        "outage",
        "outage-seen-late",
        "outage-past-give-up-after",
        "hurried-short",
        "hurried-long",
    ],
)
def test_when_an_event_is_given_up(
    steps: list[tuple[float, bool]], now: float, hurried: bool, verdict: str | None
) -> None:
    reason = failing(steps).over(BOUNDS, now, hurried)
    if verdict is None:
        assert reason is None
    else:
        assert reason is not None and verdict in reason


def test_only_the_time_between_failures_of_its_own_counts() -> None:
    wait = failing([(0, True), (5, False), (12, True), (20, True)])
    # 0-5 was an outage (the check down at 5); 5-12 and 12-20 were its own.
    assert wait.stuck_for == pytest.approx(15.0)
    assert wait.attempts == 4


@pytest.mark.parametrize(
    ("seconds", "words"), [(0.4, "0 s"), (45, "45 s"), (600, "10 min"), (12_600, "3.5 h")]
)
def test_durations_in_words(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_chats_failing_alike_do_not_fail_alone() -> None:
    heads = FailingHeads()
    assert heads.failed(1, "matrix_to_remote:network_unavailable")
    assert not heads.failed(2, "matrix_to_remote:network_unavailable")
    assert not heads.failed(1, "matrix_to_remote:network_unavailable")
    # Another way of failing, or the other way round, is not alike.
    assert heads.failed(3, "remote_to_matrix:network_unavailable")
    heads.cleared(2)
    assert heads.failed(1, "matrix_to_remote:network_unavailable")
