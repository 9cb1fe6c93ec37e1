"""The bridge's way to the homeserver: the bot, ghost intents, and room creation that works on
today's room versions."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import ClientSession, ClientTimeout
from mautrix.api import Method, Path
from mautrix.appservice import AppServiceAPI, IntentAPI
from mautrix.appservice.state_store import ASStateStore
from mautrix.client.state_store import MemoryStateStore
from mautrix.errors import MatrixRequestError, make_request_error
from mautrix.types import Membership, MemberStateEventContent, RoomID, UserID
from mautrix.util.logging import TraceLogger

from ..config.model import Config
from ..lru import BoundedDict
from .intents import GhostIntents

log = logging.getLogger("bridge.matrix")


# Rooms and users whose state is remembered; past that the oldest are forgotten, which only
# costs a request when they are needed again.
MAX_STATE_ROOMS = 2_000
MAX_STATE_USERS = 20_000


class _StateStore(ASStateStore, MemoryStateStore):
    """Memberships and registrations seen lately; losing them only costs requests."""

    def __init__(self) -> None:
        ASStateStore.__init__(self)
        MemoryStateStore.__init__(self)
        self._registered = BoundedDict(MAX_STATE_USERS)
        self._presence = BoundedDict(MAX_STATE_USERS)
        self._read = BoundedDict(MAX_STATE_USERS)
        self.members = BoundedDict(MAX_STATE_ROOMS)
        self.full_member_list = BoundedDict(MAX_STATE_ROOMS)
        self.power_levels = BoundedDict(MAX_STATE_ROOMS)
        self.encryption = BoundedDict(MAX_STATE_ROOMS)
        self.create = BoundedDict(MAX_STATE_ROOMS)


def request_error(status: int, text: str) -> MatrixRequestError:
    """The homeserver's error answer as mautrix's error of its errcode."""
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return make_request_error(status, text, body.get("errcode"), body.get("error"))


def creator_has_infinite_power(room_version: str) -> bool:
    """From room version 12 on, the creator is privileged by the create event itself and must
    not be listed in the power levels' users."""
    try:
        return int(room_version) >= 12
    except ValueError:
        # Unstable identifiers of the same rules (MSC4289's test versions).
        return room_version.startswith("org.matrix.hydra")


class MatrixClient:
    def __init__(self, config: Config, session: ClientSession) -> None:
        self._config = config
        self._session = session
        store = _StateStore()
        mautrix_log: TraceLogger = logging.getLogger("mau.as")  # type: ignore[assignment]
        self.api = AppServiceAPI(
            base_url=config.homeserver.address,
            bot_mxid=UserID(config.bot_mxid),
            token=config.appservice.as_token,
            log=mautrix_log,
            state_store=store,
            client_session=session,
            bridge_name=config.appservice.id,
        )
        self.bot: IntentAPI = self.api.bot_intent()
        self.intents = GhostIntents(self.api, self.bot)
        self._default_room_version: str | None = None

    def intent(self, mxid: str) -> IntentAPI:
        """The intent of a ghost (kept for the users seen lately: see intents.py)."""
        return self.intents.get(mxid)

    async def versions(self) -> dict[str, Any]:
        """GET /versions without a token: a wrong token must not look like a wrong address."""
        url = f"{self._config.homeserver.address}/_matrix/client/versions"
        timeout = ClientTimeout(total=30)
        async with self._session.get(url, timeout=timeout) as response:
            text = await response.text()
            if response.status != 200:
                raise request_error(response.status, text)
            body: dict[str, Any] = json.loads(text)
            return body

    async def whoami(self) -> str:
        """Who the as_token belongs to, asked without masquerading as the configured bot (so a
        mismatch shows as a different user, not as a refusal)."""
        url = f"{self._config.homeserver.address}/_matrix/client/v3/account/whoami"
        headers = {"Authorization": f"Bearer {self._config.appservice.as_token}"}
        async with self._session.get(
            url, headers=headers, timeout=ClientTimeout(total=30)
        ) as response:
            text = await response.text()
            if response.status != 200:
                raise request_error(response.status, text)
            return str(json.loads(text)["user_id"])

    async def membership(self, room_id: str, user_id: str) -> str | None:
        """A user's membership of a room as the bot sees it, asked without joining (the bot
        intent's state getters join first); None if the bot cannot see the room or the user
        never had a membership there."""
        path = Path.v3.rooms[room_id].state["m.room.member"][user_id]
        try:
            content = await self.api.request(Method.GET, path)
        except MatrixRequestError as error:
            if 400 <= error.http_status < 500:
                return None
            raise
        membership = content.get("membership")
        return membership if isinstance(membership, str) else None

    async def present_members(self, member: IntentAPI, room_id: str) -> set[str]:
        """Who is in the room or invited to it, as ``member`` (in the room) sees it."""
        events = await member.get_members(RoomID(room_id))
        return {
            str(event.state_key)
            for event in events
            if isinstance(event.content, MemberStateEventContent)
            and event.content.membership in (Membership.JOIN, Membership.INVITE)
        }

    async def ping_appservice(self, transaction_id: str) -> int:
        return await self.bot.appservice_ping(self._config.appservice.id, transaction_id)

    async def room_version_for_new_rooms(self) -> str:
        if self._config.bridge.room_version:
            return self._config.bridge.room_version
        if self._default_room_version is None:
            capabilities = await self.api.request(Method.GET, Path.v3.capabilities)
            versions = capabilities.get("capabilities", {}).get("m.room_versions", {})
            self._default_room_version = str(versions.get("default", "10"))
        return self._default_room_version

    async def create_room(
        self,
        *,
        name: str | None = None,
        topic: str | None = None,
        alias_localpart: str | None = None,
        invite: list[str] | None = None,
        is_direct: bool = False,
        room_version: str | None = None,
        users_power: dict[str, int] | None = None,
        initial_state: list[dict[str, Any]] | None = None,
    ) -> tuple[RoomID, str]:
        """Create a room as the bridge bot; return its id and room version.

        The bot keeps power over the room's state; on room version 12 and later it holds that as
        the creator, and listing it in the power levels would make the homeserver refuse.
        """
        version = room_version or await self.room_version_for_new_rooms()
        users = dict(users_power or {})
        if creator_has_infinite_power(version):
            users.pop(self.bot.mxid, None)
        else:
            users[self.bot.mxid] = 100
        power_levels = {
            "users": users,
            "users_default": 0,
            "events_default": 0,
            "state_default": 50,
            "invite": 50,
            "kick": 50,
            "ban": 50,
            "redact": 50,
            "events": {
                "m.room.name": 50,
                "m.room.avatar": 50,
                "m.room.topic": 50,
                "m.room.power_levels": 100,
                "m.room.tombstone": 100,
            },
        }
        room_id = await self.bot.create_room(
            alias_localpart=alias_localpart,
            name=name,
            topic=topic,
            invitees=[UserID(user) for user in invite or []],
            is_direct=is_direct,
            room_version=version,
            power_level_override=power_levels,
            initial_state=initial_state or [],
        )
        return room_id, version
