"""Double puppeting through a real Synapse and the fake Bot API: a linked user's Telegram
messages (and edits) appear in Matrix as their own Matrix account and are not echoed back; with
the second appservice registration config.example.yaml describes, or with an access token the
user gives (login-matrix), kept over a restart; logout returns them to the ghost; without
double puppeting a linked user is invited to the chats their account writes in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portals.to_matrix_ids import BRIDGE_KEY, SOURCE_KEY, bridge_name
from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_accounts import ask_for_link, link_telegram
from tests.connectors.telegram.test_messages import body_is, sent_texts
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser
from tests.support.bridge_harness import AppserviceSetup
from tests.support.double_puppet import DoublePuppetSetup
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.synapse import SynapseServer
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


@pytest.fixture(scope="module")
def synapse(
    tmp_path_factory: pytest.TempPathFactory,
    appservice_setup: AppserviceSetup,
    double_puppet_setup: DoublePuppetSetup,
) -> Iterator[SynapseServer]:
    """A homeserver of this module's own, with the second registration config.example.yaml
    describes beside the bridge's."""
    server = SynapseServer(
        tmp_path_factory.mktemp("synapse-double-puppet"),
        app_service_config_files=[appservice_setup.registration, double_puppet_setup.registration],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def linked_in_a_group(
    fake: FakeTelegram, user: MatrixTestClient, bot: str
) -> tuple[FakeUser, FakeChat, str, str]:
    """Alice, linked to ``user``, in a group bridged to a room ``user`` joined; and the
    user's management room."""
    dm = await open_dm(user, bot)
    alice = fake.add_user("Alice")
    await link_telegram(fake, alice, await ask_for_link(user, dm))
    # Public (it has a username): joining its alias opens its portal.
    group = fake.add_supergroup("Alice's group", members=[alice], username="alices_group")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    return alice, group, room_id, dm


async def not_echoed(
    fake: FakeTelegram, group: FakeChat, user: MatrixTestClient, room_id: str, text: str
) -> None:
    """Nothing reached the group from Matrix but a message sent after ``text`` arrived."""
    await user.send_message(room_id, "after it")
    texts = await eventually(lambda: sent_texts(fake, group), what="the message after it")
    assert [sent.text for sent in texts] == [f"{_name(user)}: after it"], texts


def _name(user: MatrixTestClient) -> str:
    return user.user_id.removeprefix("@").split(":")[0]


async def test_a_linked_users_messages_appear_as_their_matrix_account(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    double_puppet_setup: DoublePuppetSetup,
) -> None:
    secret = {DOMAIN: f"as_token:{double_puppet_setup.as_token}"}
    running = await telegram_bridge(overrides={"bridge.double_puppet.secrets": secret})
    user = await make_matrix_user("puppet")
    alice, group, room_id, dm = await linked_in_a_group(fake_telegram, user, running.bot)

    sent = await user.send_message(dm, "ping-matrix")
    await user.wait_for_event(dm, notice_containing("Double puppeting works"), after=sent)
    first = fake_telegram.inject_text(group, alice, "written in Telegram")
    mine = await user.wait_for_event(room_id, body_is("written in Telegram"))
    assert mine["sender"] == user.user_id
    # Marked with this bridge's name: another bridge in the room would carry it, this one not.
    assert SOURCE_KEY in mine["content"]
    assert mine["content"][BRIDGE_KEY] == bridge_name(running.config.appservice.id, DOMAIN)
    # An edit in Telegram replaces it, from the same account (Matrix ignores others' edits).
    fake_telegram.inject_edit(group, first["message_id"], "edited in Telegram")
    edit = await user.wait_for_event(room_id, body_is("* edited in Telegram"))
    assert edit["sender"] == user.user_id
    assert edit["content"]["m.relates_to"]["event_id"] == mine["event_id"]
    assert edit["content"][BRIDGE_KEY] == mine["content"][BRIDGE_KEY]
    await not_echoed(fake_telegram, group, user, room_id, "written in Telegram")

    # After logout it is the ghost again.
    sent = await user.send_message(dm, "logout")
    await user.wait_for_event(dm, notice_containing("no longer linked"), after=sent)
    fake_telegram.inject_text(group, alice, "as the ghost")
    ghostly = await user.wait_for_event(room_id, body_is("as the ghost"))
    assert ghostly["sender"] == f"@telegram_{alice.id}:{DOMAIN}"


async def test_a_linked_users_reactions_are_marked_and_not_echoed(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    double_puppet_setup: DoublePuppetSetup,
) -> None:
    secret = {DOMAIN: f"as_token:{double_puppet_setup.as_token}"}
    running = await telegram_bridge(overrides={"bridge.double_puppet.secrets": secret})
    user = await make_matrix_user("reacting")
    alice, group, room_id, _ = await linked_in_a_group(fake_telegram, user, running.bot)
    fake_telegram.set_bot_member(group, "administrator")  # only admins hear of reactions
    message = fake_telegram.inject_text(group, alice, "react to me")
    await user.wait_for_event(room_id, body_is("react to me"))
    this_bridge = bridge_name(running.config.appservice.id, DOMAIN)

    # As the user's own account the marker alone tells the bridge it is its own doing.
    fake_telegram.inject_reaction(group, alice, message["message_id"], ["👍"])
    thumbs = await user.wait_for_event(
        room_id, lambda e: e["type"] == "m.reaction" and e["sender"] == user.user_id
    )
    assert thumbs["content"][BRIDGE_KEY] == this_bridge
    fake_telegram.inject_reaction(group, alice, message["message_id"], [])
    redaction = await user.wait_for_event(
        room_id, lambda e: e["type"] == "m.room.redaction" and e["sender"] == user.user_id
    )
    assert redaction.get("redacts", redaction["content"].get("redacts")) == thumbs["event_id"]
    assert redaction["content"][BRIDGE_KEY] == this_bridge
    await not_echoed(fake_telegram, group, user, room_id, "react to me")
    # The room's events are handled in order: the reaction was, before the message after it.
    assert fake_telegram.bot_reactions.get((group.id, message["message_id"])) is None


async def test_login_matrix_gives_double_puppeting_with_the_users_token(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    user = await make_matrix_user("ownpuppet")
    other = await make_matrix_user("notme")
    alice, group, room_id, dm = await linked_in_a_group(fake_telegram, user, running.bot)

    sent = await user.send_message(dm, "ping-matrix")
    await user.wait_for_event(dm, notice_containing("not set up for you"), after=sent)
    # Someone else's token, and a token the homeserver does not know: refused.
    sent = await user.send_message(dm, f"login-matrix {other.access_token}")
    await user.wait_for_event(dm, notice_containing("belongs to another"), after=sent)
    sent = await user.send_message(dm, "login-matrix not-a-real-token")
    await user.wait_for_event(dm, notice_containing("did not accept the token"), after=sent)
    sent = await user.send_message(dm, f"login-matrix {user.access_token}")
    await user.wait_for_event(dm, notice_containing("Delete your message"), after=sent)

    await running.stop()
    running = await telegram_bridge()
    sent = await user.send_message(dm, "ping-matrix")
    await user.wait_for_event(dm, notice_containing("Double puppeting works"), after=sent)
    fake_telegram.inject_text(group, alice, "mine after a restart")
    mine = await user.wait_for_event(room_id, body_is("mine after a restart"))
    assert mine["sender"] == user.user_id
    await not_echoed(fake_telegram, group, user, room_id, "mine after a restart")

    sent = await user.send_message(dm, "logout-matrix")
    await user.wait_for_event(dm, notice_containing("forgot your access token"), after=sent)
    fake_telegram.inject_text(group, alice, "the ghost again")
    ghostly = await user.wait_for_event(room_id, body_is("the ghost again"))
    assert ghostly["sender"] == f"@telegram_{alice.id}:{DOMAIN}"


async def test_without_double_puppeting_a_linked_user_is_invited_where_they_write(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    reader = await make_matrix_user("reader")
    linked = await make_matrix_user("invitee")
    dm = await open_dm(linked, running.bot)
    alice = fake_telegram.add_user("Alice")
    await link_telegram(fake_telegram, alice, await ask_for_link(linked, dm))
    group = fake_telegram.add_supergroup("Where Alice writes", members=[alice], username="where")
    room_id = await reader.join(f"#telegram_{group.id}:{DOMAIN}")

    fake_telegram.inject_text(group, alice, "hello")
    event: dict[str, Any] = await reader.wait_for_event(room_id, body_is("hello"))
    assert event["sender"] == f"@telegram_{alice.id}:{DOMAIN}"
    assert await linked.wait_for_invite() == room_id


async def test_a_revoked_token_falls_back_to_the_ghost_and_loses_nothing(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    user, observer = await make_matrix_user("revoker"), await make_matrix_user("observer")
    alice, group, room_id, dm = await linked_in_a_group(fake_telegram, user, running.bot)
    await observer.join(room_id)
    sent = await user.send_message(dm, f"login-matrix {user.access_token}")
    await user.wait_for_event(dm, notice_containing("Delete your message"), after=sent)
    fake_telegram.inject_text(group, alice, "before revoking")
    before = await observer.wait_for_event(room_id, body_is("before revoking"))
    assert before["sender"] == user.user_id

    await user.request("POST", "/_matrix/client/v3/logout", {})  # the token is dead
    fake_telegram.inject_text(group, alice, "after revoking")
    after = await observer.wait_for_event(room_id, body_is("after revoking"))
    assert after["sender"] == f"@telegram_{alice.id}:{DOMAIN}"
