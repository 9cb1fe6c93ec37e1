"""Fault injection: several hundred messages across several portals, both ways, through each
fault; nothing may be lost, duplicated or reordered. Runs on SQLite and PostgreSQL.

Counts are printed at the end of the pytest run (tests/support/run_summary.py). PostgreSQL is a
cluster of the suite's own, which it restarts (postgres.py)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.faults.scenario import (
    SUMMARY_TITLE,
    Scenario,
    Setup,
    describe,
    run_scenario,
    summary,
)
from tests.support import run_summary
from tests.support.bridge_harness import AppserviceSetup
from tests.support.synapse import SynapseServer

Fault = Callable[[Scenario], Awaitable[list[str]]]


async def sigkill(scenario: Scenario) -> list[str]:
    """Kill the bridge (SIGKILL) three times at random moments while messages flow."""
    rng = random.Random()
    notes = []
    for _ in range(3):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        await scenario.bridge.kill()
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        await scenario.bridge.start()
    notes.append(f"bridge started {scenario.bridge.starts} times")
    return notes


async def homeserver_outage(scenario: Scenario) -> list[str]:
    """The homeserver is unreachable for a minute: connections refused, then 502, then 503."""
    await asyncio.sleep(1)
    for mode in ("refuse", "502", "503"):
        await scenario.proxy.set_mode(mode)
        await asyncio.sleep(20)
    await scenario.proxy.set_mode("pass")
    return [f"proxy answered for the homeserver: {scenario.proxy.stats.refused_with}"]


async def homeserver_rate_limit(scenario: Scenario) -> list[str]:
    """M_LIMIT_EXCEEDED for a third of the bridge's requests, for 15 seconds."""
    await asyncio.sleep(1)
    scenario.proxy.rate_limited_share = 0.33
    await scenario.proxy.set_mode("rate_limit")
    await asyncio.sleep(15)
    await scenario.proxy.set_mode("pass")
    return [f"rate-limited requests: {scenario.proxy.stats.refused_with}"]


async def bot_api_faults(scenario: Scenario) -> list[str]:
    """The Bot API answers 429 with retry_after, 5xx, or nothing at all, for sends and polls."""
    faults = scenario.fake.faults
    await asyncio.sleep(1)
    faults.retry_after("sendMessage", 2, times=6)
    faults.server_error("getUpdates", 502, times=3)
    await asyncio.sleep(3)
    faults.server_error("sendMessage", 500, times=4)
    faults.retry_after("getUpdates", 1, times=2)
    await asyncio.sleep(3)
    faults.hang("sendMessage", times=2)
    faults.hang("getUpdates", times=1)
    await asyncio.sleep(4)
    faults.server_error("sendMessage", 503, times=3)
    calls = scenario.fake.calls
    injected = sum(1 for call in calls if call.fault)
    return [f"faults injected into {injected} Bot API calls"]


async def synapse_restart(scenario: Scenario) -> list[str]:
    """The homeserver itself stops for 10 seconds and starts again (on SQLite it then reuses
    transaction ids, so only event ids tell new events from old). Meanwhile the bridge gets
    SIGTERM with events waiting for the homeserver: it must stop in bounded time and deliver
    them after its next start."""
    await asyncio.sleep(3)
    await asyncio.to_thread(scenario.setup.synapse.stop)
    await asyncio.sleep(4)
    stop_seconds = await scenario.bridge.terminate(timeout=40)
    await asyncio.sleep(max(0.0, 6 - stop_seconds))
    await asyncio.to_thread(scenario.setup.synapse.start)
    await scenario.bridge.start()
    if stop_seconds > 30:
        raise AssertionError(f"SIGTERM took {stop_seconds:.1f} s while the homeserver was down")
    return [f"Synapse stopped for 10 s; SIGTERM meanwhile took {stop_seconds:.1f} s"]


async def database_outage(scenario: Scenario) -> list[str]:
    """The bridge's database goes away twice while messages flow.

    PostgreSQL restarts: for real, the fault suite's own server (tests/faults/postgres.py); or,
    with TEST_POSTGRES_RESTART=proxy, as the bridge would see it, through a proxy: the server ends
    every connection ("terminating connection due to administrator command"), new connections
    are refused for 4 seconds, then answered "the database system is starting up" for 3 more.
    SQLite: another process holds the write lock for 12 seconds, longer than the bridge waits
    for it."""
    notes = []
    restart = scenario.setup.postgres_restart
    for _ in range(2):
        await asyncio.sleep(2)
        if scenario.db_proxy is not None and restart is not None:
            seconds = await restart_postgres(restart)
            notes.append(f"PostgreSQL restarted: {' '.join(restart)} (took {seconds:.1f} s)")
        elif scenario.db_proxy is not None:
            ended = await terminate_backends(scenario.database_url)
            await scenario.db_proxy.outage(4, starting_up=3)
            notes.append(
                f"PostgreSQL: {ended} connections ended by the server, new ones refused for "
                f"4 s, then {scenario.db_proxy.starting_up_answers} answered 'starting up' for 3 s"
            )
        else:
            await asyncio.to_thread(hold_sqlite_lock, scenario.database_url, 12)
            notes.append("SQLite: write lock held by another process for 12 s")
    return notes


async def dropped_transactions(scenario: Scenario) -> list[str]:
    """A proxy between Synapse and the bridge makes single transactions fail on the way while
    the next ones go through: reset after the bridge got one whole, before the answer reached
    Synapse; or cut half-way through its body. What Synapse sent next is noted: it sends a
    failed transaction again first, after 2 s, and newer ones only then (unless the race in
    bridge/matrix/gaps.py sends one at once)."""
    proxy = scenario.as_proxy
    assert proxy is not None
    for mode in ("answer_lost", "cut", "answer_lost", "cut"):
        await asyncio.sleep(1.5)
        count = len(proxy.dropped())
        proxy.drop_next(mode)
        # Until it was dropped and then went through (Synapse backs off further while a
        # transaction keeps failing).
        for _ in range(400):
            new = proxy.dropped()[count:]
            if new and any(
                p.txn_id == new[0].txn_id and p.outcome == "passed" for p in proxy.passages
            ):
                break
            await asyncio.sleep(0.05)
    notes = []
    for dropped in proxy.dropped():
        later = [p for p in proxy.passages if p.time > dropped.time and p.outcome == "passed"]
        if later:
            first = later[0]
            notes.append(
                f"transaction {dropped.txn_id} dropped ({dropped.outcome}); next through: "
                f"{first.txn_id} after {first.time - dropped.time:.1f} s"
            )
    if len(notes) < 4:
        raise AssertionError(f"dropped {len(proxy.dropped())} transactions, not 4: {notes}")
    return notes


async def restart_postgres(command: list[str]) -> float:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(*command)
    assert await process.wait() == 0, f"could not restart PostgreSQL: {' '.join(command)}"
    return time.monotonic() - started


async def terminate_backends(database_url: str) -> int:
    url = make_url(database_url)
    admin = await asyncpg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await admin.close()
    return len(rows)


def hold_sqlite_lock(database_url: str, seconds: float) -> None:
    path = make_url(database_url).database
    assert path is not None
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def outage_notices(scenario: Scenario) -> list[str]:
    """After an outage each room was told once that delivery is back to normal."""
    back = await scenario.notices("Delivery is back to normal")
    delayed = await scenario.notices("Delivery in this chat is delayed")
    assert all(count == 1 for count in back), f"'back to normal' notices per room: {back}"
    assert all(count <= 1 for count in delayed), f"'delayed' notices per room: {delayed}"
    return [f"notices per room: delayed {delayed}, back to normal {back}"]


Check = Callable[[Scenario], Awaitable[list[str]]]

SCENARIOS: dict[str, tuple[Fault, float, Check | None]] = {
    # name: (fault, seconds of traffic, what to check afterwards)
    "sigkill": (sigkill, 15.0, None),
    "bot_api_faults": (bot_api_faults, 15.0, None),
    "homeserver_rate_limit": (homeserver_rate_limit, 15.0, None),
    "homeserver_outage": (homeserver_outage, 40.0, outage_notices),
    "synapse_restart": (synapse_restart, 20.0, None),
    "database_outage": (database_outage, 20.0, None),
    "dropped_transactions": (dropped_transactions, 15.0, None),
}
# Scenarios that put tests/support/as_proxy.py between Synapse and the bridge.
APPSERVICE_PROXY = {"dropped_transactions"}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_nothing_lost_duplicated_or_reordered(
    name: str,
    db_kind: str,
    db_url: str,
    synapse: SynapseServer,
    appservice_setup: AppserviceSetup,
    tmp_path: Path,
    postgres_restart: list[str] | None,
) -> None:
    fault, seconds, check = SCENARIOS[name]
    setup = Setup(
        synapse,
        appservice_setup,
        db_url,
        tmp_path,
        traffic_seconds=seconds,
        appservice_proxy=name in APPSERVICE_PROXY,
        postgres_restart=postgres_restart,
    )
    result = await run_scenario(name, setup, db_kind, fault, check)
    run_summary.add(SUMMARY_TITLE, summary(result))
    report = "\n".join(describe(result) + result.notes)
    assert result.telegram_to_matrix.perfect, report
    assert result.matrix_to_telegram.perfect, report
    assert result.edits_to_matrix is not None and result.edits_to_matrix.perfect, report
    assert result.edits_to_telegram is not None and result.edits_to_telegram.perfect, report
    assert result.edits_to_matrix.sent >= 30 and result.edits_to_telegram.sent >= 20, report
    assert not [note for note in result.notes if "without its file" in note or " went " in note]
    assert result.telegram_to_matrix.sent >= 200 and result.matrix_to_telegram.sent >= 150
