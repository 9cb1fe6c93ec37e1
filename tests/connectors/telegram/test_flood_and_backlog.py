"""Flood limits, backlogs and undeliverable messages, end to end through a real Synapse and the
fake Bot API: a 429 holds up only its chat; the bridge paces itself; a chat that waits long is
told so once, and once more when it flows again; Telegram outages are waited out without losing,
repeating or reordering a message; a refusal for good gives a notice and the queue moves on.
(A chat whose queue is full next to a free one: test_full_chat.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.telegram import pacing
from portals import delivery
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge, open_portal, sent_texts
from tests.fakes.telegram import Call, FakeChat, FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DELAYED = "Delivery in this chat is delayed"
BACK = "Delivery is back to normal"
NOT_BRIDGED = "Your message was not bridged"


# -- helpers -----------------------------------------------------------------------------------


def send_calls(fake: FakeTelegram, group: FakeChat) -> list[Call]:
    """Every sendMessage into ``group`` (answered or not), in order of arrival."""
    return [c for c in fake.calls_to("sendMessage") if c.chat_id == group.id]


def call_text(call: Call) -> str:
    return str(call.params.get("text"))


async def send_all(user: MatrixTestClient, room_id: str, texts: list[str]) -> None:
    for text in texts:
        await user.send_message(room_id, text)


async def bot_notices(user: MatrixTestClient, room_id: str, bot: str) -> list[str]:
    """Bodies of the bridge bot's notices in the room, oldest first."""
    events = await user.room_messages(room_id, limit=500)
    return [
        e["content"].get("body", "")
        for e in events
        if e.get("sender") == bot
        and e.get("type") == "m.room.message"
        and e.get("content", {}).get("msgtype") == "m.notice"
    ]


def starting(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: str(event.get("content", {}).get("body", "")).startswith(prefix)


async def settled_notices(
    user: MatrixTestClient, room_id: str, bot: str, quiet: float = 0.5
) -> list[str]:
    """The bot's notices, read once ``quiet`` seconds brought no new one."""
    seen = await bot_notices(user, room_id, bot)
    while True:
        await asyncio.sleep(quiet)
        now = await bot_notices(user, room_id, bot)
        if now == seen:
            return now
        seen = now


# -- a flood limit on one chat ---------------------------------------------------------------------


async def test_a_429_holds_up_only_its_chat_which_keeps_its_order(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("reader", displayname="Reader")
    group_a, _, room_a = await open_portal(fake_telegram, user, "Flooded")
    group_b, _, room_b = await open_portal(fake_telegram, user, "Moving")
    retry_after = 3
    fake_telegram.faults.retry_after(
        "sendMessage", seconds=retry_after, times=1, chat_id=group_a.id
    )

    texts_a = ["a1", "a2", "a3"]
    await send_all(user, room_a, texts_a)
    (flood,) = await eventually(
        lambda: [c for c in send_calls(fake_telegram, group_a) if c.fault == "retry_after"],
        what="the 429 in chat A",
    )
    # Chat A now waits out its flood limit; chat B's messages go through meanwhile.
    texts_b = ["b1", "b2", "b3"]
    await send_all(user, room_b, texts_b)
    await eventually(
        lambda: sent_texts(fake_telegram, group_b) == texts_b,
        timeout=retry_after - 0.5,
        what="chat B's messages while chat A waits",
    )
    assert sent_texts(fake_telegram, group_a) == [], "chat A waited"

    await eventually(lambda: len(sent_texts(fake_telegram, group_a)) >= 3, what="chat A's messages")
    calls_a = send_calls(fake_telegram, group_a)
    assert [(call_text(c), c.status) for c in calls_a] == [
        ("a1", 429),
        ("a1", 200),
        ("a2", 200),
        ("a3", 200),
    ]
    assert sent_texts(fake_telegram, group_a) == texts_a
    assert sent_texts(fake_telegram, group_b) == texts_b
    resumed = min(c.time for c in calls_a if c.status == 200)
    assert resumed >= flood.time + retry_after, "chat A waited the retry_after Telegram asked"
    assert max(c.time for c in send_calls(fake_telegram, group_b)) < resumed
    assert flood.params.get("text") == "a1"


# -- pacing ----------------------------------------------------------------------------------------


def record_releases(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """Each chat the pacer lets a send by into, and when by its own clock: the reading it took
    the tokens at (nothing runs between that and its return). The fake's clock would add the
    time a request takes to reach it, which a loaded machine stretches unevenly."""
    readings: list[float] = []
    released: list[tuple[int, float]] = []

    def monotonic() -> float:
        readings.append(time.monotonic())
        return readings[-1]

    before_send = pacing.Pacer.before_send

    async def recording(pacer: pacing.Pacer, chat_id: int) -> None:
        await before_send(pacer, chat_id)
        released.append((chat_id, readings[-1]))

    monkeypatch.setattr(pacing, "time", SimpleNamespace(monotonic=monotonic))
    monkeypatch.setattr(pacing.Pacer, "before_send", recording)
    return released


async def test_the_bridge_paces_a_burst_under_the_group_limit(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_minute = 30  # a burst of 30, then one every 2 s
    released = record_releases(monkeypatch)
    await telegram_bridge(overrides=PLAIN, rate_limits={"group_per_minute": per_minute})
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Busy")
    texts = [f"m{index:02d}" for index in range(per_minute + 3)]
    await send_all(user, room_id, texts)
    await eventually(
        lambda: len(sent_texts(fake_telegram, group)) >= len(texts),
        timeout=30,
        what="all messages",
    )

    calls = send_calls(fake_telegram, group)
    assert [call_text(c) for c in calls] == texts, "in order, each once, no retries"
    assert all(c.status == 200 and c.fault is None for c in calls), "no 429 was needed"
    assert sent_texts(fake_telegram, group) == texts
    # A token bucket lets at most capacity + rate * t messages through in any t seconds.
    times = [at for chat_id, at in released if chat_id == group.id]
    assert len(times) == len(texts), "the pacer let each message by once"
    rate = per_minute / 60
    for first in range(len(times)):
        for last in range(first + per_minute, len(times)):
            elapsed = times[last] - times[first]
            assert last - first + 1 <= per_minute + rate * elapsed + 1e-6, (
                f"messages {first}..{last} went out within {elapsed:.2f} s"
            )


# -- backlog notices -------------------------------------------------------------------------------


async def test_a_long_flood_wait_gives_one_notice_and_one_when_it_clears(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Waiting")
    fake_telegram.faults.retry_after("sendMessage", seconds=6, times=1, chat_id=group.id)
    texts = [f"w{index}" for index in range(5)]
    await send_all(user, room_id, texts)

    delayed = await user.wait_for_event(room_id, starting(DELAYED), timeout=10)
    assert sent_texts(fake_telegram, group) == [], "the notice came while the chat waited"
    assert "flood limit" in delayed["content"]["body"]
    await eventually(
        lambda: sent_texts(fake_telegram, group) == texts, timeout=20, what="all messages"
    )
    await user.wait_for_event(room_id, starting(BACK), timeout=10)
    notices = await settled_notices(user, room_id, running.bot)
    assert len(notices) == 2, notices
    assert notices[0].startswith(DELAYED) and notices[1].startswith(BACK)
    assert [call_text(c) for c in send_calls(fake_telegram, group)] == ["w0", *texts]


async def test_a_backlog_draining_under_the_limit_gives_one_notice_not_one_per_message(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Scaled down to keep the test short: the pacer hands waits over 1 s (not 3 s) to the
    # portal, which tells of waits from 2 s (not 5 s). Then a burst of 20 and one message
    # every 3 s is a backlog that waits long enough for a notice before each message.
    monkeypatch.setattr(pacing, "LONGEST_QUIET_WAIT", 1.0)
    monkeypatch.setattr(delivery, "NOTICE_AFTER", 2.0)
    per_minute = 20
    running = await telegram_bridge(overrides=PLAIN, rate_limits={"group_per_minute": per_minute})
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Draining")
    texts = [f"d{index:02d}" for index in range(per_minute + 2)]
    await send_all(user, room_id, texts)
    await eventually(
        lambda: sent_texts(fake_telegram, group) == texts, timeout=30, what="all messages"
    )
    await user.wait_for_event(room_id, starting(BACK), timeout=10)
    notices = await settled_notices(user, room_id, running.bot)
    assert [call_text(c) for c in send_calls(fake_telegram, group)] == texts
    assert sum(n.startswith(DELAYED) for n in notices) == 1, notices
    assert sum(n.startswith(BACK) for n in notices) == 1, notices


# -- Telegram outages ------------------------------------------------------------------------------


async def test_server_errors_are_waited_out_in_order_without_duplicates(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Flaky")
    fake_telegram.faults.server_error("sendMessage", 500, times=1, chat_id=group.id)
    fake_telegram.faults.server_error("sendMessage", 502, times=1, chat_id=group.id)
    texts = ["s1", "s2", "s3"]
    await send_all(user, room_id, texts)
    await eventually(
        lambda: len(sent_texts(fake_telegram, group)) >= len(texts), what="all messages"
    )
    assert [(call_text(c), c.status) for c in send_calls(fake_telegram, group)] == [
        ("s1", 500),
        ("s1", 502),
        ("s1", 200),
        ("s2", 200),
        ("s3", 200),
    ]
    assert sent_texts(fake_telegram, group) == texts
    # A blip of a second and a half is not worth a notice.
    assert await settled_notices(user, room_id, running.bot) == []


async def test_a_hanging_bot_api_is_waited_out_with_one_notice_and_no_duplicates(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN, request_timeout=2)
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Hanging")
    # Three requests that are never answered (the fake does not process them: the bridge's
    # resend is no duplicate): about 7.5 s of outage, counting the waits between tries.
    fake_telegram.faults.hang("sendMessage", times=3, chat_id=group.id)
    texts = ["h1", "h2", "h3"]
    await send_all(user, room_id, texts)

    # About 7.5 s of outage, longer on a loaded machine: each retry of a send in doubt first
    # looks for it, which waits for polling to catch up.
    delayed = await user.wait_for_event(room_id, starting(DELAYED), timeout=30)
    assert "Telegram cannot be reached" in delayed["content"]["body"]
    await eventually(
        lambda: len(sent_texts(fake_telegram, group)) >= len(texts),
        timeout=20,
        what="all messages",
    )
    calls = send_calls(fake_telegram, group)
    assert [(call_text(c), c.fault, c.status) for c in calls] == [
        ("h1", "hang", None),
        ("h1", "hang", None),
        ("h1", "hang", None),
        ("h1", None, 200),
        ("h2", None, 200),
        ("h3", None, 200),
    ]
    assert sent_texts(fake_telegram, group) == texts
    await user.wait_for_event(room_id, starting(BACK), timeout=10)
    notices = await settled_notices(user, room_id, running.bot)
    assert len(notices) == 2 and notices[0].startswith(DELAYED) and notices[1].startswith(BACK)


# -- undeliverable for good ------------------------------------------------------------------------


async def test_a_bot_removed_from_the_chat_gives_notices_and_the_queue_moves_on(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Removed")
    await user.send_message(room_id, "before")
    await eventually(lambda: sent_texts(fake_telegram, group) == ["before"])

    async def refused_while(status: str, texts: list[str], why: str) -> None:
        fake_telegram.set_bot_member(group, status)
        known = len(await bot_notices(user, room_id, running.bot))
        await send_all(user, room_id, texts)
        notices = await eventually_notices(user, room_id, running.bot, known + len(texts))
        for notice in notices[known:]:
            assert notice.startswith(NOT_BRIDGED) and why in notice, notice
        fake_telegram.set_bot_member(group, "member")  # added back

    await refused_while("kicked", ["kicked 1", "kicked 2"], "bot was kicked")
    await user.send_message(room_id, "back 1")
    await eventually(lambda: "back 1" in sent_texts(fake_telegram, group), what="back 1")
    await refused_while("left", ["gone 1"], "bot is not a member")
    await user.send_message(room_id, "back 2")
    await eventually(lambda: "back 2" in sent_texts(fake_telegram, group), what="back 2")

    # Each refused message was tried once (no retries), and none slipped through later.
    assert sent_texts(fake_telegram, group) == ["before", "back 1", "back 2"]
    assert [(call_text(c), c.status) for c in send_calls(fake_telegram, group)] == [
        ("before", 200),
        ("kicked 1", 403),
        ("kicked 2", 403),
        ("back 1", 200),
        ("gone 1", 403),
        ("back 2", 200),
    ]
    notices = await settled_notices(user, room_id, running.bot)
    assert len(notices) == 3, notices


async def eventually_notices(
    user: MatrixTestClient, room_id: str, bot: str, count: int, timeout: float = 15
) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        notices = await bot_notices(user, room_id, bot)
        if len(notices) >= count:
            return notices
        if loop.time() > deadline:
            raise AssertionError(f"{count} notices expected, got {notices}")
        await asyncio.sleep(0.1)


async def test_content_telegram_refuses_gives_a_notice_saying_why(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("reader", displayname="Reader")
    group, _, room_id = await open_portal(fake_telegram, user, "Refusing")
    # Only whitespace: nothing Telegram could show (the bridge knows without asking).
    await user.send_message(room_id, "   ", html="<p> </p>")
    # Only a character Telegram strips: Telegram answers 400 "text must be non-empty".
    await user.send_message(room_id, "\u202e")
    # A bot that may not write any more: Telegram answers 400 "not enough rights".
    notices = await eventually_notices(user, room_id, running.bot, 2)
    fake_telegram.set_bot_member(group, "restricted", can_send_messages=False)
    await user.send_message(room_id, "muted")
    notices = await eventually_notices(user, room_id, running.bot, 3)
    fake_telegram.set_bot_member(group, "member")
    await user.send_message(room_id, "fine")
    await eventually(lambda: sent_texts(fake_telegram, group) == ["fine"], what="fine")

    assert [n.startswith(NOT_BRIDGED) for n in notices] == [True, True, True], notices
    assert "no text Telegram can show" in notices[0]
    assert "text must be non-empty" in notices[1].lower()
    assert "not enough rights" in notices[2].lower()
    assert [(call_text(c), c.status) for c in send_calls(fake_telegram, group)] == [
        ("\u202e", 400),
        ("muted", 400),
        ("fine", 200),
    ]
    assert len(await settled_notices(user, room_id, running.bot)) == 3


# -- bounded queues --------------------------------------------------------------------------------
