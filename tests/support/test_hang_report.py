"""The hang report names the innermost await of a stuck task, through async generators too,
and shows at the end of the run, also from a pytest-xdist worker."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.hang_report import describe_hang

ROOT = Path(__file__).resolve().parents[2]

# A test that runs into its report (taken MARGIN = 20 s before its timeout) and waits for it.
SLOW_TEST = """
import time

import pytest

from tests.support import run_summary


@pytest.mark.timeout(21)
def test_slow():
    deadline = time.monotonic() + 15
    while not run_summary._parts and time.monotonic() < deadline:
        time.sleep(0.05)
"""


async def _fixture_like(release: asyncio.Event) -> AsyncIterator[None]:
    yield
    await _stuck_in_teardown(release)


async def _stuck_in_teardown(release: asyncio.Event) -> None:
    await release.wait()


async def test_a_stuck_teardown_is_named_down_to_its_innermost_await() -> None:
    release = asyncio.Event()
    generator = _fixture_like(release)
    await generator.__anext__()

    async def finalize() -> None:
        await generator.__anext__()

    task = asyncio.create_task(finalize(), name="finalizer-under-test")
    await asyncio.sleep(0)
    report = describe_hang()
    release.set()
    with contextlib.suppress(StopAsyncIteration):
        await task
    section = report.split("task 'finalizer-under-test'", 1)[1].split("\ntask ", 1)[0]
    assert "in finalize" in section
    assert "in _fixture_like" in section
    assert "in _stuck_in_teardown" in section
    assert "release.wait()" in section
    assert "thread MainThread" in report


def test_a_report_taken_on_a_worker_shows_at_the_end_of_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(SLOW_TEST)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.hang_report",
            "-p",
            "no:cacheprovider",
            "-n",
            "1",
            "test_inner.py",
        ],
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout.split("hang report: test_inner.py::test_slow", 1)[1]
    assert "in test_slow" in report
    assert "thread MainThread" in report
