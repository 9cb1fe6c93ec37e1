"""Tests of the Synapse test harness and the test Matrix client, against a real Synapse."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import JsonDict, MatrixError, MatrixTestClient
from tests.support.ports import free_port
from tests.support.synapse import SynapseError, SynapseServer

MakeSynapse = Callable[..., SynapseServer]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _body_is(body: str) -> Callable[[JsonDict], bool]:
    return lambda e: e.get("type") == "m.room.message" and e["content"].get("body") == body


def test_server_answers(synapse: SynapseServer) -> None:
    assert synapse.url == f"http://127.0.0.1:{synapse.port}"
    assert synapse.server_name == "synapse.test"
    assert synapse.running
    assert "versions" in _get_json(f"{synapse.url}/_matrix/client/versions")
    assert (synapse.data_dir / "homeserver.log").stat().st_size > 0


async def test_registered_users(make_matrix_user: MakeMatrixUser) -> None:
    alice = await make_matrix_user("alice", displayname="Alice")
    bob = await make_matrix_user("bob")
    assert alice.user_id != bob.user_id
    assert (await alice.whoami())["user_id"] == alice.user_id
    assert (await bob.whoami())["user_id"] == bob.user_id
    assert alice.user_id.endswith(":synapse.test")
    assert (await bob.get_profile(alice.user_id))["displayname"] == "Alice"


async def test_room_versions(matrix_user: MatrixTestClient) -> None:
    v12 = await matrix_user.create_room()
    # Room version 12 ids are hashes of the create event: no ":server" part.
    assert v12.startswith("!") and ":" not in v12
    assert await matrix_user.get_room_version(v12) == "12"
    v11 = await matrix_user.create_room(room_version="11")
    assert v11.endswith(":synapse.test")
    assert await matrix_user.get_room_version(v11) == "11"


async def test_invite_join_and_messages(make_matrix_user: MakeMatrixUser) -> None:
    alice = await make_matrix_user("alice")
    bob = await make_matrix_user("bob")
    alias_name = f"room-{uuid.uuid4().hex[:8]}"
    room_id = await alice.create_room(name="Test room", room_alias_name=alias_name)
    assert await alice.resolve_alias(f"#{alias_name}:synapse.test") == room_id

    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_for_invite(inviter=alice.user_id) == room_id
    await bob.wait_for_membership(room_id, bob.user_id, "invite")
    assert await bob.join(room_id) == room_id
    await alice.wait_for_membership(room_id, bob.user_id, "join")
    assert set(await alice.joined_members(room_id)) == {alice.user_id, bob.user_id}

    first = await alice.send_message(room_id, "hello", html="<b>hello</b>")
    second = await alice.send_message(room_id, "hello")
    event = await bob.wait_for_event(room_id, _body_is("hello"))
    assert event["event_id"] == first
    assert event["content"]["formatted_body"] == "<b>hello</b>"
    later = await bob.wait_for_event(room_id, _body_is("hello"), after=first)
    assert later["event_id"] == second

    await alice.send_state(room_id, "org.example.test", {"n": 1}, state_key="k")
    assert await bob.get_state(room_id, "org.example.test", "k") == {"n": 1}
    types = {e["type"] for e in await alice.get_state_events(room_id)}
    assert {"m.room.create", "m.room.name", "org.example.test"} <= types
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "Test room"

    history = await bob.room_messages(room_id, limit=50)
    ids = [e["event_id"] for e in history]
    assert ids.index(first) < ids.index(second)
    assert history[0]["type"] == "m.room.create"

    await bob.leave(room_id)
    await alice.wait_for_membership(room_id, bob.user_id, "leave")
    await bob.wait_for_membership(room_id, bob.user_id, "leave")


async def test_sync_gap_is_backfilled(make_matrix_user: MakeMatrixUser) -> None:
    alice = await make_matrix_user("alice")
    bob = await make_matrix_user("bob")
    bob.sync_timeline_limit = 3
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(await bob.wait_for_invite())
    await bob.sync_once()
    sent = [await alice.send_message(room_id, f"m{i}") for i in range(10)]
    # The next /sync is "limited" to 3 events; the other 7 must come from /messages.
    assert (await bob.wait_for_event(room_id, _body_is("m0")))["event_id"] == sent[0]
    seen = [e["event_id"] for e in bob.seen_events(room_id)]
    assert seen[-10:] == sent


async def test_wait_for_event_timeout_shows_what_was_seen(matrix_user: MatrixTestClient) -> None:
    room_id = await matrix_user.create_room()
    await matrix_user.send_message(room_id, "something else")
    with pytest.raises(AssertionError, match="something else"):
        await matrix_user.wait_for_event(room_id, _body_is("never sent"), timeout=0.5)


async def test_matrix_error_carries_errcode(matrix_user: MatrixTestClient) -> None:
    with pytest.raises(MatrixError) as info:
        await matrix_user.join("#no-such-room:synapse.test")
    assert info.value.status == 404
    assert info.value.errcode == "M_NOT_FOUND"
    assert info.value.error


async def test_appservice_on_second_server(tmp_path: Path, make_synapse: MakeSynapse) -> None:
    registration = tmp_path / "registration.yaml"
    as_token = uuid.uuid4().hex
    registration.write_text(
        "id: test-bridge\n"
        # Nobody listens here: Synapse just backs off pushing transactions.
        f"url: http://127.0.0.1:{free_port()}\n"
        f"as_token: {as_token}\n"
        f"hs_token: {uuid.uuid4().hex}\n"
        "sender_localpart: bridgebot\n"
        "rate_limited: false\n"
        "namespaces:\n"
        "  users:\n"
        "    - exclusive: true\n"
        "      regex: '@ghost_.*:as\\.test'\n"
    )
    server = make_synapse(
        server_name="as.test", app_service_config_files=[registration], default_room_version="11"
    )
    async with await MatrixTestClient.as_appservice(server, as_token) as bot:
        assert bot.user_id == "@bridgebot:as.test"
        assert (await bot.whoami())["user_id"] == "@bridgebot:as.test"
        ghost_id = await bot.register_appservice_user("ghost_1")
        assert ghost_id == "@ghost_1:as.test"
        assert await bot.register_appservice_user("ghost_1") == ghost_id  # idempotent

        async with await MatrixTestClient.as_appservice(server, as_token, ghost_id) as ghost:
            assert (await ghost.whoami())["user_id"] == ghost_id
            # default_room_version "11": room ids carry the server name again.
            room_id = await ghost.create_room()
            assert room_id.endswith(":as.test")
            assert await ghost.get_room_version(room_id) == "11"


async def test_restart_keeps_data(make_synapse: MakeSynapse) -> None:
    server = make_synapse()
    port = server.port
    async with await MatrixTestClient.register(server, "keeper") as user:
        room_id = await user.create_room()
        server.restart()
        assert server.port == port
        assert (await user.whoami())["user_id"] == user.user_id
        assert await user.get_room_version(room_id) == "12"


def test_start_failure_shows_log(tmp_path: Path) -> None:
    server = SynapseServer(tmp_path, extra_config={"default_room_version": "no-such-version"})
    with pytest.raises(SynapseError, match="no-such-version") as info:
        server.start()
    assert "exited with code" in str(info.value)
    assert not server.running
