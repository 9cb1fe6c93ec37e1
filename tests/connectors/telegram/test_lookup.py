"""What a look-up for a part in doubt may cost, and when there is none: only an unknown outcome
(the bridge died between noting and recording a part, or Telegram's answer was lost) makes a
part worth looking for; a refusal (429, 4xx) is a clear "not sent"."""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bridge.db.models import Message
from bridge.db.stores import MessageStore
from connectors.telegram import lookup, pacing
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser, Sent
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


def texts_in(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [s.text or "" for s in fake.sent_to(chat_id) if s.method == "sendMessage"]


async def test_a_429_on_a_send_leads_to_no_look_up(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(overrides=PLAIN)
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Flooded", members=[alice], username="flooded")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    # Messages the bridge knows, both ways: a look-up would have somewhere to start from.
    for index in range(3):
        fake_telegram.inject_text(group, alice, f"from telegram {index}")
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "from telegram 2")
    for index in range(3):
        await user.send_message(room_id, f"from matrix {index}")
    await eventually(lambda: len(texts_in(fake_telegram, group.id)) == 3, what="the first sends")

    fake_telegram.faults.retry_after("sendMessage", seconds=1, times=1, chat_id=group.id)
    await user.send_message(room_id, "after a flood limit")
    await eventually(
        lambda: "after a flood limit" in texts_in(fake_telegram, group.id), what="the retry"
    )
    await user.send_message(room_id, "and the next one")
    await eventually(lambda: "and the next one" in texts_in(fake_telegram, group.id))

    statuses = [
        (c.params.get("text"), c.status)
        for c in fake_telegram.calls_to("sendMessage")
        if c.chat_id == group.id
    ][3:]
    assert statuses == [
        ("after a flood limit", 429),
        ("after a flood limit", 200),
        ("and the next one", 200),
    ]
    assert texts_in(fake_telegram, group.id).count("after a flood limit") == 1
    assert fake_telegram.calls_to("editMessageReplyMarkup") == [], "nothing was looked for"


# -- a part in doubt: Telegram took it, and the bridge could not record it ---------------------


@dataclass
class Doubt:
    """A bridged supergroup where the writer's next message reaches Telegram and its recording
    fails once (as if the bridge died in between): it is then looked for."""

    running: RunningBridge
    group: FakeChat
    alice: FakeUser
    user: MatrixTestClient
    room_id: str
    known: int  # the newest message the bridge knew before the part left
    failed: list[str] = field(default_factory=list)


async def in_doubt_chat(
    telegram_bridge: StartTelegramBridge,
    fake: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    when_failing: Callable[[], None] = lambda: None,
    **telegram: Any,
) -> Doubt:
    running = await telegram_bridge(overrides=PLAIN, **telegram)
    alice = fake.add_user("Alice")
    group = fake.add_supergroup("Doubts", members=[alice], username="doubts")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    # Both ways, messages the bridge knows (and will not probe).
    await user.send_message(room_id, "from matrix before")
    await eventually(lambda: texts_in(fake, group.id) == ["from matrix before"])
    known = fake.inject_text(group, alice, "known before")["message_id"]
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "known before")
    doubt = Doubt(running, group, alice, user, room_id, known)

    original = MessageStore.add

    async def add_once_failing(self: MessageStore, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("sender_mxid") == user.user_id and not doubt.failed:
            doubt.failed.append(str(args))
            when_failing()
            raise OSError("the database went away")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(MessageStore, "add", add_once_failing)
    return doubt


async def mapped(running: RunningBridge, event_id: str, timeout: float = 30) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with running.bridge.db.session() as session:
            rows = list(await session.scalars(select(Message).where(Message.mxid == event_id)))
        if rows:
            return [row.remote_id for row in rows]
        if loop.time() > deadline:
            raise AssertionError(f"{event_id} was not recorded within {timeout} s")
        await asyncio.sleep(0.05)


def probes(fake: FakeTelegram, chat: FakeChat) -> list[tuple[int, bool]]:
    """The look-up's requests in ``chat``: (message id, whether it added a keyboard)."""
    return [
        (int(c.params["message_id"]), "reply_markup" in c.params)
        for c in fake.calls_to("editMessageReplyMarkup")
        if c.chat_id == chat.id
    ]


def own_message_ids(fake: FakeTelegram, chat: FakeChat) -> list[int]:
    return [s.message_id for s in fake.sent_to(chat) if s.method == "sendMessage"]


def own_message(fake: FakeTelegram, chat: FakeChat, text: str) -> Sent:
    (sent,) = [s for s in fake.sent_to(chat) if s.text == text]
    return sent


@pytest.mark.parametrize("fault", ["retry_after", "server_error", "drop"])
async def test_a_probe_without_an_answer_leaves_the_part_in_doubt_until_it_is_found(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    def arm() -> None:
        edit = "editMessageReplyMarkup"
        if fault == "retry_after":
            fake_telegram.faults.retry_after(edit, seconds=2, chat_id=doubt.group.id)
        elif fault == "server_error":
            fake_telegram.faults.server_error(edit, 502, chat_id=doubt.group.id)
        else:
            fake_telegram.faults.drop(edit, chat_id=doubt.group.id)

    doubt = await in_doubt_chat(
        telegram_bridge, fake_telegram, make_matrix_user, monkeypatch, when_failing=arm
    )
    event_id = await doubt.user.send_message(doubt.room_id, "only once please")
    remote_ids = await mapped(doubt.running, event_id)

    part = own_message(fake_telegram, doubt.group, "only once please")
    assert texts_in(fake_telegram, doubt.group.id) == ["from matrix before", "only once please"]
    assert remote_ids == [str(part.message_id)]
    calls = [c for c in fake_telegram.calls_to("editMessageReplyMarkup")]
    assert calls[0].fault == fault, "the first probe met the fault"
    # Looked for again, whole, and found: probed without a change, then shown by a button
    # that is taken off again.
    assert probes(fake_telegram, doubt.group) == [
        (part.message_id, False),
        (part.message_id, False),
        (part.message_id, True),
        (part.message_id, False),
    ]
    assert "reply_markup" not in part.message
    if fault == "retry_after":
        assert calls[1].time >= calls[0].time + 2, "it waited as Telegram asked"


async def test_others_messages_get_no_button_and_those_the_bridge_saw_no_probe(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doubt = await in_doubt_chat(telegram_bridge, fake_telegram, make_matrix_user, monkeypatch)
    group, alice = doubt.group, doubt.alice
    others: dict[str, int] = {}
    bot_message: dict[str, int] = {}
    intend = MessageStore.intend

    async def others_write_meanwhile(self: MessageStore, *args: Any, **kwargs: Any) -> None:
        await intend(self, *args, **kwargs)
        if others:
            return
        # While the part leaves, Alice writes twice where the bot sees it, twice where it does
        # not (privacy mode), and the bot posts something the bridge does not map.
        for name in ("seen 1", "seen 2"):
            others[name] = fake_telegram.inject_text(group, alice, name)["message_id"]
        fake_telegram.can_read_all_group_messages = False
        for name in ("unseen 1", "unseen 2"):
            others[name] = fake_telegram.inject_text(group, alice, name)["message_id"]
        fake_telegram.can_read_all_group_messages = True
        async with fake_telegram.make_bot() as bot:
            posted = await bot.send_message(group.id, "a bot message the bridge does not map")
        bot_message["id"] = posted.message_id

    monkeypatch.setattr(MessageStore, "intend", others_write_meanwhile)
    event_id = await doubt.user.send_message(doubt.room_id, "only once please")
    remote_ids = await mapped(doubt.running, event_id)

    part = own_message(fake_telegram, group, "only once please")
    assert remote_ids == [str(part.message_id)]
    assert texts_in(fake_telegram, group.id).count("only once please") == 1
    assert sorted(others.values()) == list(range(doubt.known + 1, doubt.known + 5))
    assert bot_message["id"] == doubt.known + 5 and part.message_id == doubt.known + 6
    # Nothing the bridge knew is probed: not the messages it mapped (ids up to `known`), not
    # Alice's messages it saw in updates. Her messages it could not see get one probe each,
    # which changes nothing; only the bot's own messages get the button, taken off at once.
    assert probes(fake_telegram, group) == [
        (others["unseen 1"], False),
        (others["unseen 2"], False),
        (bot_message["id"], False),
        (bot_message["id"], True),
        (bot_message["id"], False),
        (part.message_id, False),
        (part.message_id, True),
        (part.message_id, False),
    ]
    for sent in fake_telegram.sent_to(group):
        assert "reply_markup" not in sent.message
    earlier = own_message(fake_telegram, group, "from matrix before")
    assert earlier.edits == []


@pytest.mark.parametrize("unseen", [10, 30])
async def test_a_look_up_past_messages_the_bridge_never_saw_stays_within_its_budget(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    unseen: int,
) -> None:
    doubt = await in_doubt_chat(telegram_bridge, fake_telegram, make_matrix_user, monkeypatch)
    # Privacy mode: Alice's messages never reach the bridge, so a look-up has to probe them.
    fake_telegram.can_read_all_group_messages = False
    for index in range(unseen):
        fake_telegram.inject_text(doubt.group, doubt.alice, f"unseen {index}")
    with caplog.at_level(logging.INFO, logger="connectors.telegram.lookup"):
        event_id = await doubt.user.send_message(doubt.room_id, "only once please")
        remote_ids = await mapped(doubt.running, event_id)
    (line,) = [r for r in caplog.records if r.name == "connectors.telegram.lookup"]
    done = probes(fake_telegram, doubt.group)
    texts = texts_in(fake_telegram, doubt.group.id)
    first = doubt.known + 1

    if unseen == 10:
        part = own_message(fake_telegram, doubt.group, "only once please")
        assert remote_ids == [str(part.message_id)] and part.message_id == first + unseen
        assert done == [(i, False) for i in range(first, part.message_id)] + [
            (part.message_id, False),
            (part.message_id, True),
            (part.message_id, False),
        ]
        assert line.levelno == logging.INFO
        assert f"found as message {part.message_id}; 13 probes in " in line.getMessage()
    else:
        # Past its budget the look-up gives up and the part is sent: the duplicate the README
        # admits. No more requests than the budget, none with a button.
        assert len(done) == lookup.MAX_PROBES == 20
        assert done == [(i, False) for i in range(first, first + 20)]
        assert texts == ["from matrix before", "only once please", "only once please"]
        assert remote_ids == [str(own_message_ids(fake_telegram, doubt.group)[-1])]
        assert line.levelno == logging.WARNING
        message = line.getMessage()
        assert "gave up past its budget of 20 probes" in message
        assert "; 20 probes in " in message and " s (waited " in message


async def test_after_a_restart_the_look_up_waits_for_the_backlog_of_updates(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_telegram
    running = await telegram_bridge(overrides=PLAIN, request_timeout=2)
    alice = fake.add_user("Alice")
    group = fake.add_supergroup("Backlog", members=[alice], username="backlog")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    known = fake.inject_text(group, alice, "known before")["message_id"]
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "known before")

    # Telegram stops answering the poller, so what Alice writes now waits at Telegram: more
    # than one batch of updates.
    fake.faults.hang("getUpdates", times=10_000)
    await eventually(lambda: fake.calls_to("getUpdates")[-1].fault == "hang", what="no polling")
    backlog = 120
    for index in range(backlog):
        fake.inject_text(group, alice, f"backlog {index}")
    # The bridge dies after Telegram took the part and before it was recorded.
    original = MessageStore.add
    dying = asyncio.Event()

    async def add_never_returning(self: MessageStore, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("sender_mxid") == user.user_id and not dying.is_set():
            dying.set()
            await asyncio.Event().wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(MessageStore, "add", add_never_returning)
    event_id = await user.send_message(room_id, "only once please")
    await asyncio.wait_for(dying.wait(), 15)
    await running.bridge.stop(timeout=2)
    part = own_message(fake, group, "only once please")
    assert part.message_id == known + backlog + 1
    assert probes(fake, group) == []

    fake.faults.clear()
    running = await telegram_bridge(overrides=PLAIN, request_timeout=2)
    remote_ids = await mapped(running, event_id)
    # The look-up waited for the poller to take the backlog (two batches), so it skipped
    # Alice's messages and probed the part alone.
    assert remote_ids == [str(part.message_id)]
    assert texts_in(fake, group.id) == ["only once please"]
    assert probes(fake, group) == [
        (part.message_id, False),
        (part.message_id, True),
        (part.message_id, False),
    ]
    batches = [len(poll.returned) for poll in fake.updates.polls if poll.returned]
    assert batches[-2:] == [100, backlog - 100]


async def test_a_look_up_does_not_start_over_behind_the_flood_limit(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Scaled down: the pacer hands waits over 0.1 s (not 3 s) to the portal. With 20 messages
    # a minute in a group, a look-up then cannot finish without waiting for the flood limit.
    monkeypatch.setattr(pacing, "LONGEST_QUIET_WAIT", 0.1)
    await telegram_bridge(overrides=PLAIN, request_timeout=2)
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Paced", members=[alice], username="paced")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    burst = [f"burst {index:02d}" for index in range(20)]
    for text in burst:
        await user.send_message(room_id, text)
    await eventually(lambda: texts_in(fake_telegram, group.id) == burst, timeout=30)

    # The next send never gets an answer (and Telegram never took it): it is in doubt.
    fake_telegram.faults.hang("sendMessage", times=1, chat_id=group.id)
    await user.send_message(room_id, "after a timeout")
    await eventually(
        lambda: "after a timeout" in texts_in(fake_telegram, group.id), timeout=45, what="it"
    )
    assert texts_in(fake_telegram, group.id) == [*burst, "after a timeout"]
    # One look-up: three ids past the end of the chat, each probed once.
    last = own_message(fake_telegram, group, burst[-1]).message_id
    assert probes(fake_telegram, group) == [(last + i, False) for i in (1, 2, 3)]


def test_the_memory_of_others_messages_is_bounded_in_chats_and_ids() -> None:
    sightings = lookup.Sightings(chats=2, per_chat=3)
    for message_id in range(1, 6):
        sightings.add(-1, message_id)
    assert [(-1, i) in sightings for i in range(1, 6)] == [False, False, True, True, True]
    sightings.add(-2, 1)
    sightings.add(-1, 6)  # chat -1 heard of again: chat -2 is now the oldest
    sightings.add(-3, 1)
    assert (-2, 1) not in sightings
    assert (-1, 6) in sightings and (-3, 1) in sightings


def test_the_memory_of_others_messages_costs_about_eight_bytes_an_id() -> None:
    # A bridge in a thousand busy chats holds up to a million ids: compactly, not as dict
    # entries of a hundred bytes and more each.
    tracemalloc.start()
    try:
        sightings = lookup.Sightings(chats=50, per_chat=1000)
        for chat in range(50):
            for message_id in range(1000, 2000):
                sightings.add(-1000 - chat, message_id)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert (-1025, 1500) in sightings and (-1025, 999) not in sightings
    assert held < 50 * 1000 * 12, f"{held} bytes for 50,000 ids"
