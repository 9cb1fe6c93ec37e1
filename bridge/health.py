"""What /_matrix/mau/ready and the status command report: named checks, each up or down with a
line saying why. The homeserver is probed now and then; background tasks run under a
supervisor that logs and restarts one that dies, so none is ever silently gone."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .cancelling import cancel_and_wait

log = logging.getLogger("bridge.health")

# A task that ran this long before failing starts again at once; quicker failures wait longer.
STEADY_AFTER = 60.0


@dataclass(frozen=True)
class HealthCheck:
    name: str
    ok: bool
    detail: str


def all_ok(checks: Iterable[HealthCheck]) -> bool:
    return all(check.ok for check in checks)


@dataclass
class _Job:
    name: str
    run: Callable[[], Awaitable[None]]
    task: asyncio.Task[None] | None = None
    running: bool = False
    restarts: int = 0
    last_failure: str = ""


class Supervisor:
    """Background tasks that must keep running. One that raises (or returns) is logged and
    started again after a pause that grows while it keeps failing; its check is down meanwhile
    and afterwards says how often it was restarted and why."""

    def __init__(self, first_delay: float = 1.0, max_delay: float = 60.0) -> None:
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._jobs: dict[str, _Job] = {}

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        # Running from now on: the task's first step comes a moment later.
        job = self._jobs[name] = _Job(name, run, running=True)
        job.task = asyncio.create_task(self._keep_running(job), name=name)

    async def stop(self, keep: Iterable[str] = (), patience: float = 10.0) -> None:
        """Cancel the tasks (but those named in ``keep``) and wait until they are gone. One
        still running after ``patience`` seconds swallowed its cancellation (some library
        code does): it is named in the log and cancelled again, so that stopping ends."""
        jobs = [job for name, job in self._jobs.items() if name not in keep]
        self._jobs = {name: job for name, job in self._jobs.items() if name in keep}
        await cancel_and_wait((job.task for job in jobs if job.task is not None), patience)

    async def _keep_running(self, job: _Job) -> None:
        delay = self._first_delay
        while True:
            started = time.monotonic()
            job.running = True
            try:
                await job.run()
            except Exception as error:
                job.last_failure = f"{type(error).__name__}: {error}"
                log.exception("Background task %s failed", job.name)
            else:
                job.last_failure = "it ended"
                log.error("Background task %s ended, which it never should", job.name)
            job.running = False
            if time.monotonic() - started >= STEADY_AFTER:
                delay = self._first_delay
            log.warning("Starting background task %s again in %.0f s", job.name, delay)
            await asyncio.sleep(delay)
            job.restarts += 1
            delay = min(delay * 2, self._max_delay)

    def checks(self) -> list[HealthCheck]:
        return [self._check(job) for job in self._jobs.values()]

    def _check(self, job: _Job) -> HealthCheck:
        name = f"task:{job.name}"
        if job.task is None or job.task.done():
            return HealthCheck(name, False, "stopped")
        if not job.running:
            return HealthCheck(name, False, f"failed ({job.last_failure}); restarting")
        if job.restarts:
            times = "once" if job.restarts == 1 else f"{job.restarts} times"
            return HealthCheck(
                name, True, f"running; restarted {times}, last after: {job.last_failure}"
            )
        return HealthCheck(name, True, "running")


class Probe:
    """The outcome of a periodic cheap request (the homeserver's /versions, say)."""

    def __init__(
        self, name: str, request: Callable[[], Awaitable[object]], timeout: float = 10.0
    ) -> None:
        self.name = name
        self._request = request
        self._timeout = timeout
        self._check = HealthCheck(name, True, "reachable")
        self._answered_at = -math.inf

    @property
    def check(self) -> HealthCheck:
        return self._check

    async def probe(self) -> HealthCheck:
        try:
            async with asyncio.timeout(self._timeout):
                await self._request()
        except Exception as error:
            if self._check.ok:
                log.warning("%s cannot be reached: %s", self.name, _reason(error))
            self._check = HealthCheck(self.name, False, f"unreachable: {_reason(error)}")
        else:
            if not self._check.ok:
                log.info("%s can be reached again", self.name)
            self._check = HealthCheck(self.name, True, "reachable")
        return self._check

    def answered(self) -> None:
        """The other side just answered some other request: it is reachable, and the probe's
        own request can wait (a busy bridge then asks nothing extra)."""
        self._answered_at = time.monotonic()
        if not self._check.ok:
            log.info("%s can be reached again", self.name)
            self._check = HealthCheck(self.name, True, "reachable")

    async def run(self, interval: float) -> None:
        while True:
            if time.monotonic() - self._answered_at >= interval:
                await self.probe()
            await asyncio.sleep(interval)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
