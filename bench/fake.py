"""The project's fake Bot API server, timestamping what it hands out and what reaches it."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.telegram import FakeTelegram

from .proxies import token_of


class TimedTelegram(FakeTelegram):
    """FakeTelegram that notes, per benchmark token, when a getUpdates answer handed the
    message out and when a sendMessage carrying it arrived (``time.monotonic()``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.handed_out: dict[str, float] = {}
        self.sends: dict[str, float] = {}
        # sendMessage arrivals per chat id, in order: (time, token).
        self.sends_by_chat: dict[int, list[tuple[float, str]]] = {}

    async def _answer(self, method: str, params: dict[str, Any], issues: list[Any]) -> web.Response:
        arrived = time.monotonic()
        response = await super()._answer(method, params, issues)
        if method == "sendMessage":
            token = token_of(params.get("text"))
            if token is not None and response.status == 200:  # faults never get here
                self.sends.setdefault(token, arrived)
                chat = params.get("chat_id")
                if isinstance(chat, int):
                    self.sends_by_chat.setdefault(chat, []).append((arrived, token))
        elif method == "getUpdates" and response.status == 200 and isinstance(response.body, bytes):
            handed = time.monotonic()
            for update in json.loads(response.body).get("result", []):
                message = update.get("message") or update.get("channel_post") or {}
                token = token_of(message.get("text"))
                if token is not None:
                    self.handed_out.setdefault(token, handed)
        return response
