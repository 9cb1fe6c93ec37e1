"""What SQLite's ``synchronous=FULL`` (the bridge's setting: each commit synced to disk) costs
against ``NORMAL`` (synced at checkpoints only), measured in one run: the same bridge restarted
with each setting in the order NORMAL, FULL, FULL, NORMAL (each run leaves Synapse and the
bridge a little fuller, and the mirrored order cancels that drift), each time the many-portal
throughput cases beside their baselines and the one-at-a-time latencies. The setting is passed
to ``bench.counting_bridge`` in $BENCH_SQLITE_SYNCHRONOUS."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .results import percentile
from .scenarios import Round, Runner

ORDER = ("NORMAL", "FULL", "FULL", "NORMAL")
SCENARIO = "SQLite sync"
# Commits of one small row each, per setting and round, for the cost of a commit alone.
COMMITS = 200


@dataclass
class Measured:
    t2m: list[Round] = field(default_factory=list)
    m2t: list[Round] = field(default_factory=list)
    t2m_latency: list[float] = field(default_factory=list)
    m2t_latency: list[float] = field(default_factory=list)


def commit_seconds(path: Path, synchronous: str, count: int = COMMITS) -> list[float]:
    """Seconds of each of ``count`` commits of one small row, in WAL mode, on a file of the
    benchmark's directory (the disk the bridge's database is on)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            connection.execute("BEGIN")
            connection.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
            connection.execute("COMMIT")
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        connection.close()


async def commit_cost(runner: Runner) -> None:
    """What one commit costs alone with each setting (in the order of ORDER), as rows."""
    found: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    for run, setting in enumerate(ORDER):
        path = runner.stack.directory / f"commit-cost-{run}.db"
        found[setting] += await asyncio.to_thread(commit_seconds, path, setting)
    for percent in (50, 99):
        runner.row(
            SCENARIO,
            f"one commit alone (WAL, a small row), ms p{percent}, FULL / NORMAL "
            f"({len(found['FULL'])} commits each)",
            percentile(found["FULL"], percent) * 1000,
            percentile(found["NORMAL"], percent) * 1000,
            "synchronous=NORMAL",
            digits=2,
        )


async def sync_cost(runner: Runner) -> None:
    await commit_cost(runner)
    stack, sizes = runner.stack, runner.sizes
    assert stack.reader is not None
    measured = {setting: Measured() for setting in ORDER}
    t2m_total = sizes.many * sizes.t2m_many_each
    m2t_total = sizes.many * sizes.m2t_many_each
    latency_portal = await runner.new_portal("Sync latency")
    for run, setting in enumerate(ORDER):
        await stack.stop_bridge()
        await stack.start_bridge(env={"BENCH_SQLITE_SYNCHRONOUS": setting})
        # Wake every portal, so no round pays for the first message after a start.
        tag = next(runner.tags)
        warm = []
        for index, (group, _room) in enumerate(runner.portals):
            stack.fake.inject_text(group, stack.senders[0], f"bench:{tag}:{index}")
            warm.append(f"{tag}:{index}")
        await stack.reader.wait_for(warm, 60)
        await runner.paced_m2t(latency_portal[1], 3)

        found = measured[setting]
        found.t2m.append(
            await runner.t2m_round(runner.portals[1:], runner.baseline_rooms[1:], t2m_total)
        )
        _portal, m2t = await runner.m2t_round(f"Sync {run} {setting}", sizes.many, m2t_total)
        found.m2t.append(m2t)
        found.t2m_latency += await runner.paced_t2m(runner.portals[0][0], sizes.paced)
        found.m2t_latency += await runner.paced_m2t(latency_portal[1], sizes.paced)
        t2m = found.t2m[-1]
        runner.results.note(
            f"{SCENARIO} run {run + 1}, synchronous={setting}: Telegram->Matrix {t2m.rate:.1f} "
            f"msgs/s (appservice client {t2m.baseline_rate:.1f}), Matrix->Telegram "
            f"{m2t.rate:.1f} msgs/s (python-telegram-bot {m2t.baseline_rate:.1f})"
        )
    rounds = ORDER.count("FULL")
    for setting in ("NORMAL", "FULL"):
        found = measured[setting]
        rate = statistics.mean(r.rate for r in found.t2m)
        baseline = statistics.mean(r.baseline_rate for r in found.t2m)
        runner.row(
            SCENARIO,
            f"synchronous={setting}: Telegram->Matrix, {sizes.many} portals, {t2m_total} msgs: "
            f"msgs/s until visible (mean of {rounds} rounds)",
            rate,
            baseline,
            "appservice client",
            target="ratio >= 0.9",
            met=rate / baseline >= 0.9,
        )
        runner.row(
            SCENARIO,
            f"synchronous={setting}: Matrix->Telegram, {sizes.many} portals, {m2t_total} msgs: "
            f"msgs/s from release (mean of {rounds} rounds)",
            statistics.mean(r.rate for r in found.m2t),
            statistics.mean(r.baseline_rate for r in found.m2t),
            "python-telegram-bot",
        )
    full, normal = measured["FULL"], measured["NORMAL"]
    for name, attribute in (("Telegram->Matrix", "t2m"), ("Matrix->Telegram", "m2t")):
        runner.row(
            SCENARIO,
            f"{name}, {sizes.many} portals: msgs/s with FULL / with NORMAL",
            statistics.mean(r.rate for r in getattr(full, attribute)),
            statistics.mean(r.rate for r in getattr(normal, attribute)),
            "synchronous=NORMAL",
        )
    for name, with_full, with_normal in (
        ("Telegram->Matrix", full.t2m_latency, normal.t2m_latency),
        ("Matrix->Telegram", full.m2t_latency, normal.m2t_latency),
    ):
        for percent, limit in ((50, 5.0), (99, 25.0)):
            value = percentile(with_full, percent) * 1000
            runner.row(
                SCENARIO,
                f"{name} added latency p{percent}, ms, FULL / NORMAL "
                f"({len(with_full)} msgs one at a time each)",
                value,
                percentile(with_normal, percent) * 1000,
                "synchronous=NORMAL",
                target=f"<= {limit:g} ms",
                met=value <= limit,
            )
