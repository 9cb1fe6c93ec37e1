"""Edits both ways through a real Synapse and the fake Bot API: a Telegram edit becomes an
``m.replace``; a Matrix edit changes the Telegram message in place, part by part for a text
that was split, keeps the relayed sender's name, and a refusal reaches the sender."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.db.models import Message
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge
from tests.connectors.telegram.test_messages import (
    body_is,
    mapped_parts,
    portal_with_reader,
    send_split,
    sent_texts,
)
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


async def edit(
    user: MatrixTestClient, room_id: str, original: str, body: str, html: str | None = None
) -> str:
    new: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if html is not None:
        new |= {"format": "org.matrix.custom.html", "formatted_body": html}
    return await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )


async def test_a_telegram_edit_replaces_the_matrix_message(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    message = fake_telegram.inject_text(group, alice, "helo")
    original = await user.wait_for_event(room_id, body_is("helo"))
    fake_telegram.inject_edit(group, message["message_id"], html="<b>hello</b>")
    fake_telegram.inject_edit(group, message["message_id"], html="<b>hello</b> again")
    first = await user.wait_for_event(room_id, body_is("* hello"))
    second = await user.wait_for_event(room_id, body_is("* hello again"))
    for replacing, text, html in (
        (first, "hello", "<strong>hello</strong>"),
        (second, "hello again", "<strong>hello</strong> again"),
    ):
        content = replacing["content"]
        assert replacing["sender"] == original["sender"]
        relation = {"rel_type": "m.replace", "event_id": original["event_id"]}
        assert content["m.relates_to"] == relation
        assert content["m.new_content"]["body"] == text
        assert content["m.new_content"]["formatted_body"] == html
        assert content["formatted_body"] == f"* {html}"
    assert first["origin_server_ts"] <= second["origin_server_ts"]


async def test_an_edit_of_a_message_never_bridged_arrives_as_a_new_message(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Early", members=[alice], username="early")
    # Written before the chat had a portal: not bridged. Its edit is all Matrix will see of it.
    early = fake_telegram.inject_text(group, alice, "early")
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.inject_edit(group, early["message_id"], "early, edited")
    arrived = await user.wait_for_event(room_id, body_is("early, edited"))
    assert "m.relates_to" not in arrived["content"], "a message of its own, not a replacement"
    assert arrived["sender"].startswith("@telegram_")
    # It is bridged now: a later edit replaces it.
    fake_telegram.inject_edit(group, early["message_id"], "early, edited again")
    again = await user.wait_for_event(room_id, body_is("* early, edited again"))
    relation = {"rel_type": "m.replace", "event_id": arrived["event_id"]}
    assert again["content"]["m.relates_to"] == relation
    fake_telegram.inject_text(group, alice, "after")
    await user.wait_for_event(room_id, body_is("after"))
    bodies = [e.get("content", {}).get("body") for e in await user.room_messages(room_id)]
    assert [b for b in bodies if isinstance(b, str) and "early" in b] == [
        "early, edited",
        "* early, edited again",
    ]


async def test_a_matrix_edit_of_a_message_never_bridged_is_told_to_the_sender(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.faults.bad_request("sendMessage", "chat write forbidden")
    original = await user.send_message(room_id, "teh plan")
    await user.wait_for_event(room_id, lambda e: "message was not bridged" in body_of(e))
    # The sender fixes the message that never went: told that the edit cannot go either.
    await edit(user, room_id, original, "the plan")
    notice = await user.wait_for_event(room_id, lambda e: "edit was not bridged" in body_of(e))
    assert notice["content"]["msgtype"] == "m.notice"
    assert "never reached Telegram" in notice["content"]["body"]
    await user.send_message(room_id, "next")
    await eventually(lambda: sent_texts(fake_telegram, group), what="the next message")
    assert [s.text for s in sent_texts(fake_telegram, group)] == ["Reader R: next"]
    assert not fake_telegram.calls_to("editMessageText")


def body_of(event: dict[str, Any]) -> str:
    body = event.get("content", {}).get("body")
    return body if isinstance(body, str) else ""


async def test_a_matrix_edit_changes_the_telegram_message_in_place(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    original = await user.send_message(room_id, "teh plan")
    (sent,) = await eventually(lambda: sent_texts(fake_telegram, group))
    await edit(user, room_id, original, "the plan", html="<b>the</b> plan")
    await eventually(lambda: sent.edits, what="the edit")
    assert sent.text == "Reader R: the plan", "a relayed edit keeps the sender's name"
    assert {"type": "bold", "offset": 10, "length": 3} in sent.entities
    # Made again to the same text ("message is not modified"): no error, nothing new.
    await edit(user, room_id, original, "the plan", html="<b>the</b> plan")
    await user.send_message(room_id, "next")
    await eventually(lambda: len(sent_texts(fake_telegram, group)) == 2, what="the next message")
    assert len(sent.edits) == 1
    assert [s.text for s in sent_texts(fake_telegram, group)] == [
        "Reader R: the plan",
        "Reader R: next",
    ]
    notices = [
        e
        for e in await user.room_messages(room_id)
        if e.get("content", {}).get("msgtype") == "m.notice"
    ]
    assert notices == []


async def test_an_edit_of_a_split_message_adds_and_removes_parts(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, PLAIN
    )
    # About 10,000 characters: 3 parts.
    original, first = await send_split(running, fake_telegram, group, user, room_id, 1200, 3)

    # Shorter: the first part edited, the other two deleted.
    await edit(user, room_id, original, "short now")
    await eventually(lambda: first[1].deleted and first[2].deleted, what="the deletions")
    assert first[0].text == "short now" and not first[0].deleted
    rows = await mapped_parts(running, original, 1)
    assert [(row.part_id, row.remote_id) for row in rows] == [("0", str(first[0].message_id))]

    # Longer again: the first part edited, two new messages sent and mapped to the original.
    longer = [f"again{index}" for index in range(1200)]
    await edit(user, room_id, original, " ".join(longer))
    texts = await eventually(
        lambda: len(sent_texts(fake_telegram, group)) == 5 and sent_texts(fake_telegram, group)
    )
    shown = [texts[0].text or "", texts[3].text or "", texts[4].text or ""]
    assert " ".join(shown).split() == longer
    rows = await mapped_parts(running, original, 3)
    assert sorted((row.part_id, row.remote_id) for row in rows) == [
        ("0", str(texts[0].message_id)),
        ("1", str(texts[3].message_id)),
        ("2", str(texts[4].message_id)),
    ]

    # A reply to the edited message still points at its first part.
    await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "reply",
            "m.relates_to": {"m.in_reply_to": {"event_id": original}},
        },
    )
    reply = await eventually(
        lambda: len(sent_texts(fake_telegram, group)) == 6 and sent_texts(fake_telegram, group)[5]
    )
    assert reply.params["reply_parameters"]["message_id"] == texts[0].message_id


async def test_a_refused_edit_is_told_to_the_sender(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    original = await user.send_message(room_id, "soon gone")
    (sent,) = await eventually(lambda: sent_texts(fake_telegram, group))
    # Someone deletes it in Telegram; the bot hears nothing of it.
    del fake_telegram.chat(group.id).messages[sent.message_id]
    await edit(user, room_id, original, "too late")
    notice = await user.wait_for_event(
        room_id, lambda e: "edit was not bridged" in e.get("content", {}).get("body", "")
    )
    assert "deleted" in notice["content"]["body"]
    assert not sent.edits


async def test_an_edit_of_someone_elses_message_is_not_carried(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_text(group, alice, "mine")
    theirs = await user.wait_for_event(room_id, body_is("mine"))
    await edit(user, room_id, theirs["event_id"], "not yours")
    await user.send_message(room_id, "after")
    await eventually(lambda: sent_texts(fake_telegram, group), what="the next message")
    assert [s.text for s in sent_texts(fake_telegram, group)] == ["Reader R: after"]
    assert not fake_telegram.calls_to("editMessageText")


async def test_parts_too_old_to_delete_are_blanked_out_by_a_shorter_edit(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, PLAIN
    )
    original, parts = await send_split(running, fake_telegram, group, user, room_id, 1200, 3)
    fake_telegram.advance_time(49 * 3600)  # past the 48 hours Telegram allows for deleting

    await edit(user, room_id, original, "short now")
    await eventually(lambda: parts[0].text == "short now", what="the first part edited")
    await eventually(
        lambda: [part.text for part in parts[1:]] == ["(removed in an edit)"] * 2,
        what="the other parts blanked out",
    )
    assert not any(part.deleted for part in parts)
    # The next message is handled after the edit, so the map is settled by then.
    await user.send_message(room_id, "after")
    await eventually(lambda: len(sent_texts(fake_telegram, group)) == 4, what="the next message")
    async with running.bridge.db.session() as session:
        rows = list(await session.scalars(select(Message).where(Message.mxid == original)))
    assert [row.part_id for row in rows] == ["0"]
    notices = [
        event
        for event in await user.room_messages(room_id)
        if event.get("content", {}).get("msgtype") == "m.notice"
    ]
    assert notices == [], "nothing to tell: the edit went through"
