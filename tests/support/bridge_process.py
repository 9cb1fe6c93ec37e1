"""The bridge as a separate process, as admins run it: started with its output in a log file
(read by the run's secret check), waited for until /ready answers, stopped by SIGTERM, and
killed if a test leaves it running."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.session_log import attach_output


@asynccontextmanager
async def bridge_process(
    *command: str | Path, cwd: Path, env: Mapping[str, str], log_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    attach_output(log_path)
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=dict(env), stdout=log, stderr=log
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def wait_ready(port: int, process: asyncio.subprocess.Process, timeout: float = 30) -> None:
    await ready_state(port, process, lambda status, _checks: status == 200, "ready", timeout)


async def started_checks(
    port: int, process: asyncio.subprocess.Process, timeout: float = 30
) -> dict[str, Any]:
    """/ready's checks once the bridge has started, whether or not all are up."""
    return await ready_state(
        port, process, lambda _status, checks: checks["bridge"]["ok"], "started", timeout
    )


async def ready_state(
    port: int,
    process: asyncio.subprocess.Process,
    wanted: Callable[[int, dict[str, Any]], bool],
    what: str,
    timeout: float,
) -> dict[str, Any]:
    """Ask /ready until ``wanted`` (its status and checks) holds; the checks then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise AssertionError(f"the bridge exited with {process.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/_matrix/mau/ready") as response:
                    checks: dict[str, Any] = (await response.json())["checks"]
                    if wanted(response.status, checks):
                        return checks
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the bridge did not get {what}")


async def terminate(process: asyncio.subprocess.Process, timeout: float = 30) -> int:
    """SIGTERM, as a service manager stops it; the exit code."""
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout)
