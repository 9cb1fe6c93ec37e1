"""Faults a test arms for the next calls of a method: flood control (429 with retry_after),
server errors, refusals (400), answers the client cannot read, answers that never come,
connections dropped without an answer, and slow answers (for a time, or until the test lets
them go)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from .errors import ApiError

FaultKind = Literal[
    "retry_after", "server_error", "bad_request", "malformed", "hang", "drop", "delay", "hold"
]
ANY_METHOD = "*"


@dataclass
class Fault:
    kind: FaultKind
    method: str  # lower-cased method name, or "*" for every method
    times: int  # calls still to affect
    chat_id: int | str | None = None  # only calls with this chat_id, if set
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0  # for "delay"
    carried_out: bool = False  # for "drop": the request took effect before the connection went
    description: str = ""  # for "bad_request"
    result: Any = None  # for "malformed"
    hits: int = 0
    # For "hold": set when the test lets the held answers go.
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let the answers held by this fault go (and answer the next ones at once)."""
        self.released.set()

    def matches(self, method: str, chat_id: Any) -> bool:
        if self.times <= 0 or self.method not in (ANY_METHOD, method.lower()):
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> ApiError:
        if self.kind == "retry_after":
            return ApiError(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                {"retry_after": self.retry_after},
            )
        if self.kind == "bad_request":
            return ApiError(400, f"Bad Request: {self.description}")
        return ApiError(self.status, HTTPStatus(self.status).phrase)


class Faults:
    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def _arm(self, fault: Fault) -> Fault:
        fault.method = fault.method.lower()
        self.armed.append(fault)
        return fault

    def retry_after(
        self, method: str, seconds: int = 1, *, times: int = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Answer 429 "Too Many Requests: retry after N" with parameters.retry_after = N."""
        return self._arm(Fault("retry_after", method, times, chat_id, retry_after=seconds))

    def server_error(
        self, method: str, status: int = 500, *, times: int = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Answer with a 5xx status (PTB raises NetworkError)."""
        return self._arm(Fault("server_error", method, times, chat_id, status=status))

    def bad_request(
        self, method: str, description: str, *, times: int = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Refuse with 400 "Bad Request: <description>" (a Local Bot API server's refusals
        name files by their path on the server, under a directory named by the bot token)."""
        return self._arm(Fault("bad_request", method, times, chat_id, description=description))

    def malformed(
        self, method: str, result: Any, *, times: int = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Answer "ok" with ``result`` as it is, not as the Bot API's schema says (a broken
        proxy or server): the client cannot read it. Not counted as the fake's violation."""
        return self._arm(Fault("malformed", method, times, chat_id, result=result))

    def hang(self, method: str, *, times: int = 1, chat_id: int | str | None = None) -> Fault:
        """Never answer: the call waits until the client gives up (or the fake stops)."""
        return self._arm(Fault("hang", method, times, chat_id))

    def drop(
        self,
        method: str,
        *,
        carried_out: bool = False,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> Fault:
        """Close the connection once the request was read, without an answer (a proxy or the
        network lost it: httpx raises RemoteProtocolError, aiohttp ServerDisconnectedError).
        With `carried_out` the request took effect first, as Telegram may have done: the
        client cannot tell which."""
        return self._arm(Fault("drop", method, times, chat_id, carried_out=carried_out))

    def delay(
        self, method: str, seconds: float, *, times: int = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Answer normally, but only after `seconds`."""
        return self._arm(Fault("delay", method, times, chat_id, seconds=seconds))

    def hold(self, method: str, *, times: int = 1, chat_id: int | str | None = None) -> Fault:
        """Answer normally, but only once the test calls ``release`` on the returned fault:
        a slow answer exactly as long as the test needs (``hits`` says when it came)."""
        return self._arm(Fault("hold", method, times, chat_id))

    def take(self, method: str, chat_id: Any) -> Fault | None:
        """The first armed fault for this call, used up by one."""
        for fault in self.armed:
            if fault.matches(method, chat_id):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        self.armed.clear()
