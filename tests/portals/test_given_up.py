"""Given-up events in words (portals/given_up.py): what the stuck command lists, and the notice
the room gets, for each kind of event from either side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.network.events import (
    ChatInfo,
    MessageContent,
    RemoteChatCreate,
    RemoteChatUpdate,
    RemoteDeletion,
    RemoteEvent,
    RemoteMembership,
    RemoteMessage,
    RemoteReaction,
    RemoteUser,
)
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from portals.given_up import notice_of, what_waits
from portals.lanes import MatrixItem, RemoteItem

KEY = PortalKey(RemoteChatID("-100"))
ALICE = RemoteUser(RemoteUserID("42"), "Alice")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def matrix(event_type: str, content: dict[str, Any]) -> MatrixItem:
    event = {"type": event_type, "event_id": "$e", "sender": "@u:hs", "content": content}
    return MatrixItem(1, event)


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        (matrix("m.room.message", {"msgtype": "m.text", "body": "hi"}), "message"),
        (matrix("m.room.message", {"msgtype": "m.image", "body": "a.png"}), "image"),
        (matrix("m.room.message", {"msgtype": "m.audio", "body": "a.ogg"}), "audio file"),
        (matrix("m.sticker", {"body": "s"}), "sticker"),
        (matrix("m.reaction", {}), "reaction"),
        (matrix("m.room.redaction", {}), "redaction"),
        (matrix("m.room.topic", {"topic": "t"}), "room topic"),
        (matrix("m.room.message", "not a dict"), "message"),  # type: ignore[arg-type]
    ],
)
def test_a_matrix_event_is_named_by_its_kind_and_its_sender_told(
    item: MatrixItem, kind: str
) -> None:
    assert what_waits(item, "Telegram") == f"{kind} $e from @u:hs to Telegram"
    text, reply_to = notice_of(item, "it kept failing for 10 min", "Telegram", False)
    assert text == (
        f"@u:hs, your {kind} was not bridged to Telegram: it kept failing for 10 min. The "
        "bridge stopped trying, so that what was sent after it can follow."
    )
    assert reply_to == "$e"


def test_a_send_that_may_have_arrived_says_so() -> None:
    item = matrix("m.room.message", {"msgtype": "m.text", "body": "hi"})
    text, _ = notice_of(item, "a bridge admin (@a:hs) skipped it", "Telegram", True)
    assert text.endswith(" It may have reached Telegram all the same.")


@pytest.mark.parametrize(
    ("event", "what", "told"),
    [
        (
            RemoteMessage(KEY, RemoteMessageID("7"), ALICE, (MessageContent("hi"),), NOW),
            "Telegram message 7 from Alice (42)",
            "A Telegram message 7 from Alice was not bridged",
        ),
        (
            RemoteReaction(KEY, RemoteMessageID("7"), ALICE, ("👍",), (), "r1", NOW),
            "Telegram reaction to message 7 from Alice (42)",
            "A Telegram reaction to message 7 from Alice was not bridged",
        ),
        (
            RemoteDeletion(KEY, RemoteMessageID("7")),
            "Telegram deletion of message 7",
            "A Telegram deletion of message 7 was not bridged",
        ),
        (
            RemoteChatUpdate(KEY, None, name="New"),
            "Telegram change of the chat's name, description or photo",
            "A Telegram change of the chat's name, description or photo was not bridged",
        ),
        (
            RemoteMembership(KEY, ALICE, "join"),
            "Telegram join or leave from Alice (42)",
            "A Telegram join or leave from Alice was not bridged",
        ),
        (
            RemoteChatCreate(KEY, ChatInfo(name="Chat")),
            "Telegram change of the chat",
            "A Telegram change of the chat was not bridged",
        ),
    ],
)
def test_a_remote_event_is_told_in_the_room(event: RemoteEvent, what: str, told: str) -> None:
    item = RemoteItem(1, event)
    assert what_waits(item, "Telegram") == what
    text, reply_to = notice_of(item, "it kept failing for 24.0 h", "Telegram", False)
    assert text == f"{told}: it kept failing for 24.0 h."
    assert reply_to is None
