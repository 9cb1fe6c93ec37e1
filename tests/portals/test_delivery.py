"""A room is told of a delay and of its end together, or of neither: when the "delayed" notice
could not be posted (often for the very reason of the wait), the "back to normal" one says what
happened (portals/delivery.py Backlog)."""

from __future__ import annotations

import aiohttp
import pytest
from mautrix.errors import (
    IntentError,
    MatrixRequestError,
    MatrixStandardRequestError,
    MForbidden,
    MLimitExceeded,
)
from sqlalchemy.exc import OperationalError
from yarl import URL

from bridge.network.interface import TemporaryFailure
from portals import delivery
from portals.delivery import (
    Backlog,
    describe,
    failure_reason,
    may_be_stuck,
    retry_delay,
)


class Room:
    def __init__(self, failing: int) -> None:
        self.failing = failing  # notices that fail before the homeserver takes them again
        self.shown: list[str] = []

    async def notify(self, text: str) -> None:
        if self.failing > 0:
            self.failing -= 1
            raise ConnectionError("the homeserver cannot be reached")
        self.shown.append(text)


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        (0, ["Delivery in this chat is delayed", "Delivery is back to normal; the delayed"]),
        (1, ["Delivery is back to normal after a delay of"]),
    ],
)
async def test_a_delay_and_its_end_are_told_together(failing: int, expected: list[str]) -> None:
    room = Room(failing)
    backlog = Backlog(room.notify)
    await backlog.waiting("the homeserver cannot be reached", delay=10.0, queued=3)
    await backlog.flowing()
    assert [text[: len(start)] for text, start in zip(room.shown, expected, strict=True)] == (
        expected
    )
    if failing:
        assert "(the homeserver cannot be reached)" in room.shown[0]


async def test_a_short_wait_tells_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    room = Room(0)
    backlog = Backlog(room.notify)
    monkeypatch.setattr(delivery, "NOTICE_AFTER", 5.0)
    await backlog.waiting("the homeserver is rate-limiting the bridge", delay=1.0, queued=1)
    await backlog.flowing()
    assert room.shown == []


@pytest.mark.parametrize(
    ("cause", "waits"),
    [
        (MLimitExceeded(429, "Too many requests"), True),
        (MatrixStandardRequestError(502, "Bad gateway"), True),
        (MForbidden(403, "You are not invited"), False),
    ],
)
def test_what_mautrix_wraps_on_the_way_is_judged_by_its_cause(
    cause: MatrixRequestError, waits: bool
) -> None:
    """The fault suite found this: the bot's get_event first joins the room, and a rate-limited
    join came back as IntentError, which was taken for a refusal and the edit dropped."""
    try:
        raise IntentError("Failed to join room") from cause
    except IntentError as wrapped:
        assert (retry_delay(wrapped, 0) is not None) is waits
        assert describe(wrapped) == describe(cause)


def _wrapped(cause: BaseException) -> IntentError:
    try:
        raise IntentError("Failed to join room") from cause
    except IntentError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TemporaryFailure("Telegram's flood limit", retry_after=3.0), "network_rate_limited"),
        (TemporaryFailure("Telegram cannot be reached"), "network_unavailable"),
        (MLimitExceeded(429, "Too many requests"), "homeserver_rate_limited"),
        (_wrapped(MLimitExceeded(429, "Too many requests")), "homeserver_rate_limited"),
        (MatrixStandardRequestError(502, "Bad gateway"), "homeserver_error"),
        (ConnectionRefusedError(), "homeserver_unreachable"),
        (OperationalError("SELECT 1", {}, Exception("database is locked")), "database"),
        (KeyError("content"), "internal"),
    ],
)
def test_failures_are_told_to_the_metrics_in_a_few_words(error: Exception, reason: str) -> None:
    assert failure_reason(error) == reason


def _media_answer(status: int) -> aiohttp.ClientResponseError:
    """What mautrix's media download raises for an error status (raise_for_status)."""
    return aiohttp.ClientResponseError(
        aiohttp.RequestInfo(URL("http://hs/_matrix/client/v1/media/download/a/b"), "GET", {}),  # type: ignore[arg-type]
        (),
        status=status,
    )


@pytest.mark.parametrize(
    ("error", "waits", "reason", "may_be_its_own"),
    [
        # A file the homeserver answers 404 for (deleted media) or 403 for is refused again
        # however long the bridge waits: a refusal, not "the homeserver cannot be reached".
        (_media_answer(404), False, "homeserver_error", True),
        (_media_answer(403), False, "homeserver_error", True),
        # Remote media its server cannot fetch (502), a homeserver in trouble, a rate limit.
        (_media_answer(502), True, "homeserver_error", True),
        (_media_answer(500), True, "homeserver_error", True),
        (_media_answer(429), True, "homeserver_rate_limited", False),
        (_media_answer(408), True, "homeserver_error", True),
        # Only trouble that may be the event's own runs the stuck_after clock.
        (MatrixStandardRequestError(502, "Bad gateway"), True, "homeserver_error", True),
        (ConnectionRefusedError(), True, "homeserver_unreachable", True),
        (TemporaryFailure("Telegram cannot be reached"), True, "network_unavailable", True),
        (TemporaryFailure("flood", retry_after=3.0), True, "network_rate_limited", False),
        (MLimitExceeded(429, "Too many requests"), True, "homeserver_rate_limited", False),
        (OperationalError("SELECT 1", {}, Exception("locked")), True, "database", False),
    ],
)
def test_which_failures_wait_and_which_may_be_the_events_own(
    error: Exception, waits: bool, reason: str, may_be_its_own: bool
) -> None:
    assert (retry_delay(error, 0) is not None) is waits
    assert failure_reason(error) == reason
    assert may_be_stuck(error) is may_be_its_own


def test_a_media_answer_is_described_by_its_status() -> None:
    assert describe(_media_answer(502)) == "the homeserver answers with errors (HTTP 502)"
