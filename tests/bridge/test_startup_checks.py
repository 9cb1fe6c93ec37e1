"""Start-up against a real Synapse: each misconfiguration ends in one line that says what to fix."""

from __future__ import annotations

import pytest

from bridge.errors import StartupError
from bridge.health import all_ok
from tests.conftest import StartBridge
from tests.support.ports import free_port


async def test_unreachable_homeserver(start_bridge: StartBridge) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StartupError) as failure:
        await start_bridge(overrides={"homeserver.address": address})
    message = str(failure.value)
    assert "Cannot reach the homeserver" in message and address in message
    assert "\n" not in message


async def test_as_token_not_accepted(start_bridge: StartBridge) -> None:
    with pytest.raises(StartupError) as failure:
        await start_bridge(overrides={"appservice.as_token": "not-the-registered-token"})
    message = str(failure.value)
    assert "does not accept appservice.as_token" in message
    assert "app_service_config_files" in message
    assert "not-the-registered-token" not in message
    assert "\n" not in message


async def test_homeserver_cannot_reach_the_bridge(start_bridge: StartBridge) -> None:
    # The registration's url names the registered port; listening elsewhere breaks the ping.
    with pytest.raises(StartupError) as failure:
        await start_bridge(overrides={"appservice.port": free_port()})
    message = str(failure.value)
    assert "could not reach the bridge at appservice.address" in message
    assert "\n" not in message


async def test_hs_token_mismatch(start_bridge: StartBridge) -> None:
    with pytest.raises(StartupError) as failure:
        await start_bridge(overrides={"appservice.hs_token": "a-different-hs-token"})
    message = str(failure.value)
    assert "hs_token" in message
    assert "a-different-hs-token" not in message
    assert "\n" not in message


async def test_wrong_bot_username(start_bridge: StartBridge) -> None:
    with pytest.raises(StartupError) as failure:
        await start_bridge(overrides={"appservice.bot_username": "otherbot"})
    assert "appservice.bot_username" in str(failure.value)


async def test_starts_after_failed_attempts(start_bridge: StartBridge) -> None:
    # Synapse backs off after failed deliveries; the start-up ping makes it retry at once.
    running = await start_bridge()
    assert running.bridge.core is not None and all_ok(running.bridge.core.health())
