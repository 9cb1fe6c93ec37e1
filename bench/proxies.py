"""The two HTTP proxies of the driver process, which timestamp and count the bridge's traffic.

- ``HomeserverProxy`` sits between the bridge (and the appservice baseline) and Synapse: it
  counts requests per endpoint and notes when each benchmark message's send request arrives.
- ``AppserviceProxy`` is the appservice URL Synapse is given: it notes when each benchmark
  message's transaction arrives and forwards it to the bridge. It can also hold transactions
  (acknowledge them to Synapse and pass them on later, in batches of up to 100 events as Synapse
  itself does after a backlog) so that a backlog reaches the bridge at once, and drop the events
  of rooms that are not the bridge's business (the baselines' rooms).

Times are ``time.monotonic()`` of the driver process, the clock the fake Bot API server uses too.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import uuid
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.ports import free_port

TOKEN = re.compile(r"bench:([a-z0-9-]+):(\d+)")
# Hop-by-hop and length headers are the proxy's own business.
_SKIP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
}
MAX_EVENTS_PER_TRANSACTION = 100
TRANSACTIONS = "/_matrix/app/v1/transactions/"
_SIGILS = {"!": "{room}", "$": "{event}", "@": "{user}", "#": "{alias}"}


def token_of(text: object) -> str | None:
    """The benchmark token (``tag:number``) in a message text, if any."""
    if not isinstance(text, str):
        return None
    match = TOKEN.search(text)
    return f"{match.group(1)}:{match.group(2)}" if match else None


def endpoint(method: str, path: str) -> str:
    """A request's endpoint with ids, transaction ids and state keys left out:
    ``PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}``."""
    parts = [urllib.parse.unquote(p) for p in path.split("/")]
    shaped = []
    for index, part in enumerate(parts):
        two_back = parts[index - 2] if index >= 2 else ""
        one_back = parts[index - 1] if index >= 1 else ""
        if part[:1] in _SIGILS:
            shaped.append(_SIGILS[part[0]])
        elif two_back in ("send", "redact") or one_back == "transactions":
            shaped.append("{txn}")
        elif two_back == "state" and part:
            shaped.append("{key}")
        else:
            shaped.append(part)
    return f"{method} {'/'.join(shaped)}"


def _forwarded_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _SKIP_HEADERS}


class _Proxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def _forward(
        self, method: str, path_qs: str, headers: dict[str, str], body: bytes
    ) -> web.Response:
        assert self._session is not None
        try:
            async with self._session.request(
                method, f"{self.target}{path_qs}", headers=headers, data=body, allow_redirects=False
            ) as upstream:
                data = await upstream.read()
                response = web.Response(status=upstream.status, body=data)
                for key, value in upstream.headers.items():
                    if key.lower() not in _SKIP_HEADERS:
                        response.headers[key] = value
                return response
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return web.json_response({"errcode": "M_UNKNOWN", "error": str(error)}, status=502)


class HomeserverProxy(_Proxy):
    """In front of Synapse, for the bridge and the appservice baseline."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.requests: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        # Benchmark token -> when its send request reached the proxy (first time).
        self.sends: dict[str, float] = {}
        # Seconds spent in message sends, summed over the requests: over a window's length,
        # how many sends were in flight on average (what Synapse could batch).
        self.send_seconds = 0.0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        name = endpoint(request.method, request.path)
        self.requests[name] += 1
        if request.method == "PUT" and "/send/m.room.message/" in request.path:
            try:
                token = token_of(json.loads(body).get("body"))
            except (ValueError, AttributeError):
                token = None
            if token is not None:
                self.sends.setdefault(token, arrived)
        response = await self._forward(
            request.method, request.path_qs, _forwarded_headers(request.headers), body
        )
        if request.method == "PUT" and "/send/" in request.path:
            self.send_seconds += time.monotonic() - arrived
        if response.status >= 400:
            self.failures[f"{name} -> {response.status}"] += 1
        return response


class AppserviceProxy(_Proxy):
    """The appservice URL in the registration; forwards to whichever process plays the bridge."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        # Benchmark token -> when the transaction carrying it reached the proxy (first time).
        self.arrivals: dict[str, float] = {}
        self.transactions = 0
        self.ignored_rooms: set[str] = set()
        self.ignored_events = 0
        self._holding = False
        self._held: list[dict[str, Any]] = []
        self._held_numbers: list[int] = []
        self._shift = 0
        self._held_headers: dict[str, str] = {}
        self._lock = asyncio.Lock()

    def hold(self) -> None:
        """From now on acknowledge transactions at once and keep them until ``release()``."""
        self._holding = True

    @property
    def held_events(self) -> int:
        return sum(len(body.get("events", [])) for body in self._held)

    async def release(self) -> float:
        """Pass everything held on, in order, in transactions of at most 100 events, one at a
        time (each once the previous was answered); returns when the release began."""
        async with self._lock:
            started = time.monotonic()
            self._holding = False
            held, self._held = self._held, []
            numbers = self._held_numbers
            self._held_numbers = []
            batches = _batches(held)
            for index, body in enumerate(batches):
                # Numbered on from the first held transaction, as Synapse numbers a backlog
                # (a bridge watches the numbers for gaps); later transactions are numbered on
                # from these (see _number), so the bridge sees no gap that Synapse did not make.
                first = numbers[0] - self._shift if numbers else 0
                name = str(first + index) if numbers else f"bench-{uuid.uuid4().hex}"
                path = f"{TRANSACTIONS}{name}"
                data = json.dumps(body).encode()
                response = await self._forward("PUT", path, self._held_headers, data)
                if response.status != 200:
                    raise RuntimeError(f"the bridge answered {response.status} to a transaction")
            if numbers:
                self._shift += len(numbers) - len(batches)
            return started

    def _number(self, path: str) -> str:
        """A live transaction's path, its number shifted by what releases merged away."""
        number = path.removeprefix(TRANSACTIONS)
        if not self._shift or not number.isdigit():
            return path
        return f"{TRANSACTIONS}{int(number) - self._shift}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        headers = _forwarded_headers(request.headers)
        if request.method != "PUT" or not request.path.startswith(TRANSACTIONS):
            return await self._forward(request.method, request.path_qs, headers, body)
        self.transactions += 1
        try:
            transaction = json.loads(body)
        except ValueError:
            return await self._forward(request.method, request.path_qs, headers, body)
        events = transaction.get("events", [])
        for item in events:
            if item.get("type") == "m.room.message":
                token = token_of(item.get("content", {}).get("body"))
                if token is not None:
                    self.arrivals.setdefault(token, arrived)
        if self.ignored_rooms:
            kept = [item for item in events if item.get("room_id") not in self.ignored_rooms]
            self.ignored_events += len(events) - len(kept)
            if len(kept) != len(events):
                transaction["events"] = kept
                body = json.dumps(transaction).encode()
                if not any(transaction.get(key) for key in transaction):
                    # Swallowed: later numbers move up one, so the bridge sees no gap.
                    async with self._lock:
                        if request.path.removeprefix(TRANSACTIONS).isdigit():
                            self._shift += 1
                    return web.json_response({})
        if self._holding:
            self._held.append(transaction)
            self._held_headers = headers
            number = request.path.removeprefix(TRANSACTIONS)
            if number.isdigit():
                self._held_numbers.append(int(number))
            return web.json_response({})
        async with self._lock:
            return await self._forward(
                request.method, self._number(request.path) + _query(request), headers, body
            )


def _batches(held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held transactions merged and cut into transactions of at most 100 events; the other
    lists (ephemeral events, device lists) go with the first batch."""
    events: list[Any] = []
    others: dict[str, list[Any]] = {}
    for body in held:
        events += body.get("events", [])
        for key, value in body.items():
            if key != "events" and isinstance(value, list):
                others.setdefault(key, []).extend(value)
    batches: list[dict[str, Any]] = []
    for start in range(0, max(len(events), 1), MAX_EVENTS_PER_TRANSACTION):
        batch: dict[str, Any] = {"events": events[start : start + MAX_EVENTS_PER_TRANSACTION]}
        if not batches:
            batch.update(others)
        batches.append(batch)
    return batches if events or others else []


def _query(request: web.Request) -> str:
    return f"?{request.query_string}" if request.query_string else ""
