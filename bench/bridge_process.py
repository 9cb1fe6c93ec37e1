"""The bridge as a separate process: ``python -m bench.counting_bridge -c config.yaml``
(optionally under py-spy), with its start-up time, CPU, memory and statement counts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from . import procstat

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class DbStats:
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_statement: dict[str, int] = field(default_factory=dict)

    def minus(self, earlier: DbStats) -> DbStats:
        def diff(now: dict[str, int], then: dict[str, int]) -> dict[str, int]:
            return {k: v - then.get(k, 0) for k, v in now.items() if v - then.get(k, 0)}

        return DbStats(
            self.total - earlier.total,
            diff(self.by_kind, earlier.by_kind),
            diff(self.by_statement, earlier.by_statement),
        )


class BridgeProcess:
    def __init__(
        self,
        config: Path,
        port: int,
        log: Path,
        *,
        profile: Path | None = None,
        module: str = "bench.counting_bridge",
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.env = env or {}
        self.port = port
        self.log = log
        self.profile = profile
        self.module = module
        self.stats_path = config.with_name(f"db-stats-{port}.json")
        self._process: asyncio.subprocess.Process | None = None
        self.pid: int | None = None  # the Python process of the bridge (py-spy's child)
        self.started_at = 0.0
        self.ready_after: float | None = None

    async def start(self, timeout: float = 90) -> float:
        """Start and wait for /_matrix/mau/ready to answer 200; returns the seconds it took."""
        # bench.sh names an environment with only the bridge's own dependencies.
        python = os.environ.get("BENCH_BRIDGE_PYTHON") or sys.executable
        command = [python, "-m", self.module, "-c", str(self.config)]
        if self.profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            command = [
                str(spy), "record", "--format", _profile_format(self.profile),
                "--output", str(self.profile),
                # e.g. BENCH_PY_SPY_ARGS="--gil --rate 1000": only what holds the GIL (the
                # bridge's own CPU), sampled more often than the default 200 per second
                *_spy_args(os.environ.get("BENCH_PY_SPY_ARGS", "")),
                "--", *command,
            ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BENCH_DB_STATS": str(self.stats_path),
            **self.env,
        }
        self.stats_path.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            log.write(f"\n=== bench: starting {' '.join(command)}\n".encode())
            log.flush()
            self.started_at = time.monotonic()
            self._process = await asyncio.create_subprocess_exec(
                *command, cwd=self.config.parent, env=env, stdout=log, stderr=log
            )
        self.pid = self._process.pid
        if self.profile is not None:
            self.pid = await self._child_of(self._process.pid)
        self.ready_after = await self._wait_ready(timeout)
        return self.ready_after

    async def _child_of(self, parent: int) -> int:
        for _ in range(200):
            found = [pid for pid in procstat.children(parent) if procstat.alive(pid)]
            if found:
                return found[0]
            if self._process is not None and self._process.returncode is not None:
                break  # py-spy itself stopped (a bad argument, say)
            await asyncio.sleep(0.02)
        raise RuntimeError(f"py-spy started no bridge process; log:\n{self.log_tail()}")

    async def _wait_ready(self, timeout: float) -> float:
        url = f"http://127.0.0.1:{self.port}/_matrix/mau/ready"
        deadline = self.started_at + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self._process is None or self._process.returncode is not None:
                    raise RuntimeError(f"the bridge exited during start-up:\n{self.log_tail()}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - self.started_at
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.02)
        raise RuntimeError(f"the bridge was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the bridge (py-spy, if there, then writes its profile and exits)."""
        if self._process is None or self._process.returncode is not None:
            return
        assert self.pid is not None
        os.kill(self.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), timeout)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
            raise RuntimeError(f"the bridge did not stop within {timeout:.0f} s") from None

    def cpu(self) -> float:
        assert self.pid is not None
        return procstat.cpu_seconds(self.pid).total

    def rss(self) -> int:
        assert self.pid is not None
        return procstat.rss_bytes(self.pid)

    async def db_stats(self) -> DbStats:
        """The statement counts as of now (asks the wrapper with SIGUSR1 and waits for them)."""
        assert self.pid is not None
        before = _read_stats(self.stats_path)
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            now = _read_stats(self.stats_path)
            if now is not None and (before is None or now["seq"] != before["seq"]):
                return DbStats(now["total"], now["by_kind"], now["by_statement"])
        raise RuntimeError("the bridge wrapper wrote no statement counts")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _read_stats(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def _spy_args(extra: str) -> list[str]:
    """py-spy's options from BENCH_PY_SPY_ARGS, sampling 200 per second unless they say."""
    args = extra.split()
    if not {"--rate", "-r"} & {arg.split("=")[0] for arg in args}:
        args = ["--rate", "200", *args]
    return args


def _profile_format(path: Path) -> str:
    """.svg: a flame graph; .txt: collapsed stacks (one line per stack, for grep and sums);
    otherwise speedscope JSON."""
    return {".svg": "flamegraph", ".txt": "raw"}.get(path.suffix, "speedscope")
