"""Telegram's side of a webhook: setWebhook's checks, and the delivery of pending updates.

As Telegram does: while a webhook is set, each pending update is POSTed as JSON to its URL,
with the secret in X-Telegram-Bot-Api-Secret-Token; an update is kept, and posted again
after a while, until an answer with a 2xx status; getWebhookInfo tells the last error
("Wrong response from the webhook: 503 Service Unavailable", "Connection refused", "Read
timeout expired").

How the posts are scheduled follows the official server (tdlib/telegram-bot-api,
telegram-bot-api/WebhookActor.cpp and the webhook_queue_id each Client::add_update* call in
Client.cpp gives), not a guess:
- Each update belongs to a queue: a chat's messages, edits and channel posts share the chat's
  queue; its reactions, the bot's own membership and business messages have a queue of their
  own per chat; chat_member updates one per user (``queue_of`` below). Within a queue one
  update is in flight at a time, and the next is posted only after a 2xx for it: one chat's
  messages never overtake each other. Across queues nothing is ordered: up to
  ``max_connections`` (setWebhook's, 40 by default) posts run at once over as many
  connections, each answered in its own time.
- Updates are taken from the pending ones in id order into at most 2 x max_connections
  queues at a time; a free connection takes the front of the queue whose wake-up time is the
  earliest (ties: the smaller queue id).
- An update that fails (no 2xx, a refused or broken connection, a timeout) stays at the front
  of its queue, which waits; the other queues go on meanwhile. It is posted again at once after
  its first failure, then after 2, 4, 8 ... units (Telegram: seconds, up to 60 to 120), or
  after the answer's Retry-After.
- A setWebhook that changes the URL, secret or max_connections closes the old connections
  (posts in flight are abandoned, and sent again from the queue's head) and starts anew; one
  that changes nothing keeps them, and each queue's back-off.

Tests cannot give the bridge an HTTPS URL (no TLS here), so `route_to` stands for the admin's
reverse proxy: the fake posts to that origin with the URL's path and query, as a proxy that
ends TLS and forwards the path would. Without it no host can be reached (the fake never goes
out to the network): each attempt fails as for a host that does not resolve. `latency` stands
for the network between Telegram and that proxy: seconds a post waits before it goes out
(connections differ, so concurrent posts may arrive in any order). `fail` makes that proxy
answer the next posts of chosen updates 502 Bad Gateway without passing them on, as one does
while the bridge behind it restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
DEFAULT_MAX_CONNECTIONS = 40

# Client.cpp's webhook_queue_id: a number added (shifted by 33 bits) to the chat's or user's id
# per kind of update; the kinds not named get a queue of their own per update.
_SHIFT = 33
_CHAT_QUEUES = {
    "message": 0,
    "edited_message": 0,
    "channel_post": 0,
    "edited_channel_post": 0,
    "my_chat_member": 5,
    "chat_boost": 7,
    "removed_chat_boost": 7,
    "message_reaction": 8,
    "message_reaction_count": 9,
    "business_message": 11,
    "edited_business_message": 11,
    "deleted_business_messages": 11,
}
_USER_QUEUES = {
    "callback_query": ("from", 3),
    "shipping_query": ("from", 4),
    "pre_checkout_query": ("from", 4),
    "chat_member": ("new_chat_member", 6),
    "chat_join_request": ("from", 6),
    "business_connection": ("user", 10),
}


def queue_of(update: dict[str, Any]) -> int | None:
    """The official server's webhook queue for an update; None: a queue of its own."""
    for kind, payload in update.items():
        if not isinstance(payload, dict):
            continue
        if kind in _CHAT_QUEUES and isinstance(payload.get("chat"), dict):
            return int(payload["chat"]["id"]) + (_CHAT_QUEUES[kind] << _SHIFT)
        if kind in _USER_QUEUES:
            key, offset = _USER_QUEUES[kind]
            holder = payload.get(key)
            user = holder.get("user") if key == "new_chat_member" and holder else holder
            if isinstance(user, dict) and "id" in user:
                return int(user["id"]) + (offset << _SHIFT)
    return None


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


@dataclass
class PostFault:
    """Posts of the updates ``match`` picks are answered 502 by the proxy, ``times`` more."""

    match: Callable[[dict[str, Any]], bool]
    times: int
    hits: int = 0


@dataclass
class _Queue:
    """Loaded updates of one webhook queue, oldest first, and the front's back-off."""

    key: int
    updates: list[dict[str, Any]]
    wake_at: float
    in_flight: bool = False
    delay: float = 1.0  # in units of retry_delay, doubled from the second failure on
    failures: int = 0


@dataclass
class _Attempt:
    update: dict[str, Any]
    ok: bool
    retry_after: int


@dataclass
class _Actor:
    """What one setWebhook started: its settings, loaded queues and posts in flight."""

    settings: tuple[str, int, str]
    queues: dict[int, _Queue] = field(default_factory=dict)
    loaded: set[int] = field(default_factory=set)  # ids of loaded updates
    posts: dict[asyncio.Task[_Attempt], _Queue] = field(default_factory=dict)
    unique: int = 1 << 60  # queue ids for updates with a queue of their own


class WebhookSender:
    """Posts the queue's pending updates while a webhook is set (runs while the fake runs)."""

    def __init__(self, queue: UpdateQueue, check: Callable[[dict[str, Any]], None]) -> None:
        self._queue = queue
        self._check = check  # records what in a posted update departs from the schema
        # Where deliveries go instead of the URL's own origin (the test's "reverse proxy").
        self.route_to: str | None = None
        # Seconds a post waits before it goes out, per update (a slower connection).
        self.latency: Callable[[dict[str, Any]], float] | None = None
        # The back-off unit and its cap, and how long to wait for an answer (Telegram: 1 s,
        # 60 to 120 s, and longer; tests want them short).
        self.retry_delay = 0.2
        self.max_retry_delay = 1.0
        self.timeout = 10.0
        self.deliveries: list[Delivery] = []
        self.faults: list[PostFault] = []
        self.most_in_flight = 0  # the most posts that were in flight at once
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
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

    def fail(self, match: Callable[[dict[str, Any]], bool], times: int = 1) -> PostFault:
        """The proxy answers the next ``times`` posts of updates ``match`` picks 502 Bad
        Gateway, without passing them on (the bridge never sees them)."""
        fault = PostFault(match, times)
        self.faults.append(fault)
        return fault

    def _fault_for(self, update: dict[str, Any]) -> PostFault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.match(update):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def target(self, url: str) -> str | None:
        if self.route_to is None:
            return None
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.route_to.rstrip('/')}{parts.path or '/'}{query}"

    async def _run(self) -> None:
        actor: _Actor | None = None
        loop = asyncio.get_running_loop()
        try:
            while True:
                webhook = self._queue.webhook
                settings = (
                    webhook.get("url", ""),
                    int(webhook.get("max_connections", DEFAULT_MAX_CONNECTIONS)),
                    webhook.get("secret_token", ""),
                )
                if actor is not None and actor.settings != settings:
                    await self._abandon(actor)  # the old connections are closed
                    actor = None
                if not settings[0]:
                    await self._queue.wait_changed()
                    continue
                if actor is None:
                    actor = _Actor(settings)
                self._load(actor, loop.time())
                self._send(actor, webhook, loop.time())
                changed = asyncio.ensure_future(self._queue.wait_changed())
                waiting: set[asyncio.Future[Any]] = {changed, *actor.posts}
                wake = [q.wake_at for q in actor.queues.values() if q.updates and not q.in_flight]
                timeout = max(0.0, min(wake) - loop.time()) if wake else None
                done, _ = await asyncio.wait(
                    waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                changed.cancel()
                for task in [t for t in actor.posts if t in done]:
                    self._finished(actor, task, loop.time())
        finally:
            if actor is not None:
                await self._abandon(actor)

    def _load(self, actor: _Actor, now: float) -> None:
        """Take pending updates, in id order, into at most 2 x max_connections queues."""
        pending = {id(u) for u in self._queue.pending}
        for key, queue in list(actor.queues.items()):  # dropped or confirmed meanwhile
            queue.updates = [u for u in queue.updates if id(u) in pending]
            if not queue.updates and not queue.in_flight:
                del actor.queues[key]
        actor.loaded &= pending
        limit = 2 * actor.settings[1]
        for update in self._queue.pending:
            if id(update) in actor.loaded:
                continue
            found = queue_of(update)
            key = actor.unique if found is None else found  # None: a queue of its own
            if found is None:
                actor.unique += 1
            if key not in actor.queues and len(actor.queues) >= limit:
                break
            actor.loaded.add(id(update))
            queue = actor.queues.setdefault(key, _Queue(key, [], now))
            queue.updates.append(update)

    def _send(self, actor: _Actor, webhook: dict[str, Any], now: float) -> None:
        free = actor.settings[1] - len(actor.posts)
        ready = [
            q for q in actor.queues.values() if not q.in_flight and q.updates and q.wake_at <= now
        ]
        ready.sort(key=lambda q: (q.wake_at, q.key))
        for queue in ready[: max(0, free)]:
            queue.in_flight = True
            task = asyncio.ensure_future(self._post(webhook, queue.updates[0]))
            actor.posts[task] = queue
        self.most_in_flight = max(self.most_in_flight, len(actor.posts))

    def _finished(self, actor: _Actor, task: asyncio.Task[_Attempt], now: float) -> None:
        queue = actor.posts.pop(task)
        queue.in_flight = False
        attempt = task.result()
        if attempt.ok:
            self._queue.acknowledge(attempt.update)
            actor.loaded.discard(id(attempt.update))
            queue.updates = [u for u in queue.updates if u is not attempt.update]
            queue.delay, queue.failures = 1.0, 0
            # The next update keeps the wake-up time it was loaded with (WebhookActor's
            # drop_event puts its queue back with it).
            if not queue.updates:
                del actor.queues[queue.key]
            return
        delay = float(attempt.retry_after)
        if not attempt.retry_after and queue.failures > 0:
            queue.delay = min(queue.delay * 2, self.max_retry_delay / self.retry_delay)
            delay = queue.delay * self.retry_delay
        queue.failures += 1
        queue.wake_at = now + delay

    async def _abandon(self, actor: _Actor) -> None:
        for task in actor.posts:
            task.cancel()
        for task in actor.posts:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        actor.posts.clear()

    async def _post(self, webhook: dict[str, Any], update: dict[str, Any]) -> _Attempt:
        assert self._session is not None
        self._check(update)
        if self.latency is not None:
            await asyncio.sleep(self.latency(update))
        url = self.target(webhook["url"])
        if url is None:
            return self._note(webhook, update, webhook["url"], None, UNRESOLVED, 0)
        if self._fault_for(update) is not None:
            bad_gateway = "Wrong response from the webhook: 502 Bad Gateway"
            return self._note(webhook, update, url, 502, bad_gateway, 0)
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers[SECRET_HEADER] = webhook["secret_token"]
        status: int | None = None
        error: str | None = None
        retry_after = 0
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
                    with contextlib.suppress(ValueError):
                        retry_after = min(max(int(response.headers.get("Retry-After", 0)), 0), 3600)
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as failure:
            error = f"Connection error: {failure.__class__.__name__}"
        return self._note(webhook, update, url, status, error, retry_after)

    def _note(
        self,
        webhook: dict[str, Any],
        update: dict[str, Any],
        url: str,
        status: int | None,
        error: str | None,
        retry_after: int,
    ) -> _Attempt:
        delivery = Delivery(update["update_id"], url, status, error, time.monotonic())
        self.deliveries.append(delivery)
        if error is not None:
            webhook["last_error_date"] = int(time.time())
            webhook["last_error_message"] = error
        return _Attempt(update, delivery.accepted, retry_after)
