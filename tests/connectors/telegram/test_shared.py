"""What Telegram users share besides text and files, into Matrix through a real Synapse and the
fake Bot API: locations and venues as m.location, contacts and dice as text, polls as MSC3381
poll starts with a text fallback, and forwards with a header naming their origin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import portal_with_reader
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.objects import user_object
from tests.support.fixtures import MakeMatrixUser

BERLIN = {"latitude": 52.52, "longitude": 13.405}
POLL = {
    "id": "5000",
    "question": "Lunch?",
    "options": [
        {"persistent_id": "a", "text": "Pizza", "voter_count": 0},
        {"persistent_id": "b", "text": "Soup", "voter_count": 0},
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": False,
    "type": "regular",
    "allows_multiple_answers": True,
    "allows_revoting": True,
    "members_only": False,
}

# Telegram's message fields -> (Matrix event type, expected content fields)
CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "location",
        {"location": BERLIN},
        "m.room.message",
        {
            "msgtype": "m.location",
            "body": "Location (geo:52.520000,13.405000)",
            "geo_uri": "geo:52.520000,13.405000",
            "org.matrix.msc3488.location": {"uri": "geo:52.520000,13.405000"},
        },
    ),
    (
        "venue",
        {
            "location": BERLIN,
            "venue": {"location": BERLIN, "title": "Café", "address": "Unter den Linden 1"},
        },
        "m.room.message",
        {
            "msgtype": "m.location",
            "body": "Café, Unter den Linden 1 (geo:52.520000,13.405000)",
            "geo_uri": "geo:52.520000,13.405000",
        },
    ),
    (
        "contact",
        {"contact": {"phone_number": "+49 30 1234", "first_name": "Ada", "last_name": "Lovelace"}},
        "m.room.message",
        {"msgtype": "m.text", "body": "Contact: Ada Lovelace, +49 30 1234"},
    ),
    (
        "dice",
        {"dice": {"emoji": "🎲", "value": 4}},
        "m.room.message",
        {"msgtype": "m.text", "body": "🎲 rolled 4"},
    ),
    (
        "poll",
        {"poll": POLL},
        "org.matrix.msc3381.poll.start",
        {
            "body": "Poll: Lunch?\n1. Pizza\n2. Soup",
            "org.matrix.msc1767.text": "Poll: Lunch?\n1. Pizza\n2. Soup",
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": "Lunch?"},
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": 2,
                "answers": [
                    {"id": "0", "org.matrix.msc1767.text": "Pizza"},
                    {"id": "1", "org.matrix.msc1767.text": "Soup"},
                ],
            },
        },
    ),
]


@pytest.mark.parametrize(
    ("fields", "event_type", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_shared_things_arrive_as_matrix_shows_them(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    fields: dict[str, Any],
    event_type: str,
    expected: dict[str, Any],
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_message(group, alice, **fields)
    event = await user.wait_for_event(room_id, lambda e: e["type"] == event_type)
    assert event["sender"] == f"@telegram_{alice.id}:synapse.test"
    for key, value in expected.items():
        assert event["content"][key] == value, key


async def test_a_forward_names_where_it_came_from(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    bob = fake_telegram.add_user("Bob", last_name="Builder")
    origin = {"type": "user", "date": fake_telegram.now(), "sender_user": user_object(bob)}
    fake_telegram.inject_message(group, alice, text="can we fix it?", forward_origin=origin)
    event = await user.wait_for_event(
        room_id, lambda e: "can we fix it?" in e["content"].get("body", "")
    )
    content = event["content"]
    assert content["body"] == "Forwarded from Bob Builder:\ncan we fix it?"
    assert content["formatted_body"] == (
        "<i>Forwarded from <b>Bob Builder</b></i>:<br/>can we fix it?"
    )

    hidden = {"type": "hidden_user", "date": fake_telegram.now(), "sender_user_name": "A <Ghost>"}
    fake_telegram.inject_message(group, alice, text="boo", forward_origin=hidden)
    spooky = await user.wait_for_event(room_id, lambda e: "boo" in e["content"].get("body", ""))
    assert spooky["content"]["body"] == "Forwarded from A <Ghost>:\nboo"
    assert "<b>A &lt;Ghost&gt;</b>" in spooky["content"]["formatted_body"]


async def test_a_matrix_poll_gets_a_notice(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    poll = await user.send_event(
        room_id,
        "org.matrix.msc3381.poll.start",
        {
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": "Tea?"},
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": 1,
                "answers": [{"id": "y", "org.matrix.msc1767.text": "Yes"}],
            },
            "org.matrix.msc1767.text": "Tea?\n1. Yes",
        },
    )
    notice = await user.wait_for_event(
        room_id, lambda e: "poll was not bridged" in e["content"].get("body", ""), after=poll
    )
    assert "Telegram" in notice["content"]["body"]
    assert fake_telegram.sent_to(group) == []
