"""Text both ways through a real Synapse and the fake Bot API: formatting, mentions, replies,
long texts, relay mode and the message map."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bridge.db.models import Message
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram, Sent
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


def body_is(body: str) -> Any:
    return lambda event: event.get("content", {}).get("body") == body


async def portal_with_reader(
    start: StartTelegramBridge,
    fake: FakeTelegram,
    make_user: MakeMatrixUser,
    overrides: dict[str, Any] | None = None,
) -> tuple[RunningBridge, Any, Any, MatrixTestClient, str]:
    running = await start(overrides=overrides)
    alice = fake.add_user("Alice", username="alice_tg")
    group = fake.add_supergroup("Chat", members=[alice], username="chat")
    user = await make_user("reader", displayname="Reader R")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    return running, alice, group, user, room_id


def sent_texts(fake: FakeTelegram, group: Any) -> list[Sent]:
    return [s for s in fake.sent_to(group) if s.method.lower() == "sendmessage"]


async def test_telegram_formatting_arrives_as_matrix_html(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    bob = fake_telegram.add_user("Bob")
    fake_telegram.set_member(group, bob)
    fake_telegram.inject_text(group, bob, "I exist")
    await user.wait_for_event(room_id, body_is("I exist"))
    fake_telegram.inject_text(
        group,
        alice,
        html=(
            '😀 <b>bold 🎉 <i>nested</i></b> <code>x&lt;y</code> <a href="https://example.org">'
            'link</a> <tg-spoiler>secret</tg-spoiler>\n<pre><code class="language-python">'
            "print(1)</code></pre>"
            f'<a href="tg://user?id={bob.id}">Bobby</a> 🏁'
        ),
    )
    event = await user.wait_for_event(
        room_id, lambda e: "secret" in e.get("content", {}).get("body", "")
    )
    content = event["content"]
    assert content["body"] == "😀 bold 🎉 nested x<y link secret\nprint(1)Bobby 🏁"
    html = content["formatted_body"]
    assert "<strong>bold 🎉 <em>nested</em></strong>" in html
    assert "<code>x&lt;y</code>" in html
    assert '<a href="https://example.org/">link</a>' in html  # as Telegram normalises it
    assert "<span data-mx-spoiler>secret</span>" in html
    assert '<pre><code class="language-python">print(1)</code></pre>' in html
    assert f'<a href="https://matrix.to/#/@telegram_{bob.id}:{DOMAIN}">' in html


async def test_matrix_formatting_arrives_as_telegram_entities(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_text(group, alice, "hello")
    await user.wait_for_event(room_id, body_is("hello"))
    await user.send_message(
        room_id,
        "fallback",
        html=(
            "<strong>bold</strong> <em>it</em> <del>gone</del> <code>a&lt;b</code> "
            '<script>alert(1)</script><a href="https://matrix.org">m</a> '
            f'<a href="https://matrix.to/#/@telegram_{alice.id}:{DOMAIN}">Alice</a>'
            "<ul><li>one</li></ul>"
        ),
    )
    (sent,) = await eventually(lambda: sent_texts(fake_telegram, group))
    assert sent.params["parse_mode"] == "HTML"
    assert sent.text == "Reader R: bold it gone a<b m Alice\n• one"
    kinds = {entity["type"] for entity in sent.entities}
    assert {"bold", "italic", "strikethrough", "code", "text_link", "text_mention"} <= kinds
    mention = next(e for e in sent.entities if e["type"] == "text_mention")
    assert mention["user"]["id"] == alice.id
    assert "alert" not in (sent.text or "")


async def test_emote_and_notice_are_marked_and_plain_text_is_escaped(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    await user.send_message(room_id, "waves", msgtype="m.emote")
    await user.send_message(room_id, "automated", msgtype="m.notice")
    await user.send_message(room_id, "1 < 2 & <b>not bold</b>")
    sent = await eventually(
        lambda: len(sent_texts(fake_telegram, group)) >= 3 and sent_texts(fake_telegram, group)
    )
    assert [s.text for s in sent] == [
        "* Reader R waves",
        "Reader R (notice): automated",
        "Reader R: 1 < 2 & <b>not bold</b>",
    ]
    assert all(e["type"] == "bold" for s in sent[:1] for e in s.entities)


async def test_relay_formats_are_configurable_and_need_the_relay_level(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    outsider = await make_matrix_user("outsider")
    overrides = {
        "bridge.relay.message_formats": {
            "m.text": "[{displayname} | {mxid}] {message}",
            "m.notice": "{displayname}: {message}",
            "m.emote": "* {displayname} {message}",
        },
        "bridge.permissions": {"*": "relay", outsider.user_id: "none"},
    }
    _, _, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, overrides
    )
    await outsider.join(room_id)
    await outsider.send_message(room_id, "not relayed")
    await user.send_message(room_id, "relayed")
    (sent,) = await eventually(lambda: sent_texts(fake_telegram, group))
    assert sent.text == f"[Reader R | {user.user_id}] relayed"


async def test_long_text_is_split_without_losing_a_character(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    overrides = {
        "bridge.relay.message_formats": {
            "m.text": "{message}",
            "m.notice": "{message}",
            "m.emote": "{message}",
        }
    }
    running, _, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, overrides
    )
    words = [f"word{index}🙂" for index in range(1500)]
    body = " ".join(words)
    html = "<b>" + " ".join(words[:700]) + "</b> " + " ".join(words[700:])
    event_id = await user.send_message(room_id, body, html=html)
    sent = await eventually(
        lambda: (
            any(words[-1] in (s.text or "") for s in sent_texts(fake_telegram, group))
            and sent_texts(fake_telegram, group)
        )
    )
    # About 15,000 UTF-16 units: four messages of at most 4,096.
    assert len(sent) == 4
    texts = [s.text or "" for s in sent]
    # Telegram trims each message, so the space a split falls on is the only thing not shown.
    assert " ".join(texts).split() == words
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    assert any(e["type"] == "bold" for e in sent[1].entities), "bold continues past the split"

    rows = await mapped_parts(running, event_id, len(sent))
    assert sorted((row.part_id, row.remote_id) for row in rows) == [
        (str(index), str(s.message_id)) for index, s in enumerate(sent)
    ]


async def send_split(
    running: RunningBridge,
    fake: FakeTelegram,
    group: Any,
    user: MatrixTestClient,
    room_id: str,
    words: int,
    parts: int,
) -> tuple[str, list[Sent]]:
    """A Matrix message of ``words`` words, sent and waited for until Telegram has all its
    ``parts`` and the bridge has mapped them: its event id, and the parts."""
    event_id = await user.send_message(room_id, " ".join(f"word{n}" for n in range(words)))
    sent = await eventually(
        lambda: len(sent_texts(fake, group)) == parts and sent_texts(fake, group)
    )
    await mapped_parts(running, event_id, parts)
    return event_id, sent


async def mapped_parts(running: RunningBridge, event_id: str, count: int) -> list[Message]:
    """The message map rows of a Matrix event, once all ``count`` parts are recorded."""
    for _ in range(200):
        async with running.bridge.db.session() as session:
            rows = list(await session.scalars(select(Message).where(Message.mxid == event_id)))
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(rows)} of {count} parts of {event_id} were mapped")


async def test_replies_and_the_message_map_both_ways(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    first = fake_telegram.inject_text(group, alice, "question?")
    question = await user.wait_for_event(room_id, body_is("question?"))

    await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "answer!",
            "m.relates_to": {"m.in_reply_to": {"event_id": question["event_id"]}},
        },
    )
    (answer,) = await eventually(lambda: sent_texts(fake_telegram, group))
    assert answer.params["reply_parameters"]["message_id"] == first["message_id"]

    fake_telegram.inject_text(group, alice, "thanks", reply_to=answer.message_id)
    thanks = await user.wait_for_event(room_id, body_is("thanks"))
    replied = thanks["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
    thanks_id = _telegram_id(fake_telegram, group, "thanks")
    mapping: dict[tuple[str, str], str] = {}
    # The mapping is recorded just after the event reached Matrix: wait for it.
    for _ in range(100):
        async with running.bridge.db.session() as session:
            rows = (await session.scalars(select(Message).order_by(Message.id))).all()
        mapping = {(row.remote_id, row.part_id): row.mxid for row in rows}
        if (str(thanks_id), "0") in mapping:
            break
        await asyncio.sleep(0.05)
    assert mapping[(str(first["message_id"]), "0")] == question["event_id"]
    assert mapping[(str(answer.message_id), "0")] == replied
    assert mapping[(str(thanks_id), "0")] == thanks["event_id"]
    assert thanks_id > first["message_id"]


def _telegram_id(fake: FakeTelegram, group: Any, text: str) -> int:
    for message_id, message in fake.chat(group.id).messages.items():
        if message.get("text") == text:
            return message_id
    raise AssertionError(f"no Telegram message {text!r}")


async def test_what_is_not_bridged_yet_is_not_silently_dropped(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    from tests.fakes.telegram import make_png
    from tests.fakes.telegram.objects import chat_object

    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_photo(group, alice, make_png(), caption="a caption")
    photo = await user.wait_for_event(room_id, body_is("a caption"))
    assert photo["content"]["msgtype"] == "m.image", "the file comes with its caption"
    fake_telegram.inject_message(group, alice, story={"chat": chat_object(group), "id": 5})
    notice = await user.wait_for_event(room_id, body_is("Sent a story (not bridged yet)"))
    assert notice["content"]["msgtype"] == "m.notice"
