"""A small async Matrix client-server API client for tests, on aiohttp.

Deliberately independent of mautrix (which the bridge uses), so tests check the bridge's traffic
with a second implementation. Users are registered through Synapse's shared-secret admin API;
appservice clients use the as_token, optionally masquerading with ``?user_id=``.

The waiting helpers drive /sync (long-poll, so they wake as soon as something arrives) and keep
what they saw: every timeline event of every room, pending invites and member events. They fail
with an AssertionError that lists what was seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from tests.support.session_log import register_secret

JsonDict = dict[str, Any]
EventPredicate = Callable[[JsonDict], bool]
T = TypeVar("T")

CLIENT_V3 = "/_matrix/client/v3"
REQUEST_TIMEOUT = 30.0
# One /sync long-poll at most this long, so a waiter re-checks its deadline regularly.
SYNC_POLL = 5.0
# How far back a sync gap (timeline "limited") is filled from /messages.
BACKFILL_CAP = 2000


def _sync_filter(timeline_limit: int) -> str:
    # Timeline and state only: presence, receipts, typing and account data are noise for the
    # waiters. include_leave lets a user see its own leave/kick after the fact.
    room_filter = {
        "include_leave": True,
        "timeline": {"limit": timeline_limit},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    }
    return json.dumps(
        {
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
            "room": room_filter,
        },
        separators=(",", ":"),
    )


class Homeserver(Protocol):
    @property
    def url(self) -> str: ...


class RegistrationHomeserver(Homeserver, Protocol):
    @property
    def registration_shared_secret(self) -> str: ...


class MatrixError(Exception):
    """A non-2xx answer from the homeserver."""

    def __init__(
        self, status: int, errcode: str | None, error: str, method: str = "", path: str = ""
    ) -> None:
        super().__init__(f"{method} {path} -> {status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error


def _q(part: str) -> str:
    """Quote one path segment (room ids, aliases and user ids contain ! # : @)."""
    return urllib.parse.quote(part, safe="")


async def _call(
    session: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    http_timeout: float = REQUEST_TIMEOUT,
) -> Any:
    """The parsed JSON answer (an object, or a list for a few endpoints); MatrixError if not 2xx."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # encoded=True: the path is already quoted, and %23 (#) must not be touched.
    url = URL(base_url + path, encoded=True)
    async with session.request(
        method,
        url,
        json=body,
        params=params,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=http_timeout),
    ) as response:
        text = await response.text()
    try:
        data: Any = json.loads(text) if text else {}
    except ValueError:
        data = None
    if not 200 <= response.status < 300 or data is None:
        errcode = data.get("errcode") if isinstance(data, dict) else None
        error = data.get("error", "") if isinstance(data, dict) else text[:500]
        raise MatrixError(response.status, errcode, str(error), method, path)
    return data


def _describe_event(event: JsonDict) -> str:
    content = json.dumps(event.get("content", {}), ensure_ascii=False)
    if len(content) > 200:
        content = content[:200] + "..."
    state_key = event.get("state_key")
    state = f" [{state_key}]" if state_key is not None else ""
    return (
        f"{event.get('event_id')} {event.get('type')}{state} from {event.get('sender')}: {content}"
    )


class MatrixTestClient:
    """One user's (or one appservice's) session with a homeserver."""

    # Timeline events per room in one /sync; more than this arrive as a gap that is backfilled.
    sync_timeline_limit = 100

    def __init__(
        self,
        base_url: str,
        access_token: str,
        user_id: str,
        *,
        device_id: str | None = None,
        masquerade_as: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.user_id = user_id
        self.device_id = device_id
        self.password: str | None = None
        # Appservice clients add ?user_id= to act as one of their users.
        self._masquerade_as = masquerade_as
        self._session = session
        self._txn_ids = itertools.count()
        # What /sync has shown so far.
        self._since: str | None = None
        self._sync_count = 0
        self._sync_lock = asyncio.Lock()
        self._timelines: dict[str, list[JsonDict]] = {}
        self._event_ids: set[str] = set()
        self._invites: dict[str, list[JsonDict]] = {}
        self._members: dict[str, dict[str, JsonDict]] = {}

    # -- construction -----------------------------------------------------------------------

    @classmethod
    async def register(
        cls,
        server: RegistrationHomeserver,
        localpart: str,
        admin: bool = False,
        *,
        password: str | None = None,
        displayname: str | None = None,
    ) -> MatrixTestClient:
        """Register ``localpart`` with the shared secret and return a logged-in client."""
        password = password or secrets.token_hex(12)
        session = aiohttp.ClientSession()
        try:
            path = "/_synapse/admin/v1/register"
            nonce = (await _call(session, server.url, "GET", path))["nonce"]
            mac = hmac.new(server.registration_shared_secret.encode(), digestmod=hashlib.sha1)
            role = b"admin" if admin else b"notadmin"
            fields = [nonce.encode(), localpart.encode(), password.encode(), role]
            mac.update(b"\x00".join(fields))
            body: JsonDict = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            if displayname is not None:
                body["displayname"] = displayname
            result = await _call(session, server.url, "POST", path, body=body)
        except BaseException:
            await session.close()
            raise
        register_secret(result["access_token"], password)
        client = cls(
            server.url,
            result["access_token"],
            result["user_id"],
            device_id=result.get("device_id"),
            session=session,
        )
        client.password = password
        return client

    @classmethod
    async def as_appservice(
        cls, server: Homeserver, as_token: str, user_id: str | None = None
    ) -> MatrixTestClient:
        """A client using an appservice's as_token.

        With ``user_id`` it masquerades as that user (who must be registered first, see
        ``register_appservice_user``); without, it acts as the appservice's sender, whose id is
        learned from whoami.
        """
        client = cls(server.url, as_token, user_id or "", masquerade_as=user_id)
        if user_id is None:
            try:
                client.user_id = (await client.whoami())["user_id"]
            except BaseException:
                await client.close()
                raise
        return client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> MatrixTestClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<MatrixTestClient {self.user_id} on {self.base_url}>"

    # -- raw requests -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        http_timeout: float = REQUEST_TIMEOUT,
    ) -> JsonDict:
        """Any client-server API call; ``path`` starts with ``/_matrix`` or ``/_synapse``."""
        data = await self._request_any(method, path, body, params=params, http_timeout=http_timeout)
        if not isinstance(data, dict):
            raise MatrixError(200, None, f"expected a JSON object, got {data!r}", method, path)
        return data

    async def _request_any(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        http_timeout: float = REQUEST_TIMEOUT,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        query = dict(params or {})
        if self._masquerade_as is not None:
            query["user_id"] = self._masquerade_as
        return await _call(
            self._session,
            self.base_url,
            method,
            path,
            token=self.access_token,
            body=body,
            params=query,
            http_timeout=http_timeout,
        )

    def _txn_id(self) -> str:
        return f"test-{time.time_ns()}-{next(self._txn_ids)}"

    # -- API --------------------------------------------------------------------------------

    async def whoami(self) -> JsonDict:
        return await self.request("GET", f"{CLIENT_V3}/account/whoami")

    async def create_room(self, **body: Any) -> str:
        """``POST /createRoom`` with ``body`` as the request (e.g. room_version="11")."""
        result = await self.request("POST", f"{CLIENT_V3}/createRoom", body)
        return str(result["room_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id_or_alias: str) -> str:
        result = await self.request("POST", f"{CLIENT_V3}/join/{_q(room_id_or_alias)}", {})
        return str(result["room_id"])

    async def leave(self, room_id: str) -> None:
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/leave", {})

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        body = {"user_id": user_id} | ({"reason": reason} if reason else {})
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/kick", body)

    async def send_event(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        path = f"{CLIENT_V3}/rooms/{_q(room_id)}/send/{_q(event_type)}/{_q(self._txn_id())}"
        return str((await self.request("PUT", path, content))["event_id"])

    async def send_message(
        self, room_id: str, body: str, html: str | None = None, msgtype: str = "m.text"
    ) -> str:
        content: JsonDict = {"msgtype": msgtype, "body": body}
        if html is not None:
            content |= {"format": "org.matrix.custom.html", "formatted_body": html}
        return await self.send_event(room_id, "m.room.message", content)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        path = f"{CLIENT_V3}/rooms/{_q(room_id)}/redact/{_q(event_id)}/{_q(self._txn_id())}"
        body = {"reason": reason} if reason else {}
        return str((await self.request("PUT", path, body))["event_id"])

    async def send_state(
        self, room_id: str, event_type: str, content: Mapping[str, Any], state_key: str = ""
    ) -> str:
        path = f"{CLIENT_V3}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}"
        return str((await self.request("PUT", path, content))["event_id"])

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> JsonDict:
        """The content of one state event."""
        path = f"{CLIENT_V3}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}"
        return await self.request("GET", path)

    async def get_state_events(self, room_id: str) -> list[JsonDict]:
        """All current state events of the room."""
        events = await self._request_any("GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/state")
        if not isinstance(events, list):
            raise MatrixError(200, None, f"expected a list, got {events!r}", "GET", "/state")
        return events

    async def joined_members(self, room_id: str) -> dict[str, JsonDict]:
        """user_id -> {display_name, avatar_url} of the room's joined members."""
        result = await self.request("GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/joined_members")
        joined: dict[str, JsonDict] = result.get("joined", {})
        return joined

    async def room_messages(self, room_id: str, limit: int = 100) -> list[JsonDict]:
        """The room's latest ``limit`` timeline events, oldest first (paginates /messages)."""
        newest_first: list[JsonDict] = []
        token: str | None = None
        while len(newest_first) < limit:
            params = {"dir": "b", "limit": str(min(100, limit - len(newest_first)))}
            if token is not None:
                params["from"] = token
            page = await self.request(
                "GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/messages", params=params
            )
            chunk: list[JsonDict] = page.get("chunk", [])
            newest_first.extend(chunk)
            token = page.get("end")
            if not chunk or token is None:
                break
        return newest_first[:limit][::-1]

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        """A file into the media repository; its mxc:// URI."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/_matrix/media/v3/upload"
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": content_type,
        }
        async with self._session.post(
            url, data=data, headers=headers, params={"filename": filename}
        ) as response:
            answer = await response.json()
            if response.status != 200:
                raise MatrixError(response.status, answer.get("errcode"), str(answer), "POST", url)
            return str(answer["content_uri"])

    async def download(self, mxc: str) -> tuple[bytes, str]:
        """A file from the media repository (authenticated media): its bytes and type."""
        server, _, media_id = mxc.removeprefix("mxc://").partition("/")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/_matrix/client/v1/media/download/{_q(server)}/{_q(media_id)}"
        headers = {"Authorization": f"Bearer {self.access_token}"}
        async with self._session.get(url, headers=headers) as response:
            data = await response.read()
            if response.status != 200:
                raise MatrixError(response.status, None, data[:200].decode(), "GET", url)
            return data, response.headers.get("Content-Type", "")

    async def resolve_alias(self, alias: str) -> str:
        result = await self.request("GET", f"{CLIENT_V3}/directory/room/{_q(alias)}")
        return str(result["room_id"])

    async def get_profile(self, user_id: str) -> JsonDict:
        return await self.request("GET", f"{CLIENT_V3}/profile/{_q(user_id)}")

    async def set_displayname(self, displayname: str) -> None:
        path = f"{CLIENT_V3}/profile/{_q(self.user_id)}/displayname"
        await self.request("PUT", path, {"displayname": displayname})

    async def get_room_version(self, room_id: str) -> str:
        create = await self.get_state(room_id, "m.room.create")
        # Rooms created without the key are version "1" (spec).
        return str(create.get("room_version", "1"))

    # -- appservice helpers -----------------------------------------------------------------

    async def register_appservice_user(self, localpart: str) -> str:
        """Register a user in the appservice's namespace (as_token client); returns its id.

        Registering an existing user is not an error: the id is returned all the same.
        """
        body = {
            "type": "m.login.application_service",
            "username": localpart,
            "inhibit_login": True,
        }
        try:
            result = await self.request("POST", f"{CLIENT_V3}/register", body)
        except MatrixError as exc:
            if exc.errcode != "M_USER_IN_USE":
                raise
            server_name = self.user_id.split(":", 1)[1]
            return f"@{localpart}:{server_name}"
        return str(result["user_id"])

    async def appservice_ping(self, appservice_id: str) -> JsonDict:
        """Ask the homeserver to ping the appservice (and retry its backed-off transactions)."""
        path = f"/_matrix/client/v1/appservice/{_q(appservice_id)}/ping"
        return await self.request("POST", path, {"transaction_id": self._txn_id()})

    # -- /sync and the waiters --------------------------------------------------------------

    def seen_events(self, room_id: str) -> list[JsonDict]:
        """Timeline events of ``room_id`` that /sync has delivered so far, oldest first."""
        return list(self._timelines.get(room_id, []))

    async def sync_once(self, long_poll: float = 0.0) -> None:
        """One /sync (long-polling up to ``long_poll`` s), recording what it returns."""
        params = {
            "timeout": str(int(long_poll * 1000)),
            "filter": _sync_filter(self.sync_timeline_limit),
        }
        if self._since is not None:
            params["since"] = self._since
        result = await self.request(
            "GET", f"{CLIENT_V3}/sync", params=params, http_timeout=long_poll + REQUEST_TIMEOUT
        )
        rooms = result.get("rooms", {})
        for section in ("join", "leave"):
            for room_id, room in rooms.get(section, {}).items():
                self._invites.pop(room_id, None)
                await self._ingest_room(room_id, room)
        for room_id, room in rooms.get("invite", {}).items():
            invite_state: list[JsonDict] = room.get("invite_state", {}).get("events", [])
            self._invites[room_id] = invite_state
            for event in invite_state:
                self._note_member(room_id, event)
        self._since = result["next_batch"]
        self._sync_count += 1

    async def _ingest_room(self, room_id: str, room: JsonDict) -> None:
        timeline = room.get("timeline", {})
        # A "limited" timeline skipped events since the last sync: fetch them so no waiter
        # misses one. They are older than the state block, so they are applied first.
        gap: list[JsonDict] = []
        if timeline.get("limited") and timeline.get("prev_batch"):
            gap = await self._backfill(room_id, timeline["prev_batch"])
        for event in [*gap, *room.get("state", {}).get("events", [])]:
            self._note_member(room_id, event)
        known = self._timelines.setdefault(room_id, [])
        for event in [*gap, *timeline.get("events", [])]:
            event_id = event.get("event_id")
            if event_id in self._event_ids:
                continue
            if event_id is not None:
                self._event_ids.add(event_id)
            known.append(event)
        for event in timeline.get("events", []):
            self._note_member(room_id, event)

    async def _backfill(self, room_id: str, token: str) -> list[JsonDict]:
        newest_first: list[JsonDict] = []
        path = f"{CLIENT_V3}/rooms/{_q(room_id)}/messages"
        try:
            while len(newest_first) < BACKFILL_CAP:
                params = {"dir": "b", "from": token, "limit": "100"}
                page = await self.request("GET", path, params=params)
                chunk: list[JsonDict] = page.get("chunk", [])
                for event in chunk:
                    if event.get("event_id") in self._event_ids:
                        return newest_first[::-1]
                    newest_first.append(event)
                if not chunk or "end" not in page:
                    break
                token = page["end"]
        except MatrixError:
            pass  # e.g. history no longer visible after leaving: keep what we have
        return newest_first[::-1]

    def _note_member(self, room_id: str, event: JsonDict) -> None:
        if event.get("type") == "m.room.member" and isinstance(event.get("state_key"), str):
            self._members.setdefault(room_id, {})[event["state_key"]] = event

    async def _sync_step(self, long_poll: float) -> None:
        # Concurrent waiters share one /sync: whoever gets the lock after another waiter's sync
        # finished returns at once and re-checks what that sync brought.
        count = self._sync_count
        async with self._sync_lock:
            if self._sync_count == count:
                await self.sync_once(long_poll)

    async def _wait(
        self,
        check: Callable[[], T | None],
        seconds: float,
        what: str,
        seen: Callable[[], str],
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        await self._sync_step(0)  # start from fresh data, not a stale cache
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.user_id}: timed out after {seconds:g} s waiting for {what}.\n"
                    f"Seen:\n{seen()}"
                )
            await self._sync_step(min(remaining, SYNC_POLL))

    async def wait_for_event(
        self,
        room_id: str,
        predicate: EventPredicate,
        timeout: float = 15.0,
        *,
        after: str | None = None,
    ) -> JsonDict:
        """The first (oldest) timeline event in ``room_id`` matching ``predicate``.

        Searches everything this client has synced in the room, so an event that arrived before
        the call is found too (no race with the action that caused it); ``after=event_id``
        restricts the search to events after that one.
        """

        def check() -> JsonDict | None:
            events = self._timelines.get(room_id, [])
            start = 0
            if after is not None:
                ids = [e.get("event_id") for e in events]
                if after not in ids:
                    return None  # the anchor has not synced yet, so neither has anything after
                start = ids.index(after) + 1
            return next((e for e in events[start:] if predicate(e)), None)

        def seen() -> str:
            events = self._timelines.get(room_id)
            if events is None:
                return f"  nothing from {room_id}; rooms seen: {sorted(self._timelines)}"
            lines = [f"  {_describe_event(e)}" for e in events[-30:]]
            more = f"  ... {len(events) - 30} earlier events\n" if len(events) > 30 else ""
            return more + "\n".join(lines)

        return await self._wait(check, timeout, f"an event in {room_id}", seen)

    async def wait_for_invite(
        self,
        timeout: float = 15.0,
        *,
        inviter: str | None = None,
    ) -> str:
        """A room this user is invited to (and has not joined or left); the oldest if several.

        ``inviter`` restricts it to invites sent by that user.
        """

        def check() -> str | None:
            for room_id in self._invites:
                member = self._members.get(room_id, {}).get(self.user_id, {})
                if inviter is None or member.get("sender") == inviter:
                    return room_id
            return None

        def seen() -> str:
            pending = {
                room_id: self._members.get(room_id, {}).get(self.user_id, {}).get("sender")
                for room_id in self._invites
            }
            return (
                f"  pending invites (room -> inviter): {pending}\n  rooms: {sorted(self._members)}"
            )

        what = "an invite" + (f" from {inviter}" if inviter else "")
        return await self._wait(check, timeout, what, seen)

    async def wait_for_membership(
        self,
        room_id: str,
        user_id: str,
        membership: str,
        timeout: float = 15.0,
    ) -> JsonDict:
        """Wait until ``user_id``'s membership in ``room_id`` is ``membership``; returns the
        member event. Works for rooms this client is in and for its own invites and leaves."""

        def check() -> JsonDict | None:
            event = self._members.get(room_id, {}).get(user_id)
            if event is not None and event.get("content", {}).get("membership") == membership:
                return event
            return None

        def seen() -> str:
            members = self._members.get(room_id)
            if members is None:
                return f"  no member events from {room_id}; rooms seen: {sorted(self._members)}"
            return "\n".join(
                f"  {uid}: {ev.get('content', {}).get('membership')}" for uid, ev in members.items()
            )

        return await self._wait(check, timeout, f"{user_id} to be {membership} in {room_id}", seen)
