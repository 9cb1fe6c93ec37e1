"""Shortly before pytest-timeout fails a test, write down what every asyncio task and thread is
waiting on, so that a hang (in a fixture's teardown above all) names its cause instead of showing
an idle event loop. The report goes into the test's report and the run's terminal summary (through
tests/support/run_summary.py, from whichever pytest-xdist worker ran the test)."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import traceback
from collections.abc import Generator, Iterable, Iterator
from types import FrameType

import pytest

from tests.support import run_summary

# What shows the reports at the end of the run.
pytest_plugins = ["tests.support.run_summary"]

# Seconds before pytest-timeout's deadline at which the report is taken.
MARGIN = 20.0
# Frames shown per task or thread (the innermost ones).
DEPTH = 12


def _live_tasks() -> list[asyncio.Task[object]]:
    # The loop is another thread's; asyncio.all_tasks() only answers for the running loop.
    registry: Iterable[object] = getattr(asyncio.tasks, "_all_tasks", ())
    tasks = [t for t in list(registry) if isinstance(t, asyncio.Task)]
    if not tasks:
        tasks = [t for t in gc.get_objects() if isinstance(t, asyncio.Task)]
    return [t for t in tasks if not t.done()]


def _await_chain(awaitable: object) -> Iterator[FrameType]:
    """The frames of a coroutine and of everything it awaits, outermost first (Task.get_stack
    shows only the outermost). An async generator's __anext__ hides its generator, so the
    chain goes through what the awaitable refers to."""
    seen: set[int] = set()
    current: object | None = awaitable
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = _frame_of(current)
        if frame is None:
            current = next((r for r in gc.get_referents(current) if _frame_of(r) is not None), None)
            continue
        yield frame
        current = (
            getattr(current, "cr_await", None)
            or getattr(current, "ag_await", None)
            or getattr(current, "gi_yieldfrom", None)
        )


def _frame_of(awaitable: object) -> FrameType | None:
    for name in ("cr_frame", "ag_frame", "gi_frame"):
        frame = getattr(awaitable, name, None)
        if isinstance(frame, FrameType):
            return frame
    return None


def _describe_task(task: asyncio.Task[object]) -> str:
    lines = [f"task {task.get_name()!r}"]
    frames = list(_await_chain(task.get_coro()))
    for summary in traceback.StackSummary.extract((f, f.f_lineno) for f in frames[-DEPTH:]):
        lines.append(f"  {summary.filename}:{summary.lineno} in {summary.name}")
        if summary.line:
            lines.append(f"    {summary.line}")
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is not None:
        lines.append(f"  waiting for {waiter!r}")
    return "\n".join(lines)


def _describe_threads() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        stack = traceback.format_stack(frame)[-DEPTH:]
        parts.append(f"thread {names.get(ident, ident)}\n" + "".join(stack).rstrip())
    return "\n".join(parts)


def describe_hang() -> str:
    """Every unfinished asyncio task's stack, then every thread's."""
    tasks = "\n".join(_describe_task(t) for t in _live_tasks()) or "(no unfinished tasks)"
    return f"asyncio tasks:\n{tasks}\n\nthreads:\n{_describe_threads()}"


def _timeout_of(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        value = float(marker.args[0])
    else:
        value = float(item.config.getini("timeout") or 0)
    return value if value > MARGIN else None


class _PhaseWatch:
    """Takes the report if a phase (setup, call, teardown) of one test runs too long: pytest-timeout
    gives each phase its own deadline."""

    def __init__(self, item: pytest.Item, delay: float) -> None:
        self._item = item
        self._delay = delay
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        self.cancel()
        self._timer = threading.Timer(self._delay, self._report)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _report(self) -> None:
        text = describe_hang()
        run_summary.add(f"hang report: {self._item.nodeid}", text.splitlines())
        self._item.add_report_section("call", "hang report", text)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self) -> None:
        self.arm()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self) -> None:
        self.arm()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self) -> None:
        self.arm()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    timeout = _timeout_of(item)
    if timeout is None:
        yield
        return
    watch = _PhaseWatch(item, timeout - MARGIN)
    item.config.pluginmanager.register(watch)
    try:
        yield
    finally:
        item.config.pluginmanager.unregister(watch)
        watch.cancel()
