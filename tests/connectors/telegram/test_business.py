"""Telegram Business through a real Synapse and the fake Bot API: a linked Premium user connects
the bot to their account; a contact's messages open a room for them, their own Matrix messages
go out as themselves, their Telegram messages come back as their Matrix account (double
puppeting with their own token), edits, deletions and read markers cross, missing rights and
the 24-hour window are told, and it all survives a restart."""

from __future__ import annotations

from typing import Any

from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_accounts import ask_for_link, link_telegram
from tests.connectors.telegram.test_messages import body_is
from tests.fakes.telegram import FakeTelegram, FakeUser, Sent
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"
RIGHTS = {
    "can_reply": True,
    "can_read_messages": True,
    "can_delete_sent_messages": True,
}


async def business_owner(
    fake: FakeTelegram, user: MatrixTestClient, bot: str
) -> tuple[FakeUser, str]:
    """A Premium Telegram user linked to ``user`` (who gave a token for double puppeting)."""
    fake.can_connect_to_business = True
    owner = fake.add_user("Owner", is_premium=True)
    dm = await open_dm(user, bot)
    await link_telegram(fake, owner, await ask_for_link(user, dm))
    sent = await user.send_message(dm, f"login-matrix {user.access_token}")
    await user.wait_for_event(dm, notice_containing("Delete your message"), after=sent)
    return owner, dm


async def sent_for(fake: FakeTelegram, connection: Any, contact: FakeUser, text: str) -> Sent:
    found: Sent = await eventually(
        lambda: next((s for s in fake.business_sent(connection, contact) if s.text == text), None),
        what=f"{text!r} sent for the business account",
    )
    return found


async def test_a_business_chat_both_ways(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    user = await make_matrix_user("merchant", displayname="Merchant")
    owner, dm = await business_owner(fake_telegram, user, running.bot)
    connection = fake_telegram.inject_business_connection(owner, rights=RIGHTS)
    await user.wait_for_event(dm, notice_containing("Business account is connected"))

    carol = fake_telegram.add_user("Carol")
    asked = fake_telegram.inject_business_message(connection, carol, "do you have it in blue?")
    room_id = await user.wait_for_invite()
    await user.join(room_id)
    question = await user.wait_for_event(room_id, body_is("do you have it in blue?"))
    assert question["sender"] == f"@telegram_{carol.id}:{DOMAIN}"

    # From Matrix: as the owner themself, no relay name.
    mine = await user.send_message(room_id, "yes, in blue and red")
    answer = await sent_for(fake_telegram, connection, carol, "yes, in blue and red")
    assert answer.message["from"]["id"] == owner.id
    # From the owner's phone: as their own Matrix account, never sent back.
    phone = fake_telegram.inject_business_message(
        connection, carol, "sent from my phone", from_owner=True
    )
    from_phone = await user.wait_for_event(room_id, body_is("sent from my phone"))
    assert from_phone["sender"] == user.user_id
    # The contact edits and deletes; the owner's edit and redaction in Matrix cross too.
    fake_telegram.inject_business_edit(connection, carol, asked["message_id"], "in green?")
    edit = await user.wait_for_event(room_id, body_is("* in green?"))
    assert edit["content"]["m.relates_to"]["event_id"] == question["event_id"]
    fake_telegram.inject_business_deletion(connection, carol, [phone["message_id"]])
    await user.wait_for_event(
        room_id,
        lambda e: (
            e.get("type") == "m.room.redaction"
            and e.get("content", {}).get("redacts", e.get("redacts")) == from_phone["event_id"]
        ),
    )
    await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "* yes, in blue",
            "m.new_content": {"msgtype": "m.text", "body": "yes, in blue"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": mine},
        },
    )
    await eventually(lambda: answer.text == "yes, in blue", what="the edit in Telegram")
    await user.redact(room_id, mine)
    await eventually(lambda: answer.deleted, what="the deletion in Telegram")
    # Reading in Matrix marks the chat read for the account.
    path = f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{question['event_id']}"
    await user.request("POST", path, {})
    await eventually(
        lambda: connection.read_up_to.get(carol.id) == asked["message_id"], what="the read"
    )

    # Over a restart: the connection, the link and the room are kept.
    await running.stop()
    running = await telegram_bridge()
    fake_telegram.inject_business_message(connection, carol, "still there?")
    await user.wait_for_event(room_id, body_is("still there?"))
    await user.send_message(room_id, "still here")
    await sent_for(fake_telegram, connection, carol, "still here")


async def test_missing_rights_the_reply_window_and_disconnection_are_told(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    user = await make_matrix_user("shopkeeper", displayname="Shopkeeper")
    owner, dm = await business_owner(fake_telegram, user, running.bot)
    connection = fake_telegram.inject_business_connection(owner, rights={"can_read_messages": True})
    connected = await user.wait_for_event(dm, notice_containing("Business account is connected"))
    assert "lacks can_reply" in connected["content"]["body"]
    dave = fake_telegram.add_user("Dave")
    fake_telegram.inject_business_message(connection, dave, "hello?")
    room_id = await user.wait_for_invite()
    await user.join(room_id)
    await user.wait_for_event(room_id, body_is("hello?"))

    sent = await user.send_message(room_id, "hi dave")
    refusal = await user.wait_for_event(room_id, notice_containing("not bridged"), after=sent)
    assert "right" in refusal["content"]["body"]

    fake_telegram.inject_business_connection(owner, rights=RIGHTS)
    fake_telegram.advance_time(25 * 3600)
    sent = await user.send_message(room_id, "sorry for the wait")
    late = await user.wait_for_event(room_id, notice_containing("not bridged"), after=sent)
    assert "24 hours" in late["content"]["body"]

    fake_telegram.inject_business_connection(owner, rights=RIGHTS, enabled=False)
    await user.wait_for_event(dm, notice_containing("disconnected the bridge"))
    assert fake_telegram.business_sent(connection, dave) == []


async def test_a_contact_writing_to_the_bot_itself_does_not_reach_the_business_room(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """A business chat is keyed by the contact's own chat id, as the bot's private chat with
    that contact is: what the contact writes to the bot is not the business conversation."""
    running = await telegram_bridge()
    user = await make_matrix_user("florist", displayname="Florist")
    owner, dm = await business_owner(fake_telegram, user, running.bot)
    connection = fake_telegram.inject_business_connection(owner, rights=RIGHTS)
    await user.wait_for_event(dm, notice_containing("Business account is connected"))
    erin = fake_telegram.add_user("Erin")
    fake_telegram.inject_business_message(connection, erin, "roses, please")
    room_id = await user.wait_for_invite()
    await user.join(room_id)
    await user.wait_for_event(room_id, body_is("roses, please"))

    fake_telegram.inject_text(fake_telegram.private_chat(erin), erin, "hello bot, just you")
    answer = await eventually(
        lambda: [s for s in fake_telegram.sent_to(erin.id) if s.text], what="the bot's answer"
    )
    assert "Nobody on Matrix has a conversation with you" in (answer[0].text or "")
    # A barrier: the business conversation goes on, and only it reaches the room.
    fake_telegram.inject_business_message(connection, erin, "and tulips")
    await user.wait_for_event(room_id, body_is("and tulips"))
    bodies = [
        event["content"].get("body")
        for event in await user.room_messages(room_id)
        if event.get("type") == "m.room.message"
    ]
    assert "hello bot, just you" not in bodies
