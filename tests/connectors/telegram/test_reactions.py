"""Reactions both ways through a real Synapse and the fake Bot API: a Telegram user's reaction
becomes an m.reaction from their ghost and its removal a redaction; a Matrix user's becomes the
bot's one reaction on the message, normalised, refused with a notice when Telegram has no such
reaction, and replaced (with a word to the one replaced) by the next user's."""

from __future__ import annotations

from typing import Any

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import body_is, portal_with_reader, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


async def react(user: MatrixTestClient, room_id: str, target: str, key: str) -> str:
    relation = {"rel_type": "m.annotation", "event_id": target, "key": key}
    return await user.send_event(room_id, "m.reaction", {"m.relates_to": relation})


def reaction_by(sender: str, key: str) -> Any:
    def match(event: dict[str, Any]) -> bool:
        relation = event.get("content", {}).get("m.relates_to", {})
        return bool(
            event["type"] == "m.reaction"
            and event["sender"] == sender
            and relation.get("key") == key
        )

    return match


async def test_telegram_reactions_come_and_go_in_matrix(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.set_bot_member(group, "administrator")  # only admins hear of reactions
    message = fake_telegram.inject_text(group, alice, "react to me")
    bridged = await user.wait_for_event(room_id, body_is("react to me"))
    ghost = f"@telegram_{alice.id}:synapse.test"

    fake_telegram.inject_reaction(group, alice, message["message_id"], ["👍", "🔥"])
    thumbs = await user.wait_for_event(room_id, reaction_by(ghost, "👍"))
    await user.wait_for_event(room_id, reaction_by(ghost, "🔥"))
    assert thumbs["content"]["m.relates_to"]["event_id"] == bridged["event_id"]

    fake_telegram.inject_reaction(group, alice, message["message_id"], ["🔥"])
    redaction = await user.wait_for_event(
        room_id, lambda e: e["type"] == "m.room.redaction" and e["sender"] == ghost
    )
    assert redaction.get("redacts", redaction["content"].get("redacts")) == thumbs["event_id"]
    # Put back later: a new reaction event, not the old one's transaction.
    fake_telegram.inject_reaction(group, alice, message["message_id"], ["🔥", "👍"])
    again = await user.wait_for_event(
        room_id, lambda e: reaction_by(ghost, "👍")(e) and e["event_id"] != thumbs["event_id"]
    )
    assert again["content"]["m.relates_to"]["event_id"] == bridged["event_id"]


async def test_matrix_reactions_become_the_bots_one_reaction(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    message = fake_telegram.inject_text(group, alice, "like this")
    bridged = await user.wait_for_event(room_id, body_is("like this"))
    key = (group.id, message["message_id"])

    await react(user, room_id, bridged["event_id"], "❤️")  # as Element sends it
    await eventually(lambda: fake_telegram.bot_reactions.get(key), what="the reaction")
    assert fake_telegram.bot_reactions[key] == [{"type": "emoji", "emoji": "❤"}]

    unknown = await react(user, room_id, bridged["event_id"], "🦆")
    notice = await user.wait_for_event(
        room_id, lambda e: "reaction 🦆 was not bridged" in e["content"].get("body", ""),
        after=unknown,
    )  # fmt: skip
    assert "Telegram offers bots no such reaction" in notice["content"]["body"]
    assert fake_telegram.bot_reactions[key] == [{"type": "emoji", "emoji": "❤"}]

    # Another Matrix user's reaction replaces it, and the first is told.
    other = await make_matrix_user("other", displayname="Other O")
    await other.join(room_id)
    await react(other, room_id, bridged["event_id"], "👍")
    told = await user.wait_for_event(
        room_id, lambda e: "no longer shown" in e["content"].get("body", "")
    )
    assert told["content"]["body"].startswith(f"{user.user_id}, your reaction ❤")
    assert fake_telegram.bot_reactions[key] == [{"type": "emoji", "emoji": "👍"}]

    # Its sender takes it back: the bot's reaction goes.
    mine = await react(other, room_id, bridged["event_id"], "🔥")
    await eventually(
        lambda: fake_telegram.bot_reactions[key] == [{"type": "emoji", "emoji": "🔥"}],
        what="the new reaction",
    )
    await other.redact(room_id, mine)
    await eventually(lambda: fake_telegram.bot_reactions[key] == [], what="the reaction gone")
    await user.send_message(room_id, "done")
    await eventually(lambda: sent_texts(fake_telegram, group), what="the next message")
