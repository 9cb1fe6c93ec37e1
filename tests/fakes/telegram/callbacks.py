"""Inline keyboards and callback queries: a user pressing a button under a bot's message, and
answerCallbackQuery.

From the Bot API: a callback button carries 1-64 bytes of callback_data; pressing it sends the
bot a callback_query (its id, the user, the message as it is now, chat_instance and the data),
which the bot answers once with answerCallbackQuery. The Bot API warns that the message "can
contain no callback buttons with this data": a modified client may send any data, so
``press_button`` takes ``data`` too. Answering an unknown query id, or one already answered, is
refused with the official server's "query is too old and response timeout expired or query ID
is invalid" (Telegram also lets a query expire after some seconds; that is not modelled).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

Params = dict[str, Any]

QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_MAX_DATA = 64


@dataclass
class CallbackQuery:
    """A press the bot was told of; ``answer`` holds answerCallbackQuery's parameters once
    given."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: Params | None = None


class Callbacks:
    """The callback queries sent to the bot, by id."""

    def __init__(self) -> None:
        self.queries: dict[str, CallbackQuery] = {}
        self._numbers = itertools.count(4_200_000_000_000_001)

    def new(self, user_id: int, chat_id: int, message_id: int, data: str) -> CallbackQuery:
        query = CallbackQuery(str(next(self._numbers)), user_id, chat_id, message_id, data)
        self.queries[query.id] = query
        return query

    def answer(self, p: Params) -> bool:
        query = self.queries.get(p["callback_query_id"])
        if query is None or query.answer is not None:
            raise bad_request(QUERY_INVALID)
        query.answer = dict(p)
        return True


def chat_instance(chat_id: int) -> str:
    """A global identifier of the chat the button's message is in (stable, opaque)."""
    return str(int.from_bytes(hashlib.sha256(str(chat_id).encode()).digest()[:7], "big"))


def check_markup(markup: Any) -> None:
    """An inline keyboard's callback buttons carry 1-64 bytes of data (else the official
    server's BUTTON_DATA_INVALID)."""
    if not isinstance(markup, dict):
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= _MAX_DATA:
                raise bad_request("BUTTON_DATA_INVALID")


def button_data(message: dict[str, Any], label: str) -> str:
    """The callback data of the button labelled ``label`` under a message."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    for row in rows:
        for button in row:
            if button.get("text") == label and "callback_data" in button:
                return str(button["callback_data"])
    labels = [button.get("text") for row in rows for button in row]
    raise ValueError(f"no callback button {label!r} under the message (buttons: {labels})")
