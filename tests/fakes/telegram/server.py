"""FakeTelegram: the simulated world served over HTTP as the Bot API, on 127.0.0.1.

Every request is decoded and checked against the method's schema, every result against the
method's return type; each departure is recorded in `violations` (and a bad request is answered
400 as Telegram would). Calls are recorded in `calls`, and armed faults applied, in arrival order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import TracebackType
from typing import Any

import telegram
from aiohttp import web

from bridge.logging_setup import SecretFilter
from tests.support.session_log import guard, register_secret, unguard

from .errors import NOT_FOUND, UNAUTHORIZED, ApiError, NotModelled
from .events import Simulation
from .faults import Fault, Faults
from .handlers import HANDLERS
from .params import UploadedFile, decode_params, telegram_description
from .records import Call, Direction, Violation
from .schema import Issue, Schema, load_schema
from .updates import UpdateQueue
from .webhook import WebhookSender

_MAX_BODY = 60 * 1024 * 1024  # uploads up to Telegram's 50 MB, plus form overhead
# What Telegram's front end answers a request body over its limit, before the Bot API sees it
# (as Bot API users report it: HTTP 413 with this JSON body; older front ends answered
# with nginx's HTML page).
TOO_LARGE = ApiError(413, "Request Entity Too Large")
_NGINX_TOO_LARGE = (
    "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


class FakeTelegram(Simulation):
    """An in-process Bot API server for one bot. Use as `async with FakeTelegram() as fake:`."""

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_username: str = "fake_bridge_bot",
        bot_first_name: str = "Bridge Bot",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        can_connect_to_business: bool = False,
        first_update_id: int = 100_000_001,
        schema: Schema | None = None,
        id_base: int = 0,
        path: str = "",
    ) -> None:
        # Served under this path ("/botapi": a Bot API server behind a proxy's path), which
        # ``url`` ends with, as telegram.api_url would.
        self.path = path
        self.token = token or "6000000001:AAF-fake-telegram-token-for-tests_0123456"
        # The bridge must never log it (tests/support/session_log.py checks the whole run).
        register_secret(self.token)
        self._client_filters: list[logging.Filter] = []
        super().__init__(
            bot_id=int(self.token.split(":", 1)[0]),
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            can_join_groups=can_join_groups,
            can_read_all_group_messages=can_read_all_group_messages,
            supports_inline_queries=supports_inline_queries,
            can_connect_to_business=can_connect_to_business,
            id_base=id_base,
        )
        self.schema = schema or load_schema()
        self.updates = UpdateQueue(self.schema.update_types(), first_update_id)
        self.webhook = WebhookSender(self.updates, self._check_posted)
        self.faults = Faults()
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.url = ""
        # The front end's limit on a request's body (Content-Length): a larger one is answered
        # 413 without reaching the Bot API (no call is made). Tests lower it to reach it.
        self.max_request_body = _MAX_BODY
        # Answer that 413 with nginx's HTML page, as older front ends did.
        self.too_large_as_html = False
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", self.path + "/bot{token}/{method}", self._api)
        app.router.add_get(self.path + "/file/bot{token}/{path:.+}", self._download)
        # Cancel handlers whose client went away, so a "hang" ends when the client gives up.
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=1.0,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}{self.path}"
        self._runner = runner
        self._release = asyncio.Event()
        self.updates.reopen()
        self.webhook.start()

    async def stop(self) -> None:
        await self.webhook.stop()
        self.updates.close()
        if self._release is not None:
            self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        unguard(self._client_filters)
        self._client_filters.clear()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- for tests -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def client_token(self) -> str:
        """The token, for a client a test makes itself. The client stands in for the bridge's
        connector, so what it logs (python-telegram-bot and httpx put the token in URLs) passes
        the secret filter the bridge gives its logs, until the fake stops."""
        if not self._client_filters:
            self._client_filters.append(SecretFilter([self.token]))
            guard(self._client_filters)
        return self.token

    def make_bot(self, **kwargs: Any) -> telegram.Bot:
        """A python-telegram-bot Bot talking to this fake (see ``client_token``)."""
        return telegram.Bot(
            self.client_token(), base_url=self.base_url, base_file_url=self.base_file_url, **kwargs
        )

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def take_violations(self) -> list[Violation]:
        """The violations so far, forgetting them (for tests that provoke some on purpose)."""
        taken, self.violations = self.violations, []
        return taken

    def assert_no_violations(self) -> None:
        if self.violations:
            listing = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(f"the fake Telegram saw schema violations:\n{listing}")

    def _record(self, direction: Direction, method: str, issues: list[Issue]) -> None:
        for issue in issues:
            self.violations.append(Violation(direction, method, issue.where, issue.what))

    # -- HTTP ------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.calls.append(Call(name, {}, time.monotonic(), status=401))
            return _json(UNAUTHORIZED.body(), 401)
        length = request.content_length
        if length is not None and length > self.max_request_body:
            self.calls.append(Call(name, {}, time.monotonic(), status=413))
            if self.too_large_as_html:
                return web.Response(status=413, text=_NGINX_TOO_LARGE, content_type="text/html")
            return _json(TOO_LARGE.body(), 413)
        method = self.schema.canonical_method(name)
        if method is None:
            self.calls.append(Call(name, {}, time.monotonic(), status=404))
            self._record("request", name, [Issue("", "no such method in the Bot API")])
            return _json(NOT_FOUND.body(), 404)
        try:
            raw = await _read_params(request)
        except ValueError as error:
            self._record("request", method, [Issue("", f"unreadable request body: {error}")])
            return _json(ApiError(400, f"Bad Request: {error}").body(), 400)
        params, issues = decode_params(self.schema, method, raw)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self._record("request", method, issues)
        fault = self.faults.take(method, params.get("chat_id"))
        if fault is not None and fault.kind == "drop":
            call.fault = fault.kind
            if fault.carried_out:
                await self._answer(method, params, issues)
            assert request.transport is not None
            request.transport.close()  # no status: the call stays unanswered
            return web.Response()
        if fault is not None:
            call.fault = fault.kind
            early = await self._apply_fault(method, fault)
            if early is not None:
                call.status = early.status
                return early
        response = await self._answer(method, params, issues)
        call.status = response.status
        return response

    async def _apply_fault(self, method: str, fault: Fault) -> web.Response | None:
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "hang":
            assert self._release is not None
            await self._release.wait()
            return _json(ApiError(502, "Bad Gateway").body(), 502)
        if fault.kind == "hold":
            await fault.released.wait()
            return None
        if fault.kind == "malformed":
            return _json({"ok": True, "result": fault.result}, 200)
        error = fault.error()
        self._check_error(method, error)
        return _json(error.body(), error.code)

    async def _answer(
        self, method: str, params: dict[str, Any], issues: list[Issue]
    ) -> web.Response:
        try:
            if issues:
                raise ApiError(400, telegram_description(method, issues[0]))
            handler = HANDLERS.get(method)
            if handler is None:
                raise NotModelled(f"the method {method}")
            result = await handler(self, params)
        except NotModelled as error:
            self.violations.append(Violation("unsupported", method, "", error.what))
            return _json(error.body(), error.code)
        except ApiError as error:
            self._check_error(method, error)
            return _json(error.body(), error.code)
        self._record("response", method, self.schema.check_result(method, result))
        return _json({"ok": True, "result": result}, 200)

    def _check_posted(self, update: dict[str, Any]) -> None:
        self._record("response", "webhook", self.schema.check(update, ["Update"], "update"))

    def _check_error(self, method: str, error: ApiError) -> None:
        if error.parameters is not None:
            issues = self.schema.check(error.parameters, ["ResponseParameters"], "parameters")
            self._record("response", method, issues)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json(UNAUTHORIZED.body(), 401)
        stored = self.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _json(NOT_FOUND.body(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")


async def _read_params(request: web.Request) -> dict[str, object]:
    """Query string plus body: a form (urlencoded or multipart) or a JSON object."""
    params: dict[str, object] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ValueError("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        params.update(body)
        return params
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ValueError(f"unsupported Content-Type {request.content_type}")
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            data = value.file.read()
            params[name] = UploadedFile(name, value.filename, value.content_type, data)
        else:
            params[name] = value if isinstance(value, str) else value.decode("utf-8")
    return params
