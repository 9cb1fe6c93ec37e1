"""Forum topics as Matrix threads in the portal room, both ways, through a real Synapse and
the fake Bot API: a topic's first message roots the thread, its messages go into it, and a
Matrix reply in the thread goes into the topic."""

from __future__ import annotations

from typing import Any

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_edits import edit
from tests.connectors.telegram.test_messages import body_is, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


async def test_a_topic_is_a_thread_both_ways(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Forum", members=[alice], username="forum", is_forum=True)
    user = await make_matrix_user("reader", displayname="Reader R")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")

    topic = fake_telegram.inject_topic(group, alice, "Cats")
    root = await user.wait_for_event(room_id, body_is("Topic: Cats"))
    assert "m.relates_to" not in root["content"]
    first = fake_telegram.inject_text(group, alice, "meow", thread_id=topic)
    meow = await user.wait_for_event(room_id, body_is("meow"))
    assert meow["content"]["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root["event_id"],
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root["event_id"]},
    }
    # A reply inside the topic stays a reply, in the thread.
    fake_telegram.inject_text(group, alice, "purr", thread_id=topic, reply_to=first["message_id"])
    purr = await user.wait_for_event(room_id, body_is("purr"))
    relation = purr["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["is_falling_back"] is False
    assert relation["m.in_reply_to"] == {"event_id": meow["event_id"]}
    # Outside topics (the General topic), no thread.
    fake_telegram.inject_text(group, alice, "general")
    general = await user.wait_for_event(room_id, body_is("general"))
    assert "m.relates_to" not in general["content"]

    # From Matrix: a message in the thread goes into the topic, answering nothing in particular.
    in_thread: dict[str, Any] = {
        "msgtype": "m.text",
        "body": "hi cats",
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root["event_id"],
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": meow["event_id"]},
        },
    }
    hi_cats = await user.send_event(room_id, "m.room.message", in_thread)
    await user.send_message(room_id, "hi all")
    into_topic, outside = await eventually(
        lambda: len(sent_texts(fake_telegram, group)) == 2 and sent_texts(fake_telegram, group)
    )
    assert into_topic.params["message_thread_id"] == topic
    assert "reply_parameters" not in into_topic.params
    assert into_topic.message["is_topic_message"] is True
    assert "message_thread_id" not in outside.params

    # An edit that makes the message in the thread longer: the parts it adds go into the topic
    # too (the edit's new content names no thread; the message it edits does).
    longer = [f"cat{index}" for index in range(1500)]
    await edit(user, room_id, hi_cats, " ".join(longer))
    texts = await eventually(
        lambda: len(sent_texts(fake_telegram, group)) == 4 and sent_texts(fake_telegram, group)
    )
    added = texts[2:]
    assert [part.params.get("message_thread_id") for part in added] == [topic, topic]
    shown = " ".join(part.text or "" for part in [into_topic, *added]).split()
    assert shown[-len(longer) :] == longer
