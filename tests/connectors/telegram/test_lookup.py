"""What a look-up for a part in doubt may cost, and when there is none: only an unknown outcome
(the bridge died between noting and recording a part, or Telegram's answer was lost) makes a
part worth looking for; a refusal (429, 4xx) is a clear "not sent"."""

from __future__ import annotations

from tests.connectors.telegram.conftest import StartTelegramBridge, eventually
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser

DOMAIN = "synapse.test"
PLAIN = {
    "bridge.relay.message_formats": {
        "m.text": "{message}",
        "m.notice": "{message}",
        "m.emote": "{message}",
    }
}


def texts_in(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [s.text or "" for s in fake.sent_to(chat_id) if s.method == "sendMessage"]


async def test_a_429_on_a_send_leads_to_no_look_up(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(overrides=PLAIN)
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Flooded", members=[alice])
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
