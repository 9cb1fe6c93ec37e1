"""Shared fixtures: a real Synapse with the bridge's registration, and bridges to run against it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bridge.__main__ import known_secrets
from bridge.app import HEALTH_INTERVAL, Bridge
from bridge.db import migrate
from bridge.db.database import Database
from bridge.log_context import ContextFilter
from bridge.logging_setup import SecretFilter
from bridge.network.interface import NetworkConnector
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import (
    SERVER_NAME,
    AppserviceSetup,
    RunningBridge,
    bridge_config,
    make_appservice_setup,
)
from tests.support.databases import database_url
from tests.support.double_puppet import DoublePuppetSetup, make_double_puppet_setup
from tests.support.ports import free_port
from tests.support.session_log import guard, unguard
from tests.support.synapse import SynapseServer

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.hang_report",
    # The run-wide log and its check for secrets.
    "tests.support.session_log",
    # What the run's end shows, gathered from pytest-xdist's workers.
    "tests.support.run_summary",
]

# Migrations run in the tests' own process: hundreds of fresh databases, each a new interpreter
# otherwise. The bridge's way (a process of its own) is tested in tests/bridge/db/
# test_migrations.py, and by every test that starts the bridge as a process.
migrate.UPGRADE_APART = False

StartBridge = Callable[..., Awaitable[RunningBridge]]


@pytest.fixture(scope="session")
def appservice_setup(tmp_path_factory: pytest.TempPathFactory) -> AppserviceSetup:
    return make_appservice_setup(tmp_path_factory.mktemp("appservice"), free_port())


@pytest.fixture(scope="session")
def double_puppet_setup(tmp_path_factory: pytest.TempPathFactory) -> DoublePuppetSetup:
    """The second registration double puppeting needs, as config.example.yaml describes it."""
    return make_double_puppet_setup(tmp_path_factory.mktemp("doublepuppet"), SERVER_NAME)


@pytest.fixture(scope="session")
def synapse_appservice_files(appservice_setup: AppserviceSetup) -> list[Path]:
    # The double puppeting registration is loaded only by the homeserver of the tests that
    # need it (tests/connectors/telegram/test_double_puppet.py): Synapse numbers transactions
    # in one sequence across appservices, so beside a second registration the bridge's ids
    # skip; bridge/matrix/gaps.py then tells a gap only by the silence before a skip, which a
    # slow test machine could imitate in the tests that count the homeserver's requests.
    return [appservice_setup.registration]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest_asyncio.fixture
async def db_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(db_kind, tmp_path) as url:
        yield url


@pytest_asyncio.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database of each kind, closed after the test."""
    database = Database(db_url)
    await database.migrate()
    yield database
    await database.close()


@pytest_asyncio.fixture
async def start_bridge(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> AsyncIterator[StartBridge]:
    """Start bridges (one at a time: they share the registered port); all stopped at teardown.

    ``start_bridge(database=url, connector=FakeConnector(), overrides={"bridge.x": ...},
    queue_size=4)``
    """
    running: list[RunningBridge] = []
    default_database = f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"

    async def start(
        database: str | None = None,
        connector: NetworkConnector | None = None,
        overrides: dict[str, Any] | None = None,
        queue_size: int = 256,
        idle_after: float = 60.0,
        health_interval: float = HEALTH_INTERVAL,
    ) -> RunningBridge:
        connector = connector or FakeConnector()
        config = bridge_config(
            appservice_setup, synapse.url, database or default_database, connector.name, overrides
        )
        connector.configure(config.networks[connector.name])
        # Its log lines pass the filters bridge/__main__.py gives every handler.
        secret_filter = SecretFilter(known_secrets(config, connector))
        filters = [secret_filter, ContextFilter()]
        guard(filters)
        guarded.append(filters)
        bridge = Bridge(
            config,
            connector,
            queue_size=queue_size,
            idle_after=idle_after,
            keep_secret=secret_filter.add,
            health_interval=health_interval,
        )
        try:
            await bridge.start()
        except BaseException:
            await bridge.stop(timeout=2)
            raise
        handle = RunningBridge(bridge, config, connector)
        running.append(handle)
        return handle

    guarded: list[list[logging.Filter]] = []
    yield start
    for handle in running:
        await handle.stop()
    for filters in guarded:
        unguard(filters)
