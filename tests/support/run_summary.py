"""What the run's terminal summary shows on behalf of the tests (the fault suite's counts, hang
reports, the session log's check), and whether it fails the run.

A pytest plugin (tests/conftest.py loads it). Under pytest-xdist every worker has a session of its
own whose output nobody sees: a worker hands what it gathered to the controller at its end
(``config.workeroutput``), and the controller shows it and fails the run when a part says so. In a
run without workers the same happens in-process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

# The key in a worker's output; its value holds only lists, strings and booleans (what execnet
# can carry).
KEY = "run_summary"

_parts: list[dict[str, Any]] = []


def add(title: str | None, lines: Iterable[str], *, failed: bool = False) -> None:
    """Show ``lines`` at the end of the run, under ``title`` (parts with the same title share its
    heading; None: no heading). ``failed`` fails the run even if every test passed."""
    _parts.append({"title": title, "lines": list(lines), "failed": failed})


def is_controller(config: pytest.Config) -> bool:
    """Whether this process hands out tests to workers (and so runs none itself)."""
    return config.pluginmanager.has_plugin("dsession")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Last, so that what other plugins add at the session's end is included.
    output: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[KEY] = list(_parts)
        return
    if any(part["failed"] for part in _parts) and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's: a worker ended (a crashed one has no output)."""
    output = getattr(node, "workeroutput", None) or {}
    _parts.extend(output.get(KEY, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    titles = list(dict.fromkeys(part["title"] for part in _parts))
    for title in titles:
        parts = [part for part in _parts if part["title"] == title]
        if title is not None:
            terminalreporter.write_sep("=", title, red=any(part["failed"] for part in parts))
        for part in parts:
            for line in part["lines"]:
                terminalreporter.write_line(line)
