"""Typing in a portal room shows in Telegram (sendChatAction), renewed while it lasts, through
a real Synapse (ephemeral events pushed to the appservice) and the fake Bot API."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest

import portals.typing
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import portal_with_reader, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


async def set_typing(user: MatrixTestClient, room_id: str, typing: bool) -> None:
    room, me = (urllib.parse.quote(part, safe="") for part in (room_id, user.user_id))
    body = {"typing": typing, "timeout": 30000} if typing else {"typing": False}
    await user.request("PUT", f"/_matrix/client/v3/rooms/{room}/typing/{me}", body)


async def test_typing_is_shown_while_it_lasts(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(portals.typing, "RENEW_EVERY", 0.3)
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )

    def shown() -> list[tuple[int, str, int]]:
        return [action for action in fake_telegram.chat_actions if action[0] == group.id]

    await set_typing(user, room_id, True)
    await eventually(lambda: len(shown()) >= 3, what="typing shown and renewed")
    assert {action for _chat, action, _when in shown()} == {"typing"}

    await set_typing(user, room_id, False)
    # Nothing is left to renew it: the relay's task ended (it existed: renewals were seen).
    await eventually(lambda: not renewing(), what="the renewals stopped")
    settled = len(shown())
    # A message sent afterwards reaches Telegram: a renewal in flight when they stopped has
    # landed by then, and none came after it.
    await user.send_message(room_id, "done typing")
    await eventually(lambda: sent_texts(fake_telegram, group), what="the message after")
    assert len(shown()) == settled, "no more once they stopped"


def renewing() -> list[asyncio.Task[object]]:
    """The typing relay's tasks still running (the bridge runs in the test's event loop)."""
    return [task for task in asyncio.all_tasks() if task.get_name() == "typing" and not task.done()]
