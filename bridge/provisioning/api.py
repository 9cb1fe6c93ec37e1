"""The provisioning API: what a web front end or an integration manager may ask of the bridge
for a Matrix user, under ``<prefix>/v1`` on the appservice listener.

Every call but the OpenAPI document carries the shared secret (``Authorization: Bearer``) and
names the Matrix user it acts for (``user_id``); that user's permission level decides as it
does for the commands, and bridging goes through the same checks (bridge/bridging.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from mautrix.errors import MatrixRequestError
from mautrix.types import RoomID

from ..accounts import AccountLinks
from ..bridging import BridgedRoom, BridgingRefused, Refusal, RoomBridging
from ..config.model import PermissionLevel, ProvisioningConfig
from ..matrix.client import MatrixClient
from ..matrix.listener import json_object, matrix_error
from ..network.capabilities import LinksAccounts
from ..network.interface import NetworkConnector
from ..secret_check import matches_secret
from .document import openapi_document

log = logging.getLogger("bridge.provisioning")

# The same patterns as the OpenAPI document's: printable ASCII without spaces, which JSON
# Schema's and Python's regular expressions read alike.
USER_ID = re.compile(r"^@[\x21-\x39\x3b-\x7e]+:[\x21-\x7e]+$")
# Without %: in a path (DELETE /portals/{room_id}) it would be read as an escape.
ROOM_ID = re.compile(r"^![\x21-\x24\x26-\x7e]+$")
CHAT_ID = re.compile(r"^[\x21-\x7e]+$")
MAX_ID_LENGTH = 255
# Membership questions to the homeserver at once, for a user's portals.
MEMBERSHIP_QUERIES = 8

_REFUSALS: dict[Refusal, tuple[int, str]] = {
    "not_permitted": (403, "M_FORBIDDEN"),
    "already_bridged": (409, "M_CONFLICT"),
    "not_bridged": (404, "M_NOT_FOUND"),
    "chat_unavailable": (404, "M_NOT_FOUND"),
    "management_room": (400, "M_INVALID_PARAM"),
}

# Browsers may call the API from a front end on another origin.
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
}

UserHandler = Callable[[web.Request, str, PermissionLevel], Awaitable[web.Response]]


class Refused(Exception):
    """Ends a request with a Matrix-style error."""

    def __init__(self, status: int, errcode: str, error: str) -> None:
        super().__init__(error)
        self.status, self.errcode, self.error = status, errcode, error


class ProvisioningAPI:
    def __init__(
        self,
        config: ProvisioningConfig,
        version: str,
        connector: NetworkConnector,
        level: Callable[[str], PermissionLevel],
        accounts: AccountLinks,
        bridging: RoomBridging,
        matrix: MatrixClient,
    ) -> None:
        """``level``: a Matrix user's permission level (NONE for the bridge's own users)."""
        self._secret = config.shared_secret.encode()
        self._base = f"{config.prefix}/v1"
        self._version = version
        self._connector = connector
        self._level = level
        self._accounts = accounts
        self._bridging = bridging
        self._matrix = matrix

    def routes(self) -> list[web.RouteDef]:
        base = self._base
        relay, user = PermissionLevel.RELAY, PermissionLevel.USER
        routes = [
            web.get(f"{base}/openapi.json", self._openapi),
            web.options(base + "/{tail:.*}", self._preflight),
            web.get(f"{base}/bridge", self._as_user(self._info, relay)),
            web.get(f"{base}/portals", self._as_user(self._portals, relay)),
            web.post(f"{base}/portals", self._as_user(self._bridge, user)),
            web.delete(base + "/portals/{room_id}", self._as_user(self._unbridge, user)),
        ]
        if isinstance(self._connector, LinksAccounts):
            routes += [
                web.post(f"{base}/login", self._as_user(self._login, user)),
                web.get(base + "/login/{login_id}", self._as_user(self._login_state, user)),
                web.post(f"{base}/logout", self._as_user(self._logout, user)),
            ]
        return routes

    # Authentication and errors.

    def _as_user(
        self, handler: UserHandler, needed: PermissionLevel
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def checked(request: web.Request) -> web.Response:
            try:
                mxid, level = self._authorise(request, needed)
                response = await handler(request, mxid, level)
            except Refused as refusal:
                response = matrix_error(refusal.status, refusal.errcode, refusal.error)
            except BridgingRefused as refusal:
                status, errcode = _REFUSALS[refusal.reason]
                response = matrix_error(status, errcode, str(refusal))
            response.headers.update(_CORS)
            return response

        return checked

    def _authorise(
        self, request: web.Request, needed: PermissionLevel
    ) -> tuple[str, PermissionLevel]:
        header = request.headers.get("Authorization")
        if header is None:
            raise Refused(401, "M_MISSING_TOKEN", "Missing the shared secret (Authorization)")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not self._is_secret(secret.strip()):
            raise Refused(403, "M_FORBIDDEN", "Invalid shared secret")
        mxid = request.query.get("user_id")
        if mxid is None:
            raise Refused(400, "M_MISSING_PARAM", "Missing user_id: the Matrix user to act for")
        _check_id(mxid, USER_ID, "user_id", "a Matrix user ID such as @alice:example.com")
        level = self._level(mxid)
        if level < needed:
            raise Refused(
                403,
                "M_FORBIDDEN",
                f"{mxid} may not do that: it needs the {needed.name.lower()} level, and "
                f"they have {level.name.lower()}",
            )
        return mxid, level

    def _is_secret(self, given: str) -> bool:
        return matches_secret(given, self._secret)

    async def _openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self._base, self._version), headers=_CORS)

    async def _preflight(self, _request: web.Request) -> web.Response:
        return web.Response(status=204, headers=_CORS)

    # Bridge and user.

    async def _info(self, _request: web.Request, mxid: str, level: PermissionLevel) -> web.Response:
        connector = self._connector
        return web.json_response(
            {
                "version": self._version,
                "bot_user_id": self._matrix.bot.mxid,
                "network": {
                    "id": connector.name,
                    "name": connector.display_name,
                    "status": await connector.status(),
                    "links_accounts": isinstance(connector, LinksAccounts),
                },
                "user": {
                    "user_id": mxid,
                    "permission": level.name.lower(),
                    "account": await self._account(mxid),
                },
            }
        )

    async def _account(self, mxid: str) -> dict[str, Any] | None:
        found = await self._accounts.link_of(mxid)
        return {"id": str(found[0]), "name": found[1]} if found is not None else None

    # Portals.

    async def _portals(
        self, _request: web.Request, mxid: str, _level: PermissionLevel
    ) -> web.Response:
        """The portal rooms the user is joined to (asked of the homeserver room by room, a
        few at a time)."""
        rooms = [r for r in await self._bridging.bridged_rooms() if r.receiver in (None, mxid)]
        limit = asyncio.Semaphore(MEMBERSHIP_QUERIES)

        async def is_member(room: BridgedRoom) -> bool:
            async with limit:
                return await self._is_member(room.room_id, mxid)

        joined = await asyncio.gather(*(is_member(room) for room in rooms))
        mine = [_portal(room) for room, member in zip(rooms, joined, strict=True) if member]
        return web.json_response({"portals": mine})

    async def _bridge(
        self, request: web.Request, mxid: str, level: PermissionLevel
    ) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            raise Refused(400, "M_NOT_JSON", "The body must be a JSON object")
        room_id = _field(body, "room_id", ROOM_ID, "a Matrix room ID such as !abc:example.com")
        chat_id = _field(body, "chat_id", CHAT_ID, "the chat's ID on the network")
        await self._require_room(room_id, mxid)
        bridged = await self._bridging.bridge(
            mxid, level, room_id, chat_id, self._announcer(room_id, mxid)
        )
        log.info("Provisioning: %s bridged %s to chat %s", mxid, room_id, chat_id)
        return web.json_response(_portal(bridged))

    async def _unbridge(
        self, request: web.Request, mxid: str, level: PermissionLevel
    ) -> web.Response:
        room_id = request.match_info["room_id"]
        _check_id(room_id, ROOM_ID, "room_id", "a Matrix room ID such as !abc:example.com")
        await self._require_room(room_id, mxid)
        gone = await self._bridging.unbridge(mxid, level, room_id, self._announcer(room_id, mxid))
        log.info("Provisioning: %s unbridged %s from chat %s", mxid, room_id, gone.chat_id)
        return web.json_response(_portal(gone))

    async def _require_room(self, room_id: str, mxid: str) -> None:
        """As for a command sent in the room: the bot and the user are both in it."""
        if not await self._is_member(room_id, self._matrix.bot.mxid):
            raise Refused(403, "M_FORBIDDEN", "The bridge bot is not in that room: invite it")
        if not await self._is_member(room_id, mxid):
            raise Refused(403, "M_FORBIDDEN", f"{mxid} is not in that room")

    async def _is_member(self, room_id: str, mxid: str) -> bool:
        try:
            membership = await self._matrix.membership(room_id, mxid)
        except (MatrixRequestError, aiohttp.ClientError, TimeoutError):
            raise Refused(502, "M_UNKNOWN", "The homeserver did not answer; try again") from None
        return membership == "join"

    def _announcer(self, room_id: str, mxid: str) -> Callable[[str], Awaitable[None]]:
        """Tells the room what happened, as a command's reply would; best effort (the change
        is made whether or not the notice gets through)."""

        async def announce(text: str) -> None:
            try:
                await self._matrix.bot.send_notice(RoomID(room_id), f"{text} (asked by {mxid})")
            except Exception as error:
                log.warning("Could not tell %s about a provisioning change: %s", room_id, error)

        return announce

    # Login and logout.

    async def _login(
        self, _request: web.Request, mxid: str, _level: PermissionLevel
    ) -> web.Response:
        assert isinstance(self._connector, LinksAccounts)
        token = await self._accounts.new_token(mxid)
        return await self._login_answer(mxid, token)

    async def _login_state(
        self, request: web.Request, mxid: str, _level: PermissionLevel
    ) -> web.Response:
        return await self._login_answer(mxid, request.match_info["login_id"])

    async def _login_answer(self, mxid: str, token: str) -> web.Response:
        state = await self._accounts.login_state(mxid, token)
        if state is None:
            raise Refused(404, "M_NOT_FOUND", "No such login for this user")
        assert isinstance(self._connector, LinksAccounts)
        return web.json_response(
            {
                "login_id": token,
                "link": self._connector.login_link(token),
                "state": state.stage,
                "expires_at": state.expires_at.isoformat(),
                "account": await self._account(mxid) if state.stage == "linked" else None,
            }
        )

    async def _logout(
        self, _request: web.Request, mxid: str, _level: PermissionLevel
    ) -> web.Response:
        remote = await self._accounts.unlink(mxid)
        return web.json_response({"unlinked": str(remote) if remote is not None else None})


def _check_id(value: str, pattern: re.Pattern[str], name: str, what: str) -> None:
    if len(value) > MAX_ID_LENGTH or not pattern.fullmatch(value):
        raise Refused(400, "M_INVALID_PARAM", f"{name} must be {what}")


def _field(body: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = body.get(name)
    if value is None:
        raise Refused(400, "M_MISSING_PARAM", f"Missing {name}")
    if not isinstance(value, str):
        raise Refused(400, "M_INVALID_PARAM", f"{name} must be a string")
    _check_id(value, pattern, name, what)
    return value


def _portal(room: BridgedRoom) -> dict[str, Any]:
    return {
        "room_id": room.room_id,
        "chat_id": room.chat_id,
        "name": room.name,
        "direct": room.receiver is not None,
    }
