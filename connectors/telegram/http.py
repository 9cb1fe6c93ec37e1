"""python-telegram-bot's requests, carried by aiohttp.

python-telegram-bot talks HTTP through a ``BaseRequest``; its own uses httpx. Measured here
(BENCHMARKS.md), an httpx request costs about 0.65 ms of CPU and an aiohttp request about
0.1 ms: for a bridge that makes a Bot API call per message, the larger part of its CPU. aiohttp
is the bridge's HTTP library already (the appservice listener, the homeserver client).

Errors keep python-telegram-bot's contract (TimedOut for timeouts, NetworkError for the rest),
with aiohttp's exception as the cause, which tells whether a request may have reached Telegram
(see calls.py). One addition: a 4xx status python-telegram-bot has no class for (413 Request
Entity Too Large from Telegram's front end, for one) would come out as a NetworkError, which
reads as passing trouble; it is a refusal, and raised as RequestRefused.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from bridge.redaction import REDACTED

# Each request at DEBUG, its URL without the bot token it holds (the log filter would redact
# it too; these lines need not count on it).
log = logging.getLogger("connectors.telegram.http")

# Told of each call: its method, seconds, and its error (an HTTP status, timeout or
# connection), None if it succeeded (the bridge's metrics).
CallObserver = Callable[[str, float, str | None], None]


# 4xx statuses python-telegram-bot reads for itself: 400 BadRequest, 401 and 404 InvalidToken,
# 403 Forbidden, 409 Conflict, 429 RetryAfter (with retry_after). 408 asks to try again.
_READ_BY_PTB = frozenset({400, 401, 403, 404, 408, 409, 429})


class RequestRefused(TelegramError):
    """Telegram (or its front end) refused the request with a 4xx status that is neither a
    Bot API error python-telegram-bot knows nor a request to wait: sending it again would be
    refused again."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{description} (HTTP {status})")
        self.status = status


def api_method(url: str) -> str:
    """The Bot API method a request URL calls (never the token in it); file downloads as one."""
    if "/file/bot" in url:
        return "file_download"
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        token: str,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        observe: CallObserver | None = None,
    ) -> None:
        self._observe = observe
        # The bot token, taken out of every text this makes from a URL, an error or a body.
        self._token = token
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        data: Any = request_data.json_parameters if request_data is not None else None
        if files:
            form = aiohttp.FormData()
            for name, value in (data or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            data = form
        read = self._given(read_timeout, self._read_timeout)
        write = self._given(
            write_timeout, self._media_write_timeout if files else self._write_timeout
        )
        connect = self._given(connect_timeout, self._connect_timeout)
        pool = self._given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            # aiohttp's "connect" includes waiting for a free connection in the pool.
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            # Writing a request and reading its answer: aiohttp times the reading only.
            sock_read=None if read is None else read + (write or 0.0),
        )
        shown = without_token(url, self._token)
        started = time.monotonic()
        try:
            async with session.request(method, url, data=data, timeout=timeout) as response:
                body = await response.read()
        except TimeoutError as error:
            log.debug("%s %s timed out after %.3f s", method, shown, time.monotonic() - started)
            self._observed(url, started, "timeout")
            raise TimedOut from error
        except aiohttp.ClientError as error:
            log.debug("%s %s failed: %s", method, shown, without_token(repr(error), self._token))
            self._observed(url, started, "connection")
            text = without_token(f"aiohttp.{error.__class__.__name__}: {error}", self._token)
            raise NetworkError(text) from error
        log.debug(
            "%s %s -> %d in %.3f s", method, shown, response.status, time.monotonic() - started
        )
        self._observed(url, started, str(response.status) if response.status >= 400 else None)
        if response.status != 200:
            # Error texts reach Matrix rooms (a notice of what did not cross); a Local Bot API
            # server names its files by a path holding the token.
            body = without_token(body.decode("utf-8", "replace"), self._token).encode()
        if 400 <= response.status < 500 and response.status not in _READ_BY_PTB:
            raise RequestRefused(response.status, _description(body, response.reason))
        return response.status, body

    def _observed(self, url: str, started: float, error: str | None) -> None:
        if self._observe is not None:
            self._observe(api_method(url), time.monotonic() - started, error)

    @staticmethod
    def _given(value: Any, default: float | None) -> float | None:
        """A timeout python-telegram-bot passed, or ours where it left the default."""
        if isinstance(value, DefaultValue):
            return default
        return None if value is None else float(value)


def _description(body: bytes, reason: str | None) -> str:
    """The Bot API's error description, or the HTTP reason (a front end's page has none)."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    description = answer.get("description") if isinstance(answer, dict) else None
    if isinstance(description, str) and description:
        return description
    return reason or "refused"


def without_token(text: str, token: str) -> str:
    """``text`` without the bot token, as given or percent-encoded (its colon). The token itself,
    not a part of the URL: a Bot API behind a path of its own (``https://proxy/botapi``) has
    "/bot" earlier in its URLs than the token."""
    for form in (token, quote(token, safe="")):
        text = text.replace(form, REDACTED)
    return text
