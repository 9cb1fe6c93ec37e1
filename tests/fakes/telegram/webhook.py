"""Telegram's side of a webhook: setWebhook's checks, and the delivery of pending updates.

As Telegram does: while a webhook is set, each pending update is POSTed as JSON to its URL,
with the secret in X-Telegram-Bot-Api-Secret-Token; an update is kept, and posted again
after a while, until an answer with a 2xx status; getWebhookInfo tells the last error
("Wrong response from the webhook: 503 Service Unavailable", "Connection refused", "Read
timeout expired"). Here updates go one at a time, in order (Telegram may post several at
once, keeping each chat's order).

Tests cannot give the bridge an HTTPS URL (no TLS here), so `route_to` stands for the admin's
reverse proxy: the fake posts to that origin with the URL's path and query, as a proxy that
ends TLS and forwards the path would. Without it no host can be reached (the fake never goes
out to the network): each attempt fails as for a host that does not resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .errors import bad_request
from .updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PORTS = (443, 80, 88, 8443)
_SECRET = re.compile(r"[A-Za-z0-9_-]*")
MAX_SECRET = 256
UNRESOLVED = "Failed to resolve host: Name or service not known"


def check_webhook_url(url: str) -> None:
    """setWebhook's checks of a URL, with the official server's errors."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    try:
        port = parts.port or 443
    except ValueError:
        raise bad_request("can't parse URL") from None
    if not parts.hostname:
        raise bad_request("can't parse URL")
    if port not in PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(parts.hostname)
        if not address.is_global:
            raise bad_request(f"bad webhook: IP address {address} is reserved")


def check_secret_token(secret: str) -> None:
    if len(secret) > MAX_SECRET:
        raise bad_request("secret token is too long")
    if not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")


@dataclass(frozen=True)
class Delivery:
    """One POST of an update: the status answered, or the error that ended it."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    time: float

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Posts the queue's pending updates while a webhook is set (runs while the fake runs)."""

    def __init__(self, queue: UpdateQueue, check: Callable[[dict[str, Any]], None]) -> None:
        self._queue = queue
        self._check = check  # records what in a posted update departs from the schema
        # Where deliveries go instead of the URL's own origin (the test's "reverse proxy").
        self.route_to: str | None = None
        # Seconds before an update that was not accepted is posted again, and to wait for an
        # answer (Telegram waits longer and backs off further; tests want it short).
        self.retry_delay = 0.2
        self.timeout = 10.0
        self.deliveries: list[Delivery] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="fake-telegram-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def target(self, url: str) -> str | None:
        if self.route_to is None:
            return None
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.route_to.rstrip('/')}{parts.path or '/'}{query}"

    async def _run(self) -> None:
        queue = self._queue
        while True:
            webhook = queue.webhook
            if not webhook.get("url") or not queue.pending:
                await queue.wait_changed()
                continue
            update = queue.pending[0]
            if await self._post(webhook, update):
                queue.acknowledge(update)
            else:
                await asyncio.sleep(self.retry_delay)

    async def _post(self, webhook: dict[str, Any], update: dict[str, Any]) -> bool:
        assert self._session is not None
        self._check(update)
        url = self.target(webhook["url"])
        if url is None:
            return self._note(webhook, update, webhook["url"], None, UNRESOLVED)
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers[SECRET_HEADER] = webhook["secret_token"]
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                url,
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                await response.read()
                status = response.status
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as failure:
            error = f"Connection error: {failure.__class__.__name__}"
        return self._note(webhook, update, url, status, error)

    def _note(
        self,
        webhook: dict[str, Any],
        update: dict[str, Any],
        url: str,
        status: int | None,
        error: str | None,
    ) -> bool:
        delivery = Delivery(update["update_id"], url, status, error, time.monotonic())
        self.deliveries.append(delivery)
        if error is not None:
            webhook["last_error_date"] = int(time.time())
            webhook["last_error_message"] = error
        return delivery.accepted
