"""Pytest fixture for the fake Telegram: register with `pytest_plugins = [...pytest_plugin]`
or import `fake_telegram` into a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeTelegram


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A running fake; the test fails if it saw any schema violation (checked after it stops,
    so requests still in flight count too). Tests provoking violations take_violations()."""
    fake = FakeTelegram()
    async with fake:
        yield fake
    fake.assert_no_violations()
