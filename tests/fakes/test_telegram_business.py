"""Telegram Business in the fake: a bot connected to a user's business account, driven by the
real python-telegram-bot client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
import telegram
from telegram.error import BadRequest, Forbidden

from tests.fakes.telegram import BusinessConnection, FakeTelegram, FakeUser, make_png

pytestmark = pytest.mark.timeout(30)

DAY = 24 * 3600


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake whose bot has Business Mode; fails the test on any schema violation."""
    fake = FakeTelegram(can_connect_to_business=True)
    async with fake:
        yield fake
    fake.assert_no_violations()


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with fake.make_bot() as bot:
        yield bot


def shop(
    fake: FakeTelegram, *, contact_started_bot: bool = False, **rights: bool
) -> tuple[FakeUser, FakeUser, BusinessConnection]:
    """A Premium shop owner who connected the bot (can_reply unless rights are given), and a
    customer; no updates are queued."""
    owner = fake.add_user("Olga", username="olgas_shop", is_premium=True, started_bot=False)
    customer = fake.add_user("Carl", started_bot=contact_started_bot)
    connection = fake.add_business_connection(owner, rights=rights or None)
    return owner, customer, connection


async def take(bot: telegram.Bot) -> tuple[telegram.Update, ...]:
    """The pending updates, confirmed."""
    updates = await bot.get_updates()
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1)
    return updates


# -- the connection --------------------------------------------------------------------------------


async def test_connection_update_and_get_business_connection(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    assert (await bot.get_me()).can_connect_to_business is True
    owner = fake.add_user("Olga", is_premium=True, started_bot=False)
    connection = fake.inject_business_connection(
        owner, rights={"can_reply": True, "can_read_messages": True}
    )

    [update] = await take(bot)
    received = update.business_connection
    assert isinstance(received, telegram.BusinessConnection)
    assert (received.id, received.user.id, received.user_chat_id) == (
        connection.id,
        owner.id,
        owner.id,
    )
    assert received.is_enabled is True
    assert received.rights is not None
    assert (received.rights.can_reply, received.rights.can_read_messages) == (True, True)
    assert received.rights.can_delete_all_messages is None  # only granted rights are listed
    fetched = await bot.get_business_connection(connection.id)
    assert (fetched.id, fetched.date, fetched.rights) == (
        received.id,
        received.date,
        received.rights,
    )

    # New rights: a new update for the same connection.
    fake.inject_business_connection(owner, rights={"can_delete_sent_messages": True})
    [changed] = await take(bot)
    assert changed.business_connection is not None
    assert changed.business_connection.id == connection.id
    assert changed.business_connection.rights is not None
    assert changed.business_connection.rights.can_reply is None
    assert changed.business_connection.rights.can_delete_sent_messages is True

    with pytest.raises(BadRequest, match=r"^Business connection not found$"):
        await bot.get_business_connection("no-such-connection")


def test_connecting_needs_premium_and_a_business_bot() -> None:
    fake = FakeTelegram(can_connect_to_business=True)
    plain = fake.add_user("Pat")
    with pytest.raises(ValueError, match=r"PREMIUM_ACCOUNT_REQUIRED"):
        fake.add_business_connection(plain)
    premium = fake.add_user("Pia", is_premium=True)
    with pytest.raises(ValueError, match=r"unknown rights"):
        fake.add_business_connection(premium, rights={"can_fly": True})
    default_bot = FakeTelegram()  # Business Mode is off in @BotFather unless turned on
    with pytest.raises(ValueError, match=r"BOT_BUSINESS_MISSING"):
        default_bot.add_business_connection(default_bot.add_user("Pia", is_premium=True))


# -- messages in the business account's chats ------------------------------------------------------


async def test_business_messages_are_apart_from_the_bots_own_chat(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    owner, customer, connection = shop(fake, contact_started_bot=True)
    fake.inject_text(fake.private_chat(customer), customer, "hi bot")
    question = fake.inject_business_message(connection, customer, "Do you ship to Oslo?")
    fake.inject_business_message(
        connection, customer, "Yes, we do", from_owner=True, reply_to=question["message_id"]
    )

    to_bot, incoming, answer = await take(bot)
    assert to_bot.message is not None
    assert to_bot.message.business_connection_id is None
    assert incoming.business_message is not None
    assert incoming.business_message.business_connection_id == connection.id
    assert incoming.business_message.chat.id == customer.id
    assert incoming.business_message.from_user is not None
    assert incoming.business_message.from_user.id == customer.id
    assert answer.business_message is not None
    assert answer.business_message.from_user is not None
    assert answer.business_message.from_user.id == owner.id
    assert answer.business_message.sender_business_bot is None  # the owner typed it
    assert answer.business_message.reply_to_message is not None
    assert answer.business_message.reply_to_message.text == "Do you ship to Oslo?"
    # Same chat id, two chats.
    business_chat = fake.business_chat(connection, customer)
    assert business_chat.id == fake.private_chat(customer).id == customer.id
    assert [m["text"] for m in business_chat.messages.values()] == [
        "Do you ship to Oslo?",
        "Yes, we do",
    ]
    assert [m["text"] for m in fake.private_chat(customer).messages.values()] == ["hi bot"]


async def test_bot_replies_as_the_business_user(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(fake)
    question = fake.inject_business_message(connection, customer, "Price list?")
    await take(bot)

    # Without the connection the bot would be writing in its own chat, which does not exist.
    with pytest.raises(Forbidden, match=r"^Forbidden: bot can't initiate conversation"):
        await bot.send_message(customer.id, "Here it is")
    reply = await bot.send_message(
        customer.id,
        "<b>Here</b> it is",
        parse_mode="HTML",
        business_connection_id=connection.id,
        reply_parameters=telegram.ReplyParameters(question["message_id"]),
    )
    assert reply.from_user is not None
    assert reply.from_user.id == owner.id
    assert reply.sender_business_bot is not None
    assert reply.sender_business_bot.id == fake.bot.id
    assert reply.business_connection_id == connection.id
    assert reply.chat.id == customer.id
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == question["message_id"]
    photo = await bot.send_photo(
        customer.id, make_png(20, 10), caption="catalogue", business_connection_id=connection.id
    )
    assert photo.sender_business_bot is not None

    [text_sent, photo_sent] = fake.business_sent(connection, customer)
    assert (text_sent.text, text_sent.entities[0]["type"]) == ("Here it is", "bold")
    assert (photo_sent.method, photo_sent.text) == ("sendPhoto", "catalogue")
    assert fake.sent_to(customer) == []  # nothing went to the bot's own chat
    assert reply.message_id in fake.business_chat(connection, customer).messages
    # Telegram echoes the bot's business sends, marked by sender_business_bot.
    echoes = [u.business_message for u in await take(bot)]
    assert [(m.message_id, m.sender_business_bot is not None) for m in echoes if m] == [
        (reply.message_id, True),
        (photo.message_id, True),
    ]

    assert await bot.send_chat_action(customer.id, "typing", business_connection_id=connection.id)
    assert [(c, a) for _, c, a, _ in fake.business_chat_actions] == [(customer.id, "typing")]
    assert fake.chat_actions == []


async def test_edits_in_a_business_chat(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(fake)
    question = fake.inject_business_message(connection, customer, "Open on Sunday?")
    by_owner = fake.inject_business_message(connection, customer, "Let me check", from_owner=True)
    reply = await bot.send_message(customer.id, "No", business_connection_id=connection.id)
    photo = await bot.send_photo(
        customer.id, make_png(8, 8), caption="hours", business_connection_id=connection.id
    )
    await take(bot)

    fake.inject_business_edit(connection, customer, question["message_id"], "Open on Sundays?")
    [edited] = await take(bot)
    assert edited.edited_business_message is not None
    assert edited.edited_business_message.text == "Open on Sundays?"
    assert edited.edited_business_message.edit_date is not None
    assert edited.edited_business_message.business_connection_id == connection.id

    changed = await bot.edit_message_text(
        "No, sorry",
        chat_id=customer.id,
        message_id=reply.message_id,
        business_connection_id=connection.id,
    )
    assert isinstance(changed, telegram.Message)
    assert changed.text == "No, sorry"
    assert changed.business_connection_id == connection.id
    assert changed.from_user is not None
    assert changed.from_user.id == owner.id
    [record, _] = fake.business_sent(connection, customer)
    assert [v["text"] for v in record.edits] == ["No"]
    captioned = await bot.edit_message_caption(
        chat_id=customer.id,
        message_id=photo.message_id,
        caption="opening hours",
        business_connection_id=connection.id,
    )
    assert isinstance(captioned, telegram.Message)
    assert captioned.caption == "opening hours"
    with pytest.raises(BadRequest, match=r"(?i)^message is not modified"):
        await bot.edit_message_text(
            "No, sorry",
            chat_id=customer.id,
            message_id=reply.message_id,
            business_connection_id=connection.id,
        )
    with pytest.raises(BadRequest, match=r"(?i)^MESSAGE_AUTHOR_REQUIRED$"):
        await bot.edit_message_text(
            "Open on Mondays?",
            chat_id=customer.id,
            message_id=question["message_id"],
            business_connection_id=connection.id,
        )
    with pytest.raises(BadRequest, match=r"(?i)^MESSAGE_ID_INVALID$"):
        await bot.edit_message_text(
            "?", chat_id=customer.id, message_id=999, business_connection_id=connection.id
        )
    # Without the connection the edit looks in the bot's own chat with the customer: none.
    with pytest.raises(BadRequest, match=r"(?i)^chat not found$"):
        await bot.edit_message_text("No!", chat_id=customer.id, message_id=reply.message_id)

    # The owner's own messages only for 48 hours; the bot's at any time.
    fake.advance_time(49 * 3600)
    fake.inject_business_message(connection, customer, "Hello again")  # reopens the 24 hours
    with pytest.raises(BadRequest, match=r"(?i)^MESSAGE_EDIT_TIME_EXPIRED$"):
        await bot.edit_message_text(
            "Checked: closed",
            chat_id=customer.id,
            message_id=by_owner["message_id"],
            business_connection_id=connection.id,
        )
    assert await bot.edit_message_text(
        "No, closed on Sundays",
        chat_id=customer.id,
        message_id=reply.message_id,
        business_connection_id=connection.id,
    )


async def test_deletions_in_a_business_chat(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(
        fake, contact_started_bot=True, can_reply=True, can_delete_sent_messages=True
    )
    typo = fake.inject_business_message(connection, customer, "I want 100 boxes")
    fixed = fake.inject_business_message(connection, customer, "I want 10 boxes")
    reply = await bot.send_message(customer.id, "OK!", business_connection_id=connection.id)
    chat = fake.business_chat(connection, customer)
    await take(bot)

    fake.inject_business_deletion(connection, customer, [typo["message_id"]])
    [update] = await take(bot)
    deleted = update.deleted_business_messages
    assert isinstance(deleted, telegram.BusinessMessagesDeleted)
    assert (deleted.business_connection_id, deleted.chat.id) == (connection.id, customer.id)
    assert deleted.message_ids == (typo["message_id"],)
    assert typo["message_id"] not in chat.messages

    # Not the bot's chat: deleteMessage looks there and finds nothing.
    with pytest.raises(BadRequest, match=r"(?i)^message to delete not found$"):
        await bot.delete_message(customer.id, reply.message_id)
    assert await bot.delete_business_messages(connection.id, [reply.message_id])
    assert fake.business_sent(connection)[0].deleted
    assert reply.message_id not in chat.messages
    # The customer's message needs can_delete_all_messages.
    with pytest.raises(BadRequest, match=r"(?i)^BOT_ACCESS_FORBIDDEN$"):
        await bot.delete_business_messages(connection.id, [fixed["message_id"]])
    assert fixed["message_id"] in chat.messages
    fake.inject_business_connection(owner, rights={"can_delete_all_messages": True})
    assert await bot.delete_business_messages(connection.id, [fixed["message_id"]])
    assert chat.messages == {}

    with pytest.raises(BadRequest, match=r"(?i)^too many message identifiers specified$"):
        await bot.delete_business_messages(connection.id, list(range(1, 102)))
    with pytest.raises(BadRequest, match=r"(?i)^business connection not found$"):
        await bot.delete_business_messages("gone", [1])


async def test_read_business_message(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(fake, can_reply=True, can_read_messages=True)
    first = fake.inject_business_message(connection, customer, "one")
    second = fake.inject_business_message(connection, customer, "two")

    assert await bot.read_business_message(connection.id, customer.id, second["message_id"])
    assert await bot.read_business_message(connection.id, customer.id, first["message_id"])
    assert connection.read_up_to == {customer.id: second["message_id"]}  # a mark, not a set
    with pytest.raises(BadRequest, match=r"(?i)^invalid message identifier specified$"):
        await bot.read_business_message(connection.id, customer.id, 0)

    fake.advance_time(DAY + 1)  # "the chat must have been active in the last 24 hours"
    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_PEER_USAGE_MISSING$"):
        await bot.read_business_message(connection.id, customer.id, second["message_id"])
    fake.inject_business_connection(owner, rights={"can_reply": True})
    third = fake.inject_business_message(connection, customer, "three")
    with pytest.raises(BadRequest, match=r"(?i)^BOT_ACCESS_FORBIDDEN$"):
        await bot.read_business_message(connection.id, customer.id, third["message_id"])


# -- refusals --------------------------------------------------------------------------------------


async def test_chat_and_connection_errors(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(fake)
    fake.inject_business_message(connection, customer, "hello")
    group = fake.add_supergroup("Team", members=[customer])

    async def send(chat_id: int, connection_id: str = connection.id) -> None:
        await bot.send_message(chat_id, "hi", business_connection_id=connection_id)

    with pytest.raises(BadRequest, match=r"^Business connection not found$"):
        await send(customer.id, "no-such-connection")
    with pytest.raises(BadRequest, match=r"^Chat must be a private chat$"):
        await send(group.id)
    with pytest.raises(BadRequest, match=r"^Messages must not be sent to self$"):
        await send(owner.id)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await send(123456789)
    assert fake.business_sent(connection) == []

    # A connection without can_reply may not write, nor show typing.
    fake.inject_business_connection(owner, rights={"can_read_messages": True})
    with pytest.raises(BadRequest, match=r"(?i)^BOT_ACCESS_FORBIDDEN$"):
        await send(customer.id)
    with pytest.raises(BadRequest, match=r"(?i)^BOT_ACCESS_FORBIDDEN$"):
        await bot.send_chat_action(customer.id, "typing", business_connection_id=connection.id)
    with pytest.raises(BadRequest, match=r"(?i)^wrong parameter action in request$"):
        await bot.send_chat_action(customer.id, "dancing", business_connection_id=connection.id)


async def test_disabled_connection(fake: FakeTelegram, bot: telegram.Bot) -> None:
    owner, customer, connection = shop(fake)
    fake.inject_business_message(connection, customer, "before")
    await take(bot)

    fake.inject_business_connection(owner, enabled=False)  # the owner pauses the bot
    fake.inject_business_message(connection, customer, "while paused")
    [update] = await take(bot)  # the message is not delivered
    assert update.business_connection is not None
    assert (update.business_connection.id, update.business_connection.is_enabled) == (
        connection.id,
        False,
    )
    assert (await bot.get_business_connection(connection.id)).is_enabled is False
    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_CONNECTION_INVALID$"):
        await bot.send_message(customer.id, "hi", business_connection_id=connection.id)
    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_CONNECTION_INVALID$"):
        await bot.delete_business_messages(connection.id, [1])

    fake.inject_business_connection(owner)  # back on, same id and rights
    [update] = await take(bot)
    assert update.business_connection is not None
    assert update.business_connection.is_enabled is True
    sent = await bot.send_message(customer.id, "hi", business_connection_id=connection.id)
    assert sent.business_connection_id == connection.id
    texts = [m["text"] for m in fake.business_chat(connection, customer).messages.values()]
    assert texts == ["before", "while paused", "hi"]


async def test_replies_only_within_24_hours_of_the_contacts_last_message(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    _, customer, connection = shop(fake)

    async def reply() -> None:
        await bot.send_message(customer.id, "hi", business_connection_id=connection.id)

    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_PEER_USAGE_MISSING$"):
        await reply()  # the customer never wrote
    fake.inject_business_message(connection, customer, "hello")
    fake.inject_business_message(connection, customer, "owner's words", from_owner=True)
    fake.advance_time(DAY - 5)
    await reply()
    fake.advance_time(10)  # the owner's own message does not count
    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_PEER_USAGE_MISSING$"):
        await reply()
    with pytest.raises(BadRequest, match=r"(?i)^BUSINESS_PEER_USAGE_MISSING$"):
        await bot.send_chat_action(customer.id, "typing", business_connection_id=connection.id)
    # On the wire the code is passed on as it is (PTB capitalises descriptions).
    url = f"{fake.base_url}{fake.token}/sendMessage"
    body = {"chat_id": customer.id, "text": "hi", "business_connection_id": connection.id}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["description"] == "Bad Request: BUSINESS_PEER_USAGE_MISSING"

    fake.inject_business_message(connection, customer, "still there?")
    await reply()
    assert [s.text for s in fake.business_sent(connection, customer)] == ["hi", "hi"]


async def test_allowed_updates_filter_business_updates(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    owner, customer, _ = shop(fake)
    await bot.get_updates(allowed_updates=["message"])
    connection = fake.inject_business_connection(owner, rights={"can_reply": True})
    fake.inject_business_message(connection, customer, "filtered")
    assert await take(bot) == ()
    assert [next(iter(u)) for u in fake.updates.filtered] == [
        "business_connection",
        "business_message",
    ]

    await bot.get_updates(allowed_updates=["business_message"])
    fake.inject_business_connection(owner, rights={"can_reply": True, "can_read_messages": True})
    fake.inject_business_message(connection, customer, "delivered")
    await bot.send_message(customer.id, "echoed", business_connection_id=connection.id)
    kinds = [
        (u.business_message.text if u.business_message else None, u.business_connection)
        for u in await take(bot)
    ]
    assert kinds == [("delivered", None), ("echoed", None)]

    # The default (an empty list) includes the business updates.
    await bot.get_updates(allowed_updates=[])
    fake.inject_business_connection(owner, enabled=False)
    [update] = await take(bot)
    assert update.business_connection is not None
