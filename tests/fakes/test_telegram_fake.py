"""The fake Telegram, driven by the real python-telegram-bot client (and raw HTTP where PTB
would not send the broken request being tested)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import telegram
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, MessageHandler, filters

from tests.fakes.telegram import FakeTelegram, Member, make_png
from tests.fakes.telegram.pytest_plugin import fake_telegram  # noqa: F401
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(30)


@pytest_asyncio.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[telegram.Bot]:  # noqa: F811
    async with fake_telegram.make_bot() as bot:
        yield bot


async def raw_post(fake: FakeTelegram, method: str, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}{fake.token}/{method}", **kwargs) as response,
    ):
        return response.status, await response.json()


# -- basics ----------------------------------------------------------------------------------------


async def test_get_me_reports_the_configured_bot() -> None:
    async with (
        FakeTelegram(bot_username="relay_bot", can_read_all_group_messages=True) as fake,
        fake.make_bot() as bot,
    ):
        me = await bot.get_me()
        assert (me.id, me.username, me.is_bot) == (fake.bot.id, "relay_bot", True)
        assert me.can_read_all_group_messages is True
        assert me.can_join_groups is True
    fake.assert_no_violations()


async def test_unknown_token_and_method_and_case_insensitive_names(
    fake_telegram: FakeTelegram,  # noqa: F811
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake_telegram.base_url}1:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        status, body = await raw_post(fake_telegram, "noSuchMethod")
        assert (status, body["description"]) == (404, "Not Found")
        [violation] = fake_telegram.take_violations()
        assert (violation.method, violation.what) == (
            "noSuchMethod",
            "no such method in the Bot API",
        )
        status, body = await raw_post(fake_telegram, "GETME")
        assert status == 200
        assert body["result"]["id"] == fake_telegram.bot.id
        # GET with a query string and POST with a JSON body are accepted too.
        url = f"{fake_telegram.base_url}{fake_telegram.token}/getChatMemberCount"
        async with session.get(url, params={"chat_id": str(fake_telegram.bot.id)}) as response:
            assert response.status == 400  # the bot has no private chat with itself
        status, body = await raw_post(fake_telegram, "getWebhookInfo", json={})
        assert (status, body["result"]["url"]) == (200, "")
    with pytest.raises(telegram.error.InvalidToken):
        async with telegram.Bot("1:wrong", base_url=fake_telegram.base_url) as other:
            await other.get_me()


# -- updates ---------------------------------------------------------------------------------------


async def test_injected_message_arrives_and_offset_confirms_it(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice", username="alice")
    chat = fake_telegram.private_chat(alice)
    sent = fake_telegram.inject_text(chat, alice, html="hi <b>there</b> 😀")

    updates = await bot.get_updates()
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert (message.message_id, message.text) == (sent["message_id"], "hi there 😀")
    assert message.entities[0].type == "bold"
    # Unconfirmed updates come again; an offset above the id confirms (and drops) them.
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1) == ()
    assert fake_telegram.updates.offsets == [updates[0].update_id + 1]

    second = fake_telegram.inject_text(chat, alice, "second")
    third = fake_telegram.inject_text(chat, alice, "third")
    [first_of_two] = await bot.get_updates(limit=1)
    assert first_of_two.message is not None
    assert first_of_two.message.message_id == second["message_id"]
    assert first_of_two.update_id == updates[0].update_id + 1  # ids increase by one
    [last] = await bot.get_updates(offset=-1)  # keeps only the last update
    assert last.message is not None
    assert last.message.message_id == third["message_id"]


async def test_start_through_a_deep_link_opens_the_private_chat(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    stranger = fake_telegram.add_user("Stranger", started_bot=False)
    with pytest.raises(Forbidden, match=r"can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "hello?")
    with pytest.raises(ValueError, match=r"start payload"):
        fake_telegram.inject_start(stranger, "not allowed!")  # t.me links take [A-Za-z0-9_-]

    fake_telegram.inject_start(stranger, "invite-42_x")
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None
    assert message.text == "/start invite-42_x"
    assert message.chat.type == "private"
    assert message.chat.id == message.from_user.id == stranger.id  # type: ignore[union-attr]
    assert message.parse_entities(["bot_command"]) == {message.entities[0]: "/start"}
    assert stranger.started_bot
    await bot.send_message(stranger.id, "welcome")  # the chat exists now
    assert [s.text for s in fake_telegram.sent_to(stranger)] == ["welcome"]

    # Restart after blocking the bot: unblocked (my_chat_member), then a bare /start.
    stranger.blocked_bot = True
    fake_telegram.inject_start(stranger)
    unblocked, start = await bot.get_updates(offset=update.update_id + 1)
    assert unblocked.my_chat_member is not None
    assert unblocked.my_chat_member.old_chat_member.status == "kicked"
    assert unblocked.my_chat_member.new_chat_member.status == "member"
    assert start.message is not None
    assert start.message.text == "/start"
    assert start.message.entities[0].length == 6
    assert not stranger.blocked_bot


async def test_long_poll_returns_when_an_update_arrives_or_after_the_timeout(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)

    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    fake_telegram.inject_text(chat, alice, "wake up")
    updates = await poll
    assert len(updates) == 1
    assert time.monotonic() - started < 2

    started = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3


async def test_ptb_application_polls_and_confirms_on_stop(
    fake_telegram: FakeTelegram,  # noqa: F811
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    received: list[str] = []
    done = asyncio.Event()

    async def on_message(update: telegram.Update, context: object) -> None:
        assert update.message is not None
        received.append(update.message.text or "")
        if len(received) == 2:
            done.set()

    app = (
        ApplicationBuilder()
        .token(fake_telegram.client_token())
        .base_url(fake_telegram.base_url)
        .base_file_url(fake_telegram.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, on_message))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=5, allowed_updates=["message", "chat_member"])
    first = fake_telegram.inject_text(chat, alice, "one")
    fake_telegram.inject_text(chat, alice, "two")
    await asyncio.wait_for(done.wait(), 5)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()

    assert received == ["one", "two"]
    assert [c.method for c in fake_telegram.calls[:2]] == ["getMe", "deleteWebhook"]
    assert fake_telegram.updates.pending == []  # stopping confirmed what was handled
    assert len(fake_telegram.updates.confirmed) == 2
    assert first["message_id"] == 1
    assert fake_telegram.updates.allowed == {"message", "chat_member"}


async def test_second_get_updates_terminates_the_waiting_one(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    # PTB runs one getUpdates at a time per Bot, so the second poller is another instance.
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    async with fake_telegram.make_bot() as other:
        assert await other.get_updates(timeout=0) == ()  # a short poll displaces nobody
        second = asyncio.create_task(other.get_updates(timeout=10))
        with pytest.raises(Conflict, match=r"terminated by other getUpdates request"):
            await first
        alice = fake_telegram.add_user("Alice")
        fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "hi")
        assert len(await second) == 1
    outcomes = [p.outcome for p in fake_telegram.updates.polls]
    assert outcomes == ["conflict", "answered", "answered"]


async def test_allowed_updates_filter_at_creation_and_are_remembered(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    bob = fake_telegram.add_user("Bob")
    group = fake_telegram.add_supergroup(
        "Team",
        members=[alice],
        bot_status="administrator",
        bot_rights={"can_delete_messages": True},
    )
    # By default chat_member updates are not even queued.
    fake_telegram.inject_join(group, bob)
    assert [next(k for k in u if k != "update_id") for u in await _raw_updates(bot)] == ["message"]

    await bot.get_updates(allowed_updates=["chat_member"])
    fake_telegram.inject_leave(group, bob)
    kinds = [next(k for k in u if k != "update_id") for u in await _raw_updates(bot)]
    assert kinds == ["chat_member"]  # the left_chat_member message is filtered out now

    # Not passing allowed_updates keeps the setting; an empty list restores the default.
    await bot.get_updates()
    assert fake_telegram.updates.allowed == {"chat_member"}
    await bot.get_updates(allowed_updates=[])
    assert "message" in fake_telegram.updates.allowed
    assert "chat_member" not in fake_telegram.updates.allowed


async def _raw_updates(bot: telegram.Bot) -> list[dict[str, Any]]:
    """Pending updates as JSON, and confirm them."""
    updates = await bot.get_updates()
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1)
    return [u.to_dict() for u in updates]


async def test_reactions_and_member_updates_need_an_admin_bot(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Team", members=[alice], bot_status="member")
    await bot.get_updates(allowed_updates=["message", "message_reaction", "chat_member"])
    message = fake_telegram.inject_text(group, alice, "/start")
    fake_telegram.inject_reaction(group, alice, message["message_id"], ["👍"])
    assert [u.message is not None for u in await bot.get_updates()] == [True]

    fake_telegram.set_bot_member(group, "administrator")
    fake_telegram.inject_reaction(group, alice, message["message_id"], ["🔥"])
    updates = await bot.get_updates()
    reaction = updates[-1].message_reaction
    assert reaction is not None
    assert [r.emoji for r in reaction.old_reaction] == ["👍"]  # type: ignore[attr-defined]
    assert [r.emoji for r in reaction.new_reaction] == ["🔥"]  # type: ignore[attr-defined]


async def test_privacy_mode_hides_ordinary_group_messages(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    other_bot = fake_telegram.add_user("Other", is_bot=True)
    group = fake_telegram.add_group("Friends", members=[alice, other_bot])
    fake_telegram.inject_text(group, alice, "just chatting")
    fake_telegram.inject_text(group, alice, "/help@fake_bridge_bot")
    fake_telegram.inject_text(group, alice, "hey @fake_bridge_bot")
    own = await bot.send_message(group.id, "from the bot")
    fake_telegram.inject_text(group, alice, "a reply", reply_to=own.message_id)
    fake_telegram.set_bot_member(group, "administrator")
    fake_telegram.inject_text(group, alice, "seen by admins")
    fake_telegram.inject_text(group, other_bot, "bots never see bots")
    texts = [u.message.text for u in await bot.get_updates() if u.message]
    assert texts == ["/help@fake_bridge_bot", "hey @fake_bridge_bot", "a reply", "seen by admins"]


async def test_chat_events_produce_service_messages_and_member_updates(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    bob = fake_telegram.add_user("Bob")
    group = fake_telegram.add_group("Friends", owner=alice, bot_status=None)
    await bot.get_updates(allowed_updates=["message", "my_chat_member", "chat_member"])

    fake_telegram.inject_bot_status(group, "member", by=alice)
    fake_telegram.inject_join(group, bob, by=alice)
    fake_telegram.inject_title_change(group, "Best friends", by=alice)
    fake_telegram.inject_photo_change(group, make_png(8, 8), by=alice)
    fake_telegram.inject_leave(group, bob)
    fake_telegram.inject_bot_status(group, "administrator", by=alice, can_delete_messages=True)
    updates = await bot.get_updates()

    added = updates[0].my_chat_member
    assert added is not None
    assert (added.old_chat_member.status, added.new_chat_member.status) == ("left", "member")
    assert updates[1].message is not None
    assert updates[1].message.new_chat_members[0].id == fake_telegram.bot.id
    assert updates[2].message is not None
    assert updates[2].message.new_chat_members[0].id == bob.id
    assert updates[3].message is not None
    assert updates[3].message.new_chat_title == "Best friends"
    assert updates[4].message is not None
    assert updates[4].message.new_chat_photo
    assert updates[5].message is not None
    assert updates[5].message.left_chat_member is not None
    promoted = updates[6].my_chat_member
    assert promoted is not None
    assert isinstance(promoted.new_chat_member, telegram.ChatMemberAdministrator)
    assert promoted.new_chat_member.can_delete_messages is True
    assert len(updates) == 7  # chat_member updates needed the bot to be an admin

    assert await bot.leave_chat(group.id)
    [left] = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert left.my_chat_member is not None
    assert left.my_chat_member.new_chat_member.status == "left"
    with pytest.raises(Forbidden, match=r"^Forbidden: bot is not a member of the group chat$"):
        await bot.send_message(group.id, "still here?")


async def test_channel_posts_and_edits(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    channel = fake_telegram.add_channel("News", username="news")
    post = fake_telegram.inject_channel_post(channel, "Breaking", author_signature="Ann")
    fake_telegram.inject_edit(channel, post["message_id"], html="<b>Breaking</b> news")
    updates = await bot.get_updates()
    assert updates[0].channel_post is not None
    assert updates[0].channel_post.author_signature == "Ann"
    assert updates[0].channel_post.sender_chat is not None
    edited = updates[1].edited_channel_post
    assert edited is not None
    assert (edited.text, edited.entities[0].length) == ("Breaking news", 8)
    assert edited.edit_date is not None


async def test_messages_on_behalf_of_the_group_or_a_channel(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    """An anonymous admin writes as the group, a channel's admin as the channel; from holds
    Telegram's stand-in bots. Anyone else cannot."""
    shy, owner, plain = (fake_telegram.add_user(n) for n in ("Shy", "Owner", "Plain"))
    group = fake_telegram.add_supergroup("Open", members=[owner, plain])
    fake_telegram.set_member(group, shy, "administrator", is_anonymous=True, custom_title="Mod")
    channel = fake_telegram.add_channel("Owner's", owner=owner)
    fake_telegram.inject_text(group, shy, "/bridge", on_behalf_of=group)
    fake_telegram.inject_text(group, owner, "/bridge", on_behalf_of=channel)
    anonymous, as_channel = [u.message for u in await bot.get_updates()]
    assert anonymous is not None and as_channel is not None
    assert anonymous.sender_chat is not None and anonymous.sender_chat.id == group.id
    assert anonymous.from_user is not None and anonymous.from_user.id == 1087968824
    assert anonymous.author_signature == "Mod"
    assert as_channel.sender_chat is not None and as_channel.sender_chat.id == channel.id
    assert as_channel.from_user is not None and as_channel.from_user.id == 136817688
    with pytest.raises(ValueError, match="anonymous administrators"):
        fake_telegram.inject_text(group, plain, "hi", on_behalf_of=group)
    with pytest.raises(ValueError, match="does not administer"):
        fake_telegram.inject_text(group, plain, "hi", on_behalf_of=channel)
    basic = fake_telegram.add_group("Basic", members=[owner])
    with pytest.raises(ValueError, match="supergroups only"):
        fake_telegram.inject_text(basic, owner, "hi", on_behalf_of=channel)


async def test_group_migration_updates_and_chat_migrated_error(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_group("Friends", owner=alice)
    supergroup = fake_telegram.inject_migration(group, by=alice)
    updates = await bot.get_updates()
    old, new = (u.message for u in updates)
    assert old is not None
    assert new is not None
    assert (old.chat.id, old.migrate_to_chat_id) == (group.id, supergroup.id)
    assert (new.chat.id, new.migrate_from_chat_id) == (supergroup.id, group.id)
    assert new.chat.type == "supergroup"

    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(group.id, "hello?")
    assert raised.value.new_chat_id == supergroup.id
    assert (await bot.get_chat(group.id)).id == group.id  # reading the old group still works
    sent = await bot.send_message(supergroup.id, "hello!")
    assert sent.chat.id == supergroup.id


# -- sending ---------------------------------------------------------------------------------------


async def test_send_message_html_entities_use_utf16_offsets(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    # U+1F600 and U+1D11E are outside the BMP: two UTF-16 code units each.
    html = '😀 <b>x😀y</b> <a href="https://example.org/a">𝄞</a> <i>&lt;z&gt;</i>'
    message = await bot.send_message(alice.id, html, parse_mode=ParseMode.HTML)
    assert message.text == "😀 x😀y 𝄞 <z>"
    got = [(e.type, e.offset, e.length, e.url) for e in message.entities]
    assert got == [
        ("bold", 3, 4, None),
        ("text_link", 8, 2, "https://example.org/a"),
        ("italic", 11, 3, None),
    ]
    assert message.parse_entity(message.entities[0]) == "x😀y"
    record = fake_telegram.sent_to(alice.id)[-1]
    assert (record.method, record.text, record.params["parse_mode"]) == (
        "sendMessage",
        "😀 x😀y 𝄞 <z>",
        "HTML",
    )
    assert record.entities == [e.to_dict() for e in message.entities]


async def test_send_message_options_reply_thread_preview(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    forum = fake_telegram.add_supergroup("Forum", members=[alice], is_forum=True)
    topic = fake_telegram.add_forum_topic(forum, "General chat")
    original = fake_telegram.inject_text(forum, alice, "quote me please", thread_id=topic)
    message = await bot.send_message(
        forum.id,
        "replying",
        message_thread_id=topic,
        reply_parameters=telegram.ReplyParameters(original["message_id"], quote="me"),
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
    )
    assert message.message_thread_id == topic
    assert message.is_topic_message is True
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == original["message_id"]
    assert message.quote is not None
    assert (message.quote.text, message.quote.position) == ("me", 6)
    assert message.link_preview_options is not None
    assert message.link_preview_options.is_disabled is True
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(forum.id, "x", message_thread_id=topic + 100)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(forum.id, "x", reply_parameters=telegram.ReplyParameters(999))
    ok = await bot.send_message(
        forum.id,
        "x",
        reply_parameters=telegram.ReplyParameters(999, allow_sending_without_reply=True),
    )
    assert ok.reply_to_message is None


async def test_text_limits_count_utf16_code_units(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    with pytest.raises(BadRequest, match=r"(?i)^message text is empty$"):
        await bot.send_message(alice.id, "")
    with pytest.raises(BadRequest, match=r"(?i)^text must be non-empty$"):
        await bot.send_message(alice.id, "<b> </b>\n", parse_mode=ParseMode.HTML)
    assert (await bot.send_message(alice.id, "😀" * 2048)).text == "😀" * 2048
    with pytest.raises(BadRequest, match=r"(?i)^message is too long$"):
        await bot.send_message(alice.id, "😀" * 2048 + "x")
    with pytest.raises(BadRequest, match=r"(?i)^message caption is too long$"):
        await bot.send_photo(alice.id, make_png(), caption="x" * 1025)


HTML_REFUSALS = [
    ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
    ("ab <br> c", 'Unsupported start tag "br" at byte offset 3'),
    ("😀 <x>", 'Unsupported start tag "x" at byte offset 5'),  # offsets count UTF-8 bytes
    ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
    ("a <b", "Unclosed start tag at byte offset 2"),
    ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
    ("text</b>", "Unexpected end tag at byte offset 4"),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("<b>x</b", "Unclosed end tag at byte offset 4"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<span class="bold">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
    ('<a href="x.y>z</a>', "Unclosed start tag at byte offset 0"),
    ("<a href=x/y>z</a>", "Unexpected end of name token at byte offset 8"),
    ('<tg-emoji emoji-id="x">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
    ("<pre>x</code>", 'Unmatched end tag at byte offset 6, expected "</pre>", found "</code>"'),
]


@pytest.mark.parametrize(("html", "error"), HTML_REFUSALS)
async def test_html_refusals(html: str, error: str) -> None:
    from tests.fakes.telegram import TelegramHTMLError, parse_telegram_html

    with pytest.raises(TelegramHTMLError) as raised:
        parse_telegram_html(html)
    assert raised.value.description == f"Bad Request: can't parse entities: {error}"


async def test_html_refusal_reaches_ptb_as_bad_request(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(alice.id, "x <y> z", parse_mode=ParseMode.HTML)
    assert raised.value.message == (
        'Can\'t parse entities: unsupported start tag "y" at byte offset 2'
    )  # PTB capitalises the description it got: "can't parse entities: Unsupported ..."


async def test_edit_message_text_and_not_modified(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    sent = await bot.send_message(alice.id, "<b>one</b>", parse_mode=ParseMode.HTML)
    edited = await bot.edit_message_text("<b>two</b>", alice.id, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, telegram.Message)
    assert edited.text == "two"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)^message is not modified: specified new message"):
        await bot.edit_message_text("<b>two</b>", alice.id, sent.message_id, parse_mode="HTML")
    incoming = fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "mine")
    with pytest.raises(BadRequest, match=r"(?i)^message can't be edited$"):
        await bot.edit_message_text("theirs", alice.id, incoming["message_id"])
    with pytest.raises(BadRequest, match=r"(?i)^message to edit not found$"):
        await bot.edit_message_text("x", alice.id, 9999)
    record = fake_telegram.sent_to(alice.id)[0]
    assert record.text == "two"
    assert [e["text"] for e in record.edits] == ["one"]
    assert record.content_edits == 1


async def test_button_only_edits_are_versions_but_not_content_edits(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    """A look-up's probe puts a button on a message and takes it off: two versions, while what
    the message says changed once (the text edit between them)."""
    alice = fake_telegram.add_user("Alice")
    sent = await bot.send_message(alice.id, "first")
    button = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("x", callback_data="x")]]
    )
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=button)
    await bot.edit_message_text("second", alice.id, sent.message_id, reply_markup=button)
    await bot.edit_message_reply_markup(alice.id, sent.message_id)
    record = fake_telegram.sent_to(alice.id)[0]
    assert len(record.edits) == 3
    assert record.content_edits == 1


async def test_delete_message_rules(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Team", members=[alice])
    own = await bot.send_message(group.id, "mine")
    theirs = fake_telegram.inject_text(group, alice, "/theirs")
    with pytest.raises(BadRequest, match=r"(?i)^message can't be deleted$"):
        await bot.delete_message(group.id, theirs["message_id"])
    assert await bot.delete_message(group.id, own.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)^message to delete not found$"):
        await bot.delete_message(group.id, own.message_id)
    assert fake_telegram.deleted == [(group.id, own.message_id)]
    assert fake_telegram.sent_to(group)[0].deleted
    old = await bot.send_message(group.id, "old")
    fake_telegram.advance_time(49 * 3600)
    with pytest.raises(BadRequest, match=r"(?i)^message can't be deleted$"):
        await bot.delete_message(group.id, old.message_id)


async def test_set_message_reaction(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:  # noqa: F811
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Team", members=[alice])
    message = fake_telegram.inject_text(group, alice, "/react")
    assert await bot.set_message_reaction(group.id, message["message_id"], "❤")
    assert fake_telegram.bot_reactions[(group.id, message["message_id"])] == [
        {"type": "emoji", "emoji": "❤"}
    ]
    with pytest.raises(BadRequest, match=r"(?i)^reactions_too_many$"):
        await bot.set_message_reaction(group.id, message["message_id"], ["👍", "🔥"])
    with pytest.raises(BadRequest, match=r"(?i)^message to react not found$"):
        await bot.set_message_reaction(group.id, 999, "👍")


async def test_forbidden_and_chat_not_found(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    outside = fake_telegram.add_group("Not joined", bot_status=None)
    kicked = fake_telegram.add_supergroup("Kicked", bot_status="kicked")
    channel = fake_telegram.add_channel("Channel", bot_status="member")
    stranger = fake_telegram.add_user("Stranger", started_bot=False)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot is not a member of the group chat$"):
        await bot.send_message(outside.id, "hi")
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the supergroup chat$"):
        await bot.send_message(kicked.id, "hi")
    with pytest.raises(BadRequest, match=r"(?i)^need administrator rights in the channel chat$"):
        await bot.send_message(channel.id, "hi")
    with pytest.raises(
        Forbidden, match=r"^Forbidden: bot can't initiate conversation with a user$"
    ):
        await bot.send_message(stranger.id, "hi")
    with pytest.raises(BadRequest, match=r"(?i)^chat not found$"):
        await bot.send_message(-100999, "hi")
    with pytest.raises(BadRequest, match=r"(?i)^chat not found$"):
        await bot.get_chat("@nobody_here")


# -- chats, members and files ---------------------------------------------------------------------


async def test_get_chat_and_chat_members_parse_into_the_right_classes(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice", last_name="A.", username="alice", bio="Hi there")
    bob = fake_telegram.add_user("Bob")
    carol = fake_telegram.add_user("Carol")
    group = fake_telegram.add_supergroup(
        "Team",
        username="team",
        description="We work",
        photo=make_png(640, 640),
        owner=alice,
        members=[bob],
        bot_status="administrator",
        bot_rights={"can_delete_messages": True, "can_change_info": True},
    )
    fake_telegram.set_member(group, carol, "restricted", can_send_messages=True)

    info = await bot.get_chat("@team")
    assert isinstance(info, telegram.ChatFullInfo)
    assert (info.id, info.title, info.description, info.username) == (
        group.id,
        "Team",
        "We work",
        "team",
    )
    assert info.photo is not None
    assert info.max_reaction_count == 11
    private = await bot.get_chat(alice.id)
    assert (private.type, private.first_name, private.bio) == ("private", "Alice", "Hi there")

    expected = {
        alice.id: telegram.ChatMemberOwner,
        bob.id: telegram.ChatMemberMember,
        carol.id: telegram.ChatMemberRestricted,
        fake_telegram.bot.id: telegram.ChatMemberAdministrator,
        fake_telegram.add_user("Dave").id: telegram.ChatMemberLeft,
    }
    for user_id, cls in expected.items():
        member = await bot.get_chat_member(group.id, user_id)
        assert type(member) is cls, (user_id, member)
    me = await bot.get_chat_member(group.id, fake_telegram.bot.id)
    assert isinstance(me, telegram.ChatMemberAdministrator)
    assert (me.can_delete_messages, me.can_change_info, me.can_promote_members) == (
        True,
        True,
        False,
    )
    admins = await bot.get_chat_administrators(group.id)
    assert [type(a) for a in admins] == [telegram.ChatMemberOwner, telegram.ChatMemberAdministrator]
    assert await bot.get_chat_member_count(group.id) == 4

    assert await bot.set_chat_title(group.id, "Team 2")
    assert await bot.set_chat_description(group.id, "New")
    with pytest.raises(BadRequest, match=r"(?i)^chat description is not modified$"):
        await bot.set_chat_description(group.id, "New")
    info = await bot.get_chat(group.id)
    assert (info.title, info.description) == ("Team 2", "New")


async def test_file_downloads_through_get_file(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    avatar = make_png(200, 100, (1, 2, 3))
    alice = fake_telegram.add_user("Alice", profile_photos=[avatar])
    group = fake_telegram.add_group("Friends", photo=make_png(50, 50, (9, 9, 9)))

    photos = await bot.get_user_profile_photos(alice.id)
    assert photos.total_count == 1
    largest = photos.photos[0][-1]
    assert (largest.width, largest.height) == (200, 100)
    file = await bot.get_file(largest.file_id)
    assert bytes(await file.download_as_bytearray()) == avatar

    info = await bot.get_chat(group.id)
    assert info.photo is not None
    chat_photo = await bot.get_file(info.photo.big_file_id)
    assert group.photo is not None
    assert bytes(await chat_photo.download_as_bytearray()) == group.photo.sizes[-1].data
    with pytest.raises(BadRequest, match=r"(?i)^invalid file_id$"):
        await bot.get_file("nonsense")


async def test_sending_files_stores_bytes_and_returns_media_messages(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    photo = await bot.send_photo(
        alice.id, make_png(1600, 800), caption="<i>pic</i>", parse_mode="HTML"
    )
    assert [(p.width, p.height) for p in photo.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1280, 640),
    ]
    assert (photo.caption, photo.caption_entities[0].type) == ("pic", "italic")
    again = await bot.send_photo(alice.id, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id

    document = await bot.send_document(alice.id, b"%PDF-1.4 ...", filename="report.pdf")
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "report.pdf",
        "application/pdf",
    )
    assert fake_telegram.file_bytes(document.document.file_id) == b"%PDF-1.4 ..."
    sticker = await bot.send_sticker(alice.id, make_png(512, 512), emoji="👍")
    assert sticker.sticker is not None
    assert (sticker.sticker.width, sticker.sticker.emoji) == (512, "👍")
    video = await bot.send_video(alice.id, b"\x00\x00mp4", width=640, height=360, duration=3)
    assert video.video is not None
    assert (video.video.width, video.video.height) == (640, 360)
    audio = await bot.send_audio(alice.id, b"ID3", title="Song", filename="song.mp3")
    assert audio.audio is not None
    assert audio.audio.title == "Song"
    voice = await bot.send_voice(alice.id, b"OggS", filename="note.ogg")
    assert voice.voice is not None
    animation = await bot.send_animation(alice.id, b"GIF89a\x01\x00\x01\x00", filename="a.gif")
    assert animation.animation is not None
    assert animation.document is not None  # Telegram sets both, for old clients
    with pytest.raises(BadRequest, match=r"(?i)^image_process_failed$"):
        await bot.send_photo(alice.id, b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)^wrong file identifier/http url specified$"):
        await bot.send_document(alice.id, "no-such-file-id")
    assert [s.method for s in fake_telegram.sent_to(alice)] == [
        "sendPhoto",
        "sendPhoto",
        "sendDocument",
        "sendSticker",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
    ]


async def test_webhook_commands_and_lifecycle_methods(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.get_my_commands(language_code="de") == ()
    assert await bot.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match=r"can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == ()
    assert await bot.log_out()
    assert await bot.close()
    assert fake_telegram.logged_out
    assert fake_telegram.closed


# -- faults ----------------------------------------------------------------------------------------


async def test_retry_after_fault_surfaces_as_retry_after(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    alice = fake_telegram.add_user("Alice")
    fake_telegram.faults.retry_after("sendMessage", 7, chat_id=alice.id)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(alice.id, "hi")
    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(alice.id, "hi")  # used up after one call
    calls = fake_telegram.calls_to("sendMessage")
    assert [(c.fault, c.status) for c in calls] == [("retry_after", 429), (None, 200)]
    assert calls[0].time <= calls[1].time
    assert fake_telegram.sent_to(alice)[0].text == "hi"
    assert len(fake_telegram.sent) == 1  # the refused call sent nothing


async def test_server_error_hang_and_delay_faults(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    other = fake_telegram.add_user("Other")
    fake_telegram.faults.server_error("SENDMESSAGE", 502, chat_id=other.id)
    await bot.send_message(alice.id, "not affected")
    with pytest.raises(NetworkError, match=r"Bad Gateway"):
        await bot.send_message(other.id, "hi")

    fake_telegram.faults.hang("getMe")
    with pytest.raises(telegram.error.TimedOut):
        await bot.get_me(read_timeout=0.3)
    assert fake_telegram.calls_to("getMe")[-1].status is None  # never answered

    fake_telegram.faults.delay("getChat", 0.25, times=2)
    started = time.monotonic()
    await bot.get_chat(alice.id)
    await bot.get_chat(alice.id)
    await bot.get_chat(alice.id)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert [c.fault for c in fake_telegram.calls_to("getChat")] == ["delay", "delay", None]


async def test_a_held_answer_comes_when_the_test_lets_it_go(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    other = fake_telegram.add_user("Other")
    held = fake_telegram.faults.hold("getChat", chat_id=alice.id)
    asking = asyncio.create_task(bot.get_chat(alice.id))
    await eventually(lambda: held.hits == 1, what="the call held")
    # Other calls are answered meanwhile; the held one only once it is let go.
    assert (await bot.get_chat(other.id)).id == other.id
    assert not asking.done()
    held.release()
    assert (await asking).id == alice.id
    assert [c.fault for c in fake_telegram.calls_to("getChat")] == ["hold", None]


# -- schema checks ---------------------------------------------------------------------------------


async def test_request_violations_are_recorded_and_refused(fake_telegram: FakeTelegram) -> None:  # noqa: F811
    alice = fake_telegram.add_user("Alice")
    status, body = await raw_post(
        fake_telegram, "sendMessage", data={"chat_id": str(alice.id), "text": "x", "colour": "red"}
    )
    assert (status, body["description"]) == (400, 'Bad Request: unknown parameter "colour"')
    status, body = await raw_post(fake_telegram, "sendMessage", json={"chat_id": [1], "text": "x"})
    assert status == 400
    status, _ = await raw_post(
        fake_telegram,
        "sendMessage",
        data={"chat_id": str(alice.id), "text": "x", "reply_parameters": '{"message_id": "1"}'},
    )
    assert status == 400
    status, body = await raw_post(fake_telegram, "sendMessage", json={"text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, _ = await raw_post(
        fake_telegram,
        "setMessageReaction",
        json={"chat_id": alice.id, "message_id": 1, "reaction": [{"type": "emoji", "emoji": "❤️"}]},
    )
    assert status == 400
    found = [(v.direction, v.method, v.where) for v in fake_telegram.take_violations()]
    assert found == [
        ("request", "sendMessage", "colour"),
        ("request", "sendMessage", "chat_id"),
        ("request", "sendMessage", "reply_parameters.message_id"),
        ("request", "sendMessage", "chat_id"),
        ("request", "setMessageReaction", "reaction[0].emoji"),  # U+FE0F makes it unlisted
    ]
    assert fake_telegram.sent == []


async def test_well_formed_ptb_requests_record_no_violation(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    await bot.send_message(
        alice.id,
        "x",
        entities=[telegram.MessageEntity("bold", 0, 1)],
        disable_notification=True,
        protect_content=False,
        reply_markup=telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("go", url="https://example.org")]]
        ),
    )
    assert fake_telegram.violations == []


async def test_broken_responses_are_recorded(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    message = fake_telegram.inject_text(chat, alice, "fine")
    fake_telegram.inject_update({"message": {**message, "colour": "red"}})
    fake_telegram.inject_update(
        {
            "my_chat_member": {
                "chat": {"id": chat.id, "type": "private", "first_name": "Alice"},
                "from": {"id": alice.id, "is_bot": False, "first_name": "Alice"},
                "date": 0,
                "old_chat_member": {"status": "member", "user": message["from"]},
                "new_chat_member": {"status": "owner", "user": message["from"]},
            }
        }
    )
    fake_telegram.inject_update({"message": {**message, "date": 1.5}})
    updates = await bot.get_updates()  # PTB itself accepts all of these silently
    assert len(updates) == 4
    found = {(v.direction, v.method, v.where) for v in fake_telegram.take_violations()}
    assert found == {
        ("response", "getUpdates", "result[1].message.colour"),
        ("response", "getUpdates", "result[2].my_chat_member.new_chat_member.status"),
        ("response", "getUpdates", "result[3].message.date"),
    }
    # A member whose status no ChatMember subtype has: PTB falls back to the base class.
    group = fake_telegram.add_supergroup("Team", members=[alice])
    group.members[alice.id] = Member("moderator")
    member = await bot.get_chat_member(group.id, alice.id)
    assert type(member) is telegram.ChatMember
    [violation] = fake_telegram.take_violations()
    assert (violation.method, violation.where) == ("getChatMember", "result.status")
    assert "cannot resolve ChatMember" in violation.what


async def test_pressing_a_button_gives_a_callback_query_answered_once(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice, bob = fake_telegram.add_user("Alice"), fake_telegram.add_user("Bob")
    keyboard = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Yes", callback_data="yes:1")]]
    )
    sent = await bot.send_message(alice.id, "Sure?", reply_markup=keyboard)
    message = fake_telegram.sent_to(alice)[0].message
    # Telegram queues only what allowed_updates names.
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    fake_telegram.press_button(alice, message, "Yes")
    assert await bot.get_updates(timeout=0) == ()
    await bot.get_updates(timeout=0, allowed_updates=["message", "callback_query"])
    fake_telegram.press_button(alice, message, "Yes")
    fake_telegram.press_button(alice, message, data="forged")  # a modified client
    first, forged = [u.callback_query for u in await bot.get_updates(timeout=0)]
    assert first is not None and forged is not None
    assert (first.data, first.from_user.id, forged.data) == ("yes:1", alice.id, "forged")
    assert first.message is not None and first.message.message_id == sent.message_id
    assert first.chat_instance == forged.chat_instance
    assert await bot.answer_callback_query(first.id, text="Done")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(first.id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(ValueError, match="cannot see"):
        fake_telegram.press_button(bob, message, "Yes")
    with pytest.raises(ValueError, match="no callback button"):
        fake_telegram.press_button(alice, message, "No")
    too_long = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("x", callback_data="x" * 65)]]
    )
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(alice.id, "Long", reply_markup=too_long)
    # Taking the buttons away: pressing is no longer possible.
    await bot.edit_message_text("Done", alice.id, sent.message_id)
    with pytest.raises(ValueError, match="no callback button"):
        fake_telegram.press_button(alice, message, "Yes")


async def test_unmodelled_method_is_a_violation(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    with pytest.raises(BadRequest, match=r"does not model"):
        await bot.send_dice(alice.id)
    [violation] = fake_telegram.take_violations()
    assert (violation.direction, violation.method) == ("unsupported", "sendDice")


async def test_queued_updates_are_snapshots(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    message = fake_telegram.inject_text(chat, alice, "first draft")
    fake_telegram.inject_edit(chat, message["message_id"], "final")
    new, edited = await bot.get_updates()
    assert new.message is not None
    assert new.message.text == "first draft"
    assert edited.edited_message is not None
    assert edited.edited_message.text == "final"
    assert message["text"] == "final"  # the stored message is the current version


async def test_send_chat_action(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:  # noqa: F811
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Team", members=[alice])
    assert await bot.send_chat_action(group.id, "upload_document")
    assert [(chat, action) for chat, action, _ in fake_telegram.chat_actions] == [
        (group.id, "upload_document")
    ]
    with pytest.raises(BadRequest, match=r"(?i)^wrong parameter action in request$"):
        await bot.send_chat_action(group.id, "dancing")
    assert len(fake_telegram.chat_actions) == 1
