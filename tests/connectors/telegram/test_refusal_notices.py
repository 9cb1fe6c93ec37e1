"""Telegram's refusals reach the Matrix sender as notices, never with the bot token: a Local Bot
API server names its files by paths under a directory named by the token (also when
telegram.api_url has a path of its own)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.log_context import ContextFilter
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser

DOMAIN = "synapse.test"


def is_notice(event: dict[str, Any]) -> bool:
    content = event.get("content", {})
    return content.get("msgtype") == "m.notice" and "not bridged" in content.get("body", "")


# The Bot API at the root of its host, and behind a proxy's path that has "/bot" in it too.
@pytest.mark.parametrize("fake_telegram", ["", "/botapi"], indirect=True)
async def test_a_refusal_naming_the_token_is_told_without_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(ContextFilter())
    await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Chat", members=[alice], username="refusals")
    user = await make_matrix_user("sender")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    path = f"/var/lib/telegram-bot-api/{fake_telegram.token}/temp/file_7.part"
    fake_telegram.faults.bad_request("sendMessage", f"can't open file {path}")
    event_id = await user.send_message(room_id, "hello")
    notice = await user.wait_for_event(room_id, is_notice)
    body = notice["content"]["body"]
    assert "open file /var/lib/telegram-bot-api/<redacted>/temp/file_7.part" in body
    assert fake_telegram.token not in body
    assert not fake_telegram.sent_to(group), "refused, so nothing was sent"
    # The bridge's log line about it names the portal, its room and the event.
    (record,) = [r for r in caplog.records if r.getMessage().startswith("Message not bridged")]
    ids = getattr(record, "ids", {})
    assert (ids["portal"], ids["room"], ids["event"]) == (str(group.id), room_id, event_id)
    assert ids["lane"].startswith("portal:")
    assert fake_telegram.token not in record.getMessage()
