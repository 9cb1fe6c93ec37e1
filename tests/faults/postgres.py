"""The PostgreSQL server of the fault suite, which its database outage restarts for real: a
throwaway cluster of its own (scripts/throwaway-postgres.sh), so that no other test, no other
pytest-xdist worker and nothing else on the machine loses its server meanwhile.

- TEST_POSTGRES_RESTART=proxy: the tests' usual server (TEST_POSTGRES_URL), never restarted:
  the restart is played through a proxy in front of it;
- TEST_POSTGRES_DATADIR: the cluster in that directory, serving TEST_POSTGRES_URL (as the script
  prints them), restarted with pg_ctl;
- otherwise a new cluster on a free port, made and started for the run, stopped and removed
  at its end. Without one (no initdb) the fault suite's PostgreSQL half skips, or fails under
  BRIDGE_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.databases import ADMIN_URL

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "throwaway-postgres.sh"


@dataclass(frozen=True)
class FaultPostgres:
    admin_url: str
    # The command that restarts the server for real; None: only through the proxy.
    restart: list[str] | None


@contextmanager
def fault_postgres() -> Iterator[FaultPostgres]:
    if os.environ.get("TEST_POSTGRES_RESTART") == "proxy":
        yield FaultPostgres(ADMIN_URL, None)
        return
    data_dir = os.environ.get("TEST_POSTGRES_DATADIR")
    if data_dir:
        yield FaultPostgres(ADMIN_URL, pg_ctl_restart(Path(data_dir)))
        return
    # Not under pytest's base directory: that one is private to this user, and as root the
    # server runs as the user postgres.
    directory = Path(tempfile.mkdtemp(prefix="bridge-faults-postgres-"))
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", str(directory)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if started.returncode != 0:
            _unavailable(f"{started.stderr.strip()} (exit status {started.returncode})")
        exported = dict(
            line.removeprefix("export ").split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("export ")
        )
        try:
            yield FaultPostgres(
                exported["TEST_POSTGRES_URL"],
                pg_ctl_restart(Path(exported["TEST_POSTGRES_DATADIR"])),
            )
        finally:
            subprocess.run(
                [str(SCRIPT), "stop", str(directory)], capture_output=True, check=False, timeout=120
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _unavailable(why: str) -> None:
    reason = (
        f"no throwaway PostgreSQL cluster for the fault suite, which restarts its server: {why}; "
        "TEST_POSTGRES_RESTART=proxy plays the restart through a proxy in front of the usual "
        "server instead"
    )
    if os.environ.get("BRIDGE_REQUIRE_POSTGRES"):
        pytest.fail(reason)
    pytest.skip(reason)


def pg_ctl_restart(data_dir: Path) -> list[str]:
    found = shutil.which("pg_ctl") or max(
        (str(path) for path in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
        default=None,
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found is None:
        raise AssertionError(f"pg_ctl is not found to restart the cluster in {data_dir}")
    # -l: the restarted server must not write into the test's output.
    command = [found, "-D", str(data_dir), "-w", "-m", "fast", "-l", str(data_dir / "pg_ctl.log")]
    command.append("restart")
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        return ["runuser", "-u", data_dir.owner(), "--", *command]
    return command
