"""The hang report names the innermost await of a stuck task, through async generators too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tests.support.hang_report import describe_hang


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
