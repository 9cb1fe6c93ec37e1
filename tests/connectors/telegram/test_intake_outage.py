"""Telegram intake stores first and leaves the homeserver to each chat's lane: while the
homeserver cannot be reached, updates of every chat are still stored and confirmed to Telegram
(which keeps updates for a day only), among them a new business connection and its first
contact, a new sender with a profile photo and a link confirmation; once the homeserver is
back, everything arrives, in order. Real Synapse behind a proxy that refuses connections, the
fake Bot API, the real python-telegram-bot client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import (
    StartTelegramBridge,
    confirmed,
    last_update_id,
    open_portal,
)
from tests.connectors.telegram.test_accounts import ask_for_link, link_telegram
from tests.connectors.telegram.test_business import RIGHTS, business_owner
from tests.fakes.telegram import FakeTelegram, make_png
from tests.support.fixtures import MakeMatrixUser
from tests.support.hs_proxy import HomeserverProxy
from tests.support.synapse import SynapseServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

DOMAIN = "synapse.test"
# Lanes retry the homeserver with a backoff of up to 10 s: what waited arrives within this.
AFTER_OUTAGE = 45.0


def body_is(body: str) -> Any:
    return lambda event: event.get("content", {}).get("body") == body


@pytest_asyncio.fixture
async def proxy(synapse: SynapseServer) -> AsyncIterator[HomeserverProxy]:
    proxy = HomeserverProxy(synapse.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_intake_goes_on_while_the_homeserver_is_away_and_all_arrives_after(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    proxy: HomeserverProxy,
) -> None:
    running = await telegram_bridge(overrides={"homeserver.address": proxy.url})
    merchant = await make_matrix_user("outage-merchant", displayname="Merchant")
    owner, merchant_dm = await business_owner(fake_telegram, merchant, running.bot)
    newcomer = await make_matrix_user("outage-newcomer")
    newcomer_dm = await open_dm(newcomer, running.bot)
    token = await ask_for_link(newcomer, newcomer_dm)
    reader = await make_matrix_user("outage-reader")
    group, member, group_room = await open_portal(fake_telegram, reader, "Outage club")
    fake_telegram.inject_text(group, member, "before")
    await reader.wait_for_event(group_room, body_is("before"))

    await proxy.set_mode("refuse")
    connection = fake_telegram.inject_business_connection(owner, rights=RIGHTS)
    carol = fake_telegram.add_user("Carol")
    fake_telegram.inject_business_message(connection, carol, "do you have it in blue?")
    dora = fake_telegram.add_user("Dora", profile_photos=[make_png(6, 6, (200, 10, 10))])
    fake_telegram.set_member(group, dora, "member")
    fake_telegram.inject_text(group, dora, "hello from Dora")
    # The link is confirmed in Telegram, homeserver or not.
    newcomer_tg = fake_telegram.add_user("Newcomer")
    assert "now linked" in await link_telegram(fake_telegram, newcomer_tg, token)
    fake_telegram.inject_text(group, member, "after all that")
    # Every update is stored: Telegram was told by the offset, and may forget them.
    last = last_update_id(fake_telegram)
    await eventually(lambda: confirmed(fake_telegram, last), what="every update confirmed")

    await proxy.set_mode("pass")
    business_room = await merchant.wait_for_invite(timeout=AFTER_OUTAGE)
    await merchant.join(business_room)
    asked = await merchant.wait_for_event(
        business_room, body_is("do you have it in blue?"), timeout=AFTER_OUTAGE
    )
    assert asked["sender"] == f"@telegram_{carol.id}:{DOMAIN}"
    await merchant.wait_for_event(
        merchant_dm, notice_containing("Business account is connected"), timeout=AFTER_OUTAGE
    )
    await newcomer.wait_for_event(
        newcomer_dm,
        notice_containing(f"Newcomer ({newcomer_tg.id}) is now linked"),
        timeout=AFTER_OUTAGE,
    )
    await reader.wait_for_event(group_room, body_is("after all that"), timeout=AFTER_OUTAGE)
    bodies = [
        e["content"].get("body")
        for e in reader.seen_events(group_room)
        if e.get("type") == "m.room.message"
    ]
    assert bodies[-3:] == ["before", "hello from Dora", "after all that"], bodies
    dora_profile = await reader.get_profile(f"@telegram_{dora.id}:{DOMAIN}")
    assert dora_profile["avatar_url"].startswith("mxc://")


async def test_a_notice_the_homeserver_never_took_is_sent_after_a_restart(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    proxy: HomeserverProxy,
) -> None:
    """A link confirmed while the homeserver is away, then the bridge stops: the notice is
    stored, so the next start sends it (once)."""
    running = await telegram_bridge(overrides={"homeserver.address": proxy.url})
    user = await make_matrix_user("outage-restarter")
    dm = await open_dm(user, running.bot)
    token = await ask_for_link(user, dm)

    await proxy.set_mode("refuse")
    alice = fake_telegram.add_user("Alice")
    assert "now linked" in await link_telegram(fake_telegram, alice, token)
    await running.bridge.stop(timeout=1.0)  # the notice's lane is still waiting: cut off
    await proxy.set_mode("pass")
    running = await telegram_bridge(overrides={"homeserver.address": proxy.url})
    linked = notice_containing(f"Alice ({alice.id}) is now linked")
    await user.wait_for_event(dm, linked, timeout=AFTER_OUTAGE)
    # A later notice (after the next command) shows the first one came once.
    sent = await user.send_message(dm, "ping")
    await user.wait_for_event(dm, notice_containing("Pong"), after=sent)
    assert len([e for e in user.seen_events(dm) if linked(e)]) == 1
