"""The bridge never fetches a URL taken from Matrix content.

Media reach the bridge as mxc:// URIs, which it may only download through the homeserver; an
http(s) URL in an event (a file's url, a thumbnail, an <img> in HTML, a room or member avatar)
is someone else's server, and fetching it would let any Matrix user make the bridge send
requests where they like. A local server counts every request it gets: after the bridge has
handled events pointing at it, in portals and in ordinary rooms, the count is zero.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from bridge.network.events import ChatInfo
from tests.bridge.test_management_room import notice_containing
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import SERVER_NAME
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import CLIENT_V3, MatrixTestClient


@dataclass
class CountingServer:
    """An HTTP server that answers everything with a tiny PNG and remembers each request."""

    base: str = ""
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest_asyncio.fixture
async def counting_server() -> AsyncIterator[CountingServer]:
    server = CountingServer()

    async def handler(request: web.Request) -> web.Response:
        server.requests.append(f"{request.method} {request.path_qs}")
        return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    # The counter counts: one request of our own, then a clean slate.
    async with aiohttp.ClientSession() as session, session.get(server.url("self-check")) as reply:
        assert reply.status == 200
    assert server.requests == ["GET /self-check"]
    server.requests.clear()
    try:
        yield server
    finally:
        await runner.cleanup()


def media_events(server: CountingServer) -> list[tuple[str, dict[str, Any]]]:
    """Message events whose content points at the counting server in every place it can."""
    thumbnail = {"thumbnail_url": server.url("thumb"), "thumbnail_file": {"url": server.url("tf")}}
    info = {"mimetype": "image/png", "size": 8, "w": 1, "h": 1, **thumbnail}
    return [
        (
            "m.room.message",
            {"msgtype": "m.image", "body": "a.png", "url": server.url("image"), "info": info},
        ),
        (
            "m.room.message",
            {"msgtype": "m.file", "body": "a.bin", "url": server.url("file"), "info": info},
        ),
        (
            "m.room.message",
            {"msgtype": "m.video", "body": "v", "file": {"url": server.url("enc")}, "info": info},
        ),
        ("m.sticker", {"body": "sticker", "url": server.url("sticker"), "info": info}),
        (
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": f"look {server.url('plain')}",
                "format": "org.matrix.custom.html",
                "formatted_body": (
                    f'<img src="{server.url("img")}" alt="pic"> '
                    f'<a href="{server.url("link")}">link</a> '
                    f'<img src="{server.url("img2")}" srcset="{server.url("srcset")} 2x">'
                    f'<video src="{server.url("video")}" poster="{server.url("poster")}"></video>'
                    f'<span style="background:url({server.url("css")})">x</span>'
                ),
            },
        ),
        ("m.room.message", {"msgtype": "m.emote", "body": server.url("emote")}),
    ]


async def set_own_member_avatar(user: MatrixTestClient, room_id: str, url: str) -> None:
    await user.send_state(
        room_id,
        "m.room.member",
        {"membership": "join", "displayname": "Fetch Me", "avatar_url": url},
        state_key=user.user_id,
    )


async def send_all(user: MatrixTestClient, room_id: str, server: CountingServer) -> None:
    for event_type, content in media_events(server):
        await user.send_event(room_id, event_type, content)
    await set_own_member_avatar(user, room_id, server.url("member-avatar"))


async def relayed(connector: FakeConnector, text: str, timeout: float = 20) -> None:
    """Wait until a message whose body ends with ``text`` reached the fake network."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(message.body.endswith(text) for _, message in connector.network.sent):
        assert asyncio.get_running_loop().time() < deadline, (
            f"{text!r} never reached the network; it saw "
            f"{[message.body for _, message in connector.network.sent]}"
        )
        await asyncio.sleep(0.05)


async def settled(server: CountingServer, wait: Callable[[], Awaitable[object]]) -> None:
    """``wait``: for the effect of a message sent after the others. A room's events are
    handled in order, so by then every one before it was."""
    await wait()
    assert server.requests == [], f"the bridge fetched URLs from Matrix content: {server.requests}"


async def test_nothing_in_a_portal_is_fetched(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    counting_server: CountingServer,
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("fetcher")
    room_id = await connector.create_portal("nofetch", "No fetch", [user.user_id])
    await user.join(await user.wait_for_invite())

    await send_all(user, room_id, counting_server)
    # The global profile's avatar too (the homeserver copies it into the member events).
    await user.request(
        "PUT",
        f"{CLIENT_V3}/profile/{user.user_id}/avatar_url",
        {"avatar_url": counting_server.url("profile-avatar")},
    )
    await user.send_message(room_id, "marker-portal")
    await settled(counting_server, lambda: relayed(connector, "marker-portal"))
    # The text with links and images was relayed, as text: the HTML is passed on untouched.
    bodies = [message.body for _, message in connector.network.sent]
    assert any(body.endswith(f"look {counting_server.url('plain')}") for body in bodies), bodies


async def test_nothing_in_a_room_the_user_owns_is_fetched(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    counting_server: CountingServer,
) -> None:
    """An ordinary room first (the bot's other rooms), then the same room bridged by the user,
    who as its creator may also change the room's avatar."""
    user = await make_matrix_user("owner")
    connector = FakeConnector()
    connector.network.chats["owned"] = ChatInfo(name="Owned chat")
    running = await start_bridge(
        connector=connector,
        overrides={"bridge.permissions": {SERVER_NAME: "user", user.user_id: "admin"}},
    )
    other = await make_matrix_user("bystander")
    room_id = await user.create_room(invite=[running.bot, other.user_id])
    await user.wait_for_membership(room_id, running.bot, "join")

    async def room_avatar(name: str) -> None:
        await user.send_state(room_id, "m.room.avatar", {"url": counting_server.url(name)})

    await room_avatar("room-avatar")
    await send_all(user, room_id, counting_server)
    sent = await user.send_message(room_id, "!tg ping")
    await settled(
        counting_server,
        lambda: user.wait_for_event(room_id, notice_containing("Pong"), after=sent),
    )

    sent = await user.send_message(room_id, "!tg bridge owned")
    await user.wait_for_event(room_id, notice_containing("Bridged this room"), after=sent)
    await room_avatar("portal-avatar")
    await user.send_state(room_id, "m.room.name", {"name": "Renamed"})
    await send_all(user, room_id, counting_server)
    await user.send_message(room_id, "marker-owned")
    await settled(counting_server, lambda: relayed(connector, "marker-owned"))
    # The room's events were handled as a portal's: the rename reached the network.
    assert any(what == "name" for _, what, _ in connector.network.renames)
