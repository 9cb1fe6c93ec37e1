"""The provisioning API on the running bridge (real Synapse, fake Bot API): every operation for
an authorised caller, and refused (401/403/400/404/409) for everyone else; bridging through it
follows the same rules as the bridge command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio

from bridge import __version__
from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_accounts import LINK, link_telegram
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import SERVER_NAME, RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.session_log import register_secret
from tests.support.waiting import eventually

NOBODY = "@nobody:nowhere.test"  # no permission at all
RELAY = "@someone:relay.test"  # relay level only


class Provisioning:
    """A caller of the running bridge's provisioning API."""

    def __init__(self, running: RunningBridge, session: aiohttp.ClientSession) -> None:
        settings = running.config.appservice.provisioning
        self.base = f"http://127.0.0.1:{running.config.appservice.port}{settings.prefix}/v1"
        self.secret = settings.shared_secret
        self._session = session

    async def call(
        self,
        method: str,
        path: str,
        user: str | None,
        body: Any = None,
        *,
        secret: str | None = "",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """``secret``: "" for the right one, None for none."""
        headers = {}
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret or self.secret}"
        params = {"user_id": user} if user is not None else {}
        async with self._session.request(
            method,
            self.base + path,
            params=params,
            headers=headers,
            json=body if raw is None else None,
            data=raw,
        ) as response:
            answer: dict[str, Any] = await response.json()
            return response.status, answer


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def start(
    telegram_bridge: StartTelegramBridge, admin: MatrixTestClient, **overrides: Any
) -> RunningBridge:
    permissions = {admin.user_id: "admin", SERVER_NAME: "user", "relay.test": "relay"}
    return await telegram_bridge(overrides={"bridge.permissions": permissions, **overrides})


@dataclass
class Callers:
    """A bridge admin and a plain user of a running bridge, and the API they call."""

    admin: MatrixTestClient
    plain: MatrixTestClient
    running: RunningBridge
    api: Provisioning


async def callers(
    telegram_bridge: StartTelegramBridge,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> Callers:
    admin = await make_matrix_user("padmin")
    plain = await make_matrix_user("pplain")
    running = await start(telegram_bridge, admin)
    return Callers(admin, plain, running, Provisioning(running, http))


async def room_with_bot(
    creator: MatrixTestClient, running: RunningBridge, name: str, *invite: str
) -> str:
    """A room its creator made with the bridge bot (and ``invite``), once the bot is in."""
    room_id = await creator.create_room(name=name, invite=[running.bot, *invite])
    await creator.wait_for_membership(room_id, running.bot, "join")
    return room_id


OPERATIONS = [
    ("GET", "/bridge", None),
    ("GET", "/portals", None),
    ("POST", "/portals", {"room_id": "!a:b", "chat_id": "1"}),
    ("DELETE", "/portals/!a:b", None),
    ("POST", "/login", None),
    ("GET", "/login/some-login", None),
    ("POST", "/logout", None),
]


async def test_every_operation_refuses_a_caller_without_the_secret_or_permission(
    telegram_bridge: StartTelegramBridge,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> None:
    admin = await make_matrix_user("padmin")
    running = await start(telegram_bridge, admin)
    secret = running.config.appservice.provisioning.shared_secret
    # -g (the harness's registration) replaced "generate" with a random secret.
    assert secret != "generate" and len(secret) >= 32
    api = Provisioning(running, http)
    ghost = f"@telegram_12345:{SERVER_NAME}"
    for method, path, body in OPERATIONS:
        what = f"{method} {path}"
        status, answer = await api.call(method, path, admin.user_id, body, secret=None)
        assert (status, answer["errcode"]) == (401, "M_MISSING_TOKEN"), what
        status, answer = await api.call(method, path, admin.user_id, body, secret="wrong" * 8)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), what
        for nobody in (NOBODY, running.bot, ghost):
            status, answer = await api.call(method, path, nobody, body)
            assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), (what, nobody)
            assert "needs the" in answer["error"]
        status, answer = await api.call(method, path, None, body)
        assert (status, answer["errcode"]) == (400, "M_MISSING_PARAM"), what
        status, answer = await api.call(method, path, "alice", body)
        assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM"), what

    # A relay user may look, not act.
    status, info = await api.call("GET", "/bridge", RELAY)
    assert status == 200 and info["user"]["permission"] == "relay"
    for method, path, body in OPERATIONS[2:]:
        status, answer = await api.call(method, path, RELAY, body)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), (method, path)
    # Another scheme with the right secret is no authorisation either.
    async with http.get(
        f"{api.base}/bridge",
        params={"user_id": admin.user_id},
        headers={"Authorization": f"Basic {secret}"},
    ) as response:
        assert response.status == 403

    # Header bytes that are no text are a wrong secret, not a server error.
    reader, writer = await asyncio.open_connection("127.0.0.1", running.config.appservice.port)
    writer.write(
        b"GET /_matrix/provision/v1/bridge?user_id=%40a%3Ab HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n"
    )
    answer_bytes = await reader.read()
    writer.close()
    assert answer_bytes.startswith(b"HTTP/1.1 403"), answer_bytes[:100]

    # A front end in a browser on another origin may call it, and read its refusals.
    async with http.options(
        f"{api.base}/portals", headers={"Access-Control-Request-Method": "POST"}
    ) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    async with http.get(f"{api.base}/bridge", params={"user_id": admin.user_id}) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    # The document is public, and names every operation.
    async with http.get(f"{api.base}/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["info"]["version"] == __version__
    assert document["servers"] == [{"url": "/_matrix/provision/v1"}]
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == {
        ("GET", "/bridge"),
        ("GET", "/portals"),
        ("POST", "/portals"),
        ("DELETE", "/portals/{room_id}"),
        ("POST", "/login"),
        ("GET", "/login/{login_id}"),
        ("POST", "/logout"),
    }


async def test_bridge_info_and_bridging_by_the_commands_rules(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> None:
    scene = await callers(telegram_bridge, make_matrix_user, http)
    admin, plain, running, api = scene.admin, scene.plain, scene.running, scene.api
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Provisioned", owner=owner)
    chat_id = str(group.id)

    status, info = await api.call("GET", "/bridge", plain.user_id)
    assert status == 200
    assert info["version"] == __version__
    assert info["bot_user_id"] == running.bot
    assert info["network"]["id"] == "telegram" and info["network"]["name"] == "Telegram"
    assert info["network"]["status"].startswith("connected as @")
    assert info["network"]["links_accounts"] is True
    assert info["user"] == {"user_id": plain.user_id, "permission": "user", "account": None}

    room_id = await room_with_bot(admin, running, "Provisioned room", plain.user_id)
    lonely = await admin.create_room(name="No bot here")
    request = {"room_id": room_id, "chat_id": chat_id}

    # As for a command sent in the room: the user and the bot must be in it.
    status, answer = await api.call("POST", "/portals", plain.user_id, request)
    assert status == 403 and "is not in that room" in answer["error"]
    status, answer = await api.call(
        "POST", "/portals", admin.user_id, {**request, "room_id": lonely}
    )
    assert status == 403 and "bot is not in that room" in answer["error"]
    await plain.join(room_id)
    # A user whose linked account does not administer the chat may not.
    status, answer = await api.call("POST", "/portals", plain.user_id, request)
    assert status == 403 and "Only bridge admins" in answer["error"]
    # Bad input.
    for bad in (
        {"room_id": room_id},
        {"room_id": room_id, "chat_id": int(chat_id)},
        {"room_id": "not a room", "chat_id": chat_id},
        {"room_id": room_id, "chat_id": ""},
    ):
        status, answer = await api.call("POST", "/portals", admin.user_id, bad)
        assert status == 400 and answer["errcode"] in ("M_MISSING_PARAM", "M_INVALID_PARAM"), bad
    status, answer = await api.call("POST", "/portals", admin.user_id, raw=b"{nope")
    assert (status, answer["errcode"]) == (400, "M_NOT_JSON")
    for unknown in ("-999", "0042", "not-a-chat"):
        status, answer = await api.call(
            "POST", "/portals", admin.user_id, {**request, "chat_id": unknown}
        )
        assert (status, answer["errcode"]) == (404, "M_NOT_FOUND"), unknown
        assert f"Cannot bridge {unknown}" in answer["error"]
    dm = await open_dm(admin, running.bot)
    status, answer = await api.call("POST", "/portals", admin.user_id, {**request, "room_id": dm})
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")
    assert "management room" in answer["error"]


async def test_bridge_list_and_unbridge(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> None:
    scene = await callers(telegram_bridge, make_matrix_user, http)
    admin, plain, running, api = scene.admin, scene.plain, scene.running, scene.api
    stranger = await make_matrix_user("pstranger")
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Provisioned", owner=owner)
    chat_id = str(group.id)
    room_id = await room_with_bot(admin, running, "Provisioned room", plain.user_id)
    await plain.join(room_id)
    request = {"room_id": room_id, "chat_id": chat_id}

    status, bridged = await api.call("POST", "/portals", admin.user_id, request)
    assert status == 200, bridged
    portal = {"room_id": room_id, "chat_id": chat_id, "name": "Provisioned", "direct": False}
    assert bridged == portal
    await plain.wait_for_event(
        room_id, notice_containing(f"Bridged this room to Provisioned. (asked by {admin.user_id})")
    )
    status, answer = await api.call("POST", "/portals", admin.user_id, request)
    assert (status, answer["errcode"]) == (409, "M_CONFLICT")
    fake_telegram.inject_text(group, owner, "through the provisioned portal")
    event = await plain.wait_for_event(
        room_id, lambda e: e["content"].get("body") == "through the provisioned portal"
    )
    assert event["sender"] == f"@telegram_{owner.id}:{SERVER_NAME}"

    # The portals of each user: those whose rooms they are in.
    for user, expected in ((admin, [portal]), (plain, [portal]), (stranger, [])):
        status, answer = await api.call("GET", "/portals", user.user_id)
        assert (status, answer) == (200, {"portals": expected}), user.user_id

    status, answer = await api.call("DELETE", f"/portals/{room_id}", plain.user_id)
    assert status == 403 and "Only bridge admins" in answer["error"]
    status, answer = await api.call("DELETE", f"/portals/{room_id}", stranger.user_id)
    assert status == 403 and "is not in that room" in answer["error"]
    status, answer = await api.call("DELETE", "/portals/not-a-room", admin.user_id)
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")
    status, gone = await api.call("DELETE", f"/portals/{room_id}", admin.user_id)
    assert (status, gone) == (200, portal)
    await plain.wait_for_event(room_id, notice_containing("no longer bridged to Provisioned"))
    status, answer = await api.call("DELETE", f"/portals/{room_id}", admin.user_id)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")
    status, answer = await api.call("GET", "/portals", admin.user_id)
    assert answer == {"portals": []}
    # Room and chat are free again.
    status, bridged = await api.call("POST", "/portals", admin.user_id, request)
    assert (status, bridged) == (200, portal)


async def test_login_link_state_and_logout_and_a_linked_chat_admin_bridges(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> None:
    scene = await callers(telegram_bridge, make_matrix_user, http)
    admin, plain, running, api = scene.admin, scene.plain, scene.running, scene.api
    owner = fake_telegram.add_user("Owner", username="owner_tg")
    group = fake_telegram.add_supergroup("Owned", owner=owner)

    status, login = await api.call("POST", "/login", plain.user_id)
    assert status == 200, login
    register_secret(login["login_id"])  # the token in the link: never in the run's log
    assert login["state"] == "waiting" and login["account"] is None
    match = LINK.fullmatch(login["link"])
    assert match is not None and match.group(2) == login["login_id"]
    status, again = await api.call("GET", f"/login/{login['login_id']}", plain.user_id)
    assert (status, again) == (200, login)
    # A login is its user's only; an unknown one is not found.
    status, answer = await api.call("GET", f"/login/{login['login_id']}", admin.user_id)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")
    status, answer = await api.call("GET", "/login/no-such-login", plain.user_id)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")

    await link_telegram(fake_telegram, owner, login["login_id"])
    account = {"id": str(owner.id), "name": "Owner"}

    async def login_state() -> dict[str, Any] | None:
        status, state = await api.call("GET", f"/login/{login['login_id']}", plain.user_id)
        assert status == 200, state
        return None if state["state"] == "waiting" else state

    state = await eventually(login_state, what="the login to end")
    assert state == {**login, "state": "linked", "account": account}
    status, info = await api.call("GET", "/bridge", plain.user_id)
    assert info["user"]["account"] == account

    # Linked to the chat's owner, the user may bridge that chat, as with the command.
    room_id = await room_with_bot(plain, running, "Owned room", admin.user_id)
    request = {"room_id": room_id, "chat_id": str(group.id)}
    status, bridged = await api.call("POST", "/portals", plain.user_id, request)
    assert status == 200 and bridged["name"] == "Owned", bridged
    status, gone = await api.call("DELETE", f"/portals/{room_id}", plain.user_id)
    assert status == 200 and gone["chat_id"] == str(group.id)

    status, answer = await api.call("POST", "/logout", plain.user_id)
    assert (status, answer) == (200, {"unlinked": str(owner.id)})
    status, answer = await api.call("POST", "/logout", plain.user_id)
    assert (status, answer) == (200, {"unlinked": None})
    status, info = await api.call("GET", "/bridge", plain.user_id)
    assert info["user"]["account"] is None
    # Unlinked, the same user may no longer bridge the chat.
    status, answer = await api.call("POST", "/portals", plain.user_id, request)
    assert status == 403 and "Only bridge admins" in answer["error"]


async def test_the_api_is_not_served_when_disabled(
    telegram_bridge: StartTelegramBridge,
    make_matrix_user: MakeMatrixUser,
    http: aiohttp.ClientSession,
) -> None:
    admin = await make_matrix_user("padmin")
    running = await start(telegram_bridge, admin, **{"appservice.provisioning.enabled": False})
    api = Provisioning(running, http)
    for path in ("/bridge", "/openapi.json"):
        status, answer = await api.call("GET", path, admin.user_id)
        assert (status, answer["errcode"]) == (404, "M_UNRECOGNIZED"), path
