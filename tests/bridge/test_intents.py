"""Ghost intents are kept for recent senders only, and what mautrix keeps per user goes with
them: a bridge that meets new people all day must not grow by each one for good."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from bridge.matrix import client as matrix_client
from bridge.matrix import intents
from bridge.matrix.client import MatrixClient
from bridge.matrix.intents import forget_logger
from tests.bridge.test_registration import config_for


async def test_many_new_senders_leave_no_trace_past_the_recent_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intents, "MAX_INTENTS", 20, raising=False)
    monkeypatch.setattr(matrix_client, "MAX_STATE_USERS", 20)
    config = config_for(tmp_path).typed(["telegram"])
    registry = logging.Logger.manager.loggerDict
    async with aiohttp.ClientSession() as session:
        matrix = MatrixClient(config, session)
        before = len(registry)
        first = matrix.intent("@telegram_0:example.com")
        for number in range(1, 500):
            matrix.intent(f"@telegram_{number}:example.com")
        assert len(matrix.api.children) <= 20
        # Each kept intent's logger, and a placeholder for its dotted name: no more.
        assert len(registry) - before <= 2 * 20
        # One let go still works for whoever holds it; the user gets a new one when next seen.
        assert first.mxid == "@telegram_0:example.com" and first.api.log.name.endswith(
            "0:example.com"
        )
        again = matrix.intent("@telegram_0:example.com")
        assert again is not first and again.mxid == first.mxid


def test_forgetting_a_logger_keeps_what_others_share() -> None:
    registry = logging.Logger.manager.loggerDict
    one = logging.getLogger("test_intents.api.@a:x.org")
    two = logging.getLogger("test_intents.api.@b:x.org")
    shared = logging.getLogger("test_intents.api.@a:x")  # its own logger, not a placeholder
    forget_logger(one)
    assert "test_intents.api.@a:x.org" not in registry
    assert registry["test_intents.api.@a:x"] is shared
    assert isinstance(registry["test_intents.api.@b:x"], logging.PlaceHolder)
    forget_logger(two)
    assert "test_intents.api.@b:x.org" not in registry
    assert "test_intents.api.@b:x" not in registry, "a placeholder that holds nothing goes"
    assert "test_intents.api" in registry  # the parent's placeholder holds the shared one
