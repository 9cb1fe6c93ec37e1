"""Background tasks under the supervisor: one that dies is logged, reported and started again."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from bridge import health
from bridge.health import HealthCheck, Probe, Supervisor
from tests.support.waiting import eventually


async def test_a_task_that_dies_is_reported_while_down_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    ran_again = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("the first run breaks")
        ran_again.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.5)
    supervisor.start("flaky", flaky)
    assert supervisor.checks() == [HealthCheck("task:flaky", True, "running")], "from the start"
    try:
        await eventually(lambda: runs == 1 and not supervisor.checks()[0].ok, what="the crash")
        (down,) = supervisor.checks()
        assert down == HealthCheck(
            "task:flaky", False, "failed (RuntimeError: the first run breaks); restarting"
        )
        await asyncio.wait_for(ran_again.wait(), 5)
        (up,) = supervisor.checks()
        assert up == HealthCheck(
            "task:flaky",
            True,
            "running; restarted once, last after: RuntimeError: the first run breaks",
        )
    finally:
        await supervisor.stop()
    assert supervisor.checks() == []
    failed = [r for r in caplog.records if r.getMessage() == "Background task flaky failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR and failed[0].exc_info


async def test_a_task_that_returns_is_started_again_too() -> None:
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.05)
    supervisor.start("returns", returns)
    try:
        await eventually(lambda: runs == 2, what="the second run")
        assert supervisor.checks()[0].detail == "running; restarted once, last after: it ended"
    finally:
        await supervisor.stop()


async def test_a_probe_tells_unreachable_and_back() -> None:
    reachable = False

    async def request() -> None:
        if not reachable:
            raise ConnectionRefusedError("connection refused")

    probe = Probe("homeserver", request)
    assert (await probe.probe()) == HealthCheck(
        "homeserver", False, "unreachable: ConnectionRefusedError: connection refused"
    )
    reachable = True
    assert (await probe.probe()) == HealthCheck("homeserver", True, "reachable")


async def test_a_probe_stops_when_cancelled_just_as_its_answer_arrives() -> None:
    """The answer and the cancellation in one turn of the loop: asyncio.wait_for on Python 3.11
    returned the answer and dropped the cancellation, and the probe slept on, so the bridge's
    stop never ended."""
    started = asyncio.Event()
    answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def request() -> None:
        started.set()
        await answer

    task = asyncio.create_task(Probe("homeserver", request).run(interval=3600))
    await started.wait()
    answer.set_result(None)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


async def test_stop_asks_again_a_task_that_ignores_being_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ignored = 0

    async def stubborn() -> None:
        nonlocal ignored
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if ignored:
                    raise
                ignored += 1  # a library that swallowed it, once

    supervisor = Supervisor()
    supervisor.start("stubborn", stubborn)
    await asyncio.sleep(0)
    try:
        with caplog.at_level(logging.WARNING, logger="bridge.health"):
            await asyncio.wait_for(supervisor.stop(patience=0.2), 5)
    finally:
        ignored += 1  # whatever happened, the next cancellation ends it
    assert ignored == 2
    assert any("stubborn did not stop" in r.getMessage() for r in caplog.records)


async def test_a_probe_asks_nothing_while_other_answers_show_the_way_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = 0
    reachable = True

    async def request() -> None:
        nonlocal asked
        asked += 1
        if not reachable:
            raise ConnectionError("refused")

    # The probe's clock is the test's: how late the loop runs on a busy machine is no gap
    # between answers.
    now = 0.0
    clock = SimpleNamespace(monotonic=lambda: now)
    monkeypatch.setattr(health, "time", clock)
    probe = Probe("homeserver", request)
    probe.answered()
    task = asyncio.create_task(probe.run(interval=0.1))
    try:
        for _ in range(10):  # traffic: an answer every 50 ms for half a second
            now += 0.05
            probe.answered()
            await asyncio.sleep(0.05)
        assert asked == 0
        # Traffic stops: the probe asks again, and finds the homeserver gone.
        reachable = False
        now += 1.0
        await eventually(lambda: not probe.check.ok, what="the probe to ask")
        assert asked >= 1 and "refused" in probe.check.detail
        # An answer to anything else is news that it is back.
        probe.answered()
        assert probe.check.ok
    finally:
        task.cancel()
