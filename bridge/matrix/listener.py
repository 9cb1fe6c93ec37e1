"""The application-service HTTP listener: what the homeserver calls.

A transaction is answered only once its events are stored (see bridge/db/inbox.py); a bad
request gets a 4xx with a Matrix error body, never a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from aiohttp import web

from ..health import HealthCheck, all_ok
from ..secret_check import matches_secret

log = logging.getLogger("bridge.listener")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TransactionSink(Protocol):
    """The core's side of the listener."""

    async def handle_transaction(
        self, txn_id: str, events: list[dict[str, Any]], ephemeral: list[dict[str, Any]]
    ) -> None:
        """Return once the events are durable; raising makes the homeserver retry later."""

    async def query_user(self, user_id: str) -> bool: ...

    async def query_alias(self, alias: str) -> bool: ...

    def delivery_failed(self, txn_id: str) -> None:
        """The transaction was not stored (its request broke off or was refused, or the
        homeserver gave up waiting for it): the homeserver sends it again later, perhaps
        after newer ones."""

    def pinged(self, transaction_id: str | None) -> None: ...

    def health(self) -> Sequence[HealthCheck]:
        """The bridge is ready when every check is up."""
        ...


def matrix_error(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


class AppserviceListener:
    def __init__(
        self, hs_token: str, sink: TransactionSink, host: str, port: int, max_body_size: int
    ) -> None:
        self._hs_token = hs_token.encode()
        self._sink = sink
        self._host = host
        self._port = port
        self.app = web.Application(
            client_max_size=max_body_size, middlewares=[self._errors, self._authenticate]
        )
        self.app.add_routes(
            [
                web.put("/_matrix/app/v1/transactions/{txn_id}", self._transaction),
                web.get("/_matrix/app/v1/users/{user_id}", self._query_user),
                web.get("/_matrix/app/v1/rooms/{alias}", self._query_alias),
                web.post("/_matrix/app/v1/ping", self._ping),
                web.get("/_matrix/mau/live", self._live),
                web.get("/_matrix/mau/ready", self._ready),
            ]
        )
        self._runner: web.AppRunner | None = None
        # Transactions whose request is in hand, by id: the homeserver sends one at a time,
        # so another one arriving meanwhile means it gave up on these.
        self._in_hand: dict[str, int] = {}

    def add_routes(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        """More routes on the same port (provisioning, a network's webhook); before ``start``.
        Only /_matrix/app/ is behind the homeserver's token: other routes check their own."""
        self.app.add_routes(routes)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("Listening for the homeserver on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return matrix_error(413, "M_TOO_LARGE", "The request body is too large")
        except web.HTTPNotFound:
            return matrix_error(404, "M_UNRECOGNIZED", "Unrecognized request")
        except web.HTTPMethodNotAllowed:
            return matrix_error(405, "M_UNRECOGNIZED", "Method not allowed")
        except web.HTTPException:
            raise
        except Exception:
            log.exception("Failed to handle %s %s", request.method, request.path)
            return matrix_error(500, "M_UNKNOWN", "Internal error; the bridge's log has details")

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/_matrix/app/"):
            return await handler(request)
        token = _request_token(request)
        if token is None:
            return matrix_error(401, "M_UNAUTHORIZED", "Missing access token")
        if not matches_secret(token, self._hs_token):
            return matrix_error(403, "M_FORBIDDEN", "Invalid access token")
        return await handler(request)

    async def _transaction(self, request: web.Request) -> web.Response:
        """Store the transaction's events; anything but a 200 (a refusal, a request broken
        off) is a failed delivery, which the homeserver repeats, perhaps after newer ones:
        the sink hears of it, and of earlier ones the homeserver gave up on."""
        txn_id = request.match_info["txn_id"]
        for given_up in [other for other in self._in_hand if other != txn_id]:
            log.info("Transaction %s came while %s was still in hand", txn_id, given_up)
            self._sink.delivery_failed(given_up)
        self._in_hand[txn_id] = self._in_hand.get(txn_id, 0) + 1
        stored = False
        try:
            response = await self._store_transaction(txn_id, request)
            stored = response.status == 200
            return response
        finally:
            self._in_hand[txn_id] -= 1
            if not self._in_hand[txn_id]:
                del self._in_hand[txn_id]
            if not stored:
                self._sink.delivery_failed(txn_id)

    async def _store_transaction(self, txn_id: str, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
        except ConnectionError:
            log.info("Transaction %s broke off before its body was in", txn_id)
            return matrix_error(400, "M_UNKNOWN", "The connection broke off")
        if isinstance(body, web.Response):
            return body
        events = _event_list(body, "events")
        ephemeral = _event_list(body, "ephemeral", "de.sorunome.msc2409.ephemeral")
        if events is None or ephemeral is None:
            return matrix_error(400, "M_BAD_JSON", "events and ephemeral must be lists")
        try:
            await self._sink.handle_transaction(txn_id, events, ephemeral)
        except Exception:
            # Not stored: the homeserver will send the transaction again.
            log.exception("Could not store transaction %s; the homeserver will retry", txn_id)
            return matrix_error(503, "M_UNKNOWN", "Could not store the transaction; retry later")
        return web.json_response({})

    async def _query_user(self, request: web.Request) -> web.Response:
        if await self._sink.query_user(request.match_info["user_id"]):
            return web.json_response({})
        return matrix_error(404, "M_NOT_FOUND", "No such user")

    async def _query_alias(self, request: web.Request) -> web.Response:
        if await self._sink.query_alias(request.match_info["alias"]):
            return web.json_response({})
        return matrix_error(404, "M_NOT_FOUND", "No such room alias")

    async def _ping(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        transaction_id = body.get("transaction_id")
        self._sink.pinged(transaction_id if isinstance(transaction_id, str) else None)
        return web.json_response({})

    async def _live(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _ready(self, _request: web.Request) -> web.Response:
        """Each check by name, up or not; 503 when any is down. Anyone may ask (a monitor, and
        in webhook mode the internet), so why a check is down stays out: an error's text can
        name hosts, paths or worse. The log and the admins' status command say why."""
        checks = self._sink.health()
        ready = all_ok(checks)
        body = {"ok": ready, "checks": {check.name: {"ok": check.ok} for check in checks}}
        return web.json_response(body, status=200 if ready else 503)


def _request_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    # The query parameter is deprecated in the spec but some homeservers still send it.
    return request.query.get("access_token")


async def json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise
    except (web.RequestPayloadError, ValueError):
        # A Content-Encoding (gzip, deflate) that does not decode.
        return matrix_error(400, "M_NOT_JSON", "The body cannot be decoded")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return matrix_error(400, "M_NOT_JSON", "The body is not valid JSON")
    except RecursionError:
        return matrix_error(400, "M_BAD_JSON", "The body is nested too deeply")
    if not isinstance(body, dict):
        return matrix_error(400, "M_BAD_JSON", "The body must be a JSON object")
    return body


def _event_list(body: dict[str, Any], *keys: str) -> list[dict[str, Any]] | None:
    """The objects under the first present key; None if it is not a list. Items that are not
    objects are dropped with a warning: refusing the transaction would only make the homeserver
    send the same bad item again and block everything after it."""
    for key in keys:
        if key in body:
            value = body[key]
            if not isinstance(value, list):
                return None
            items = [item for item in value if isinstance(item, dict)]
            if len(items) != len(value):
                log.warning(
                    "Dropped %d %s entries that are not objects", len(value) - len(items), key
                )
            return items
    return []
