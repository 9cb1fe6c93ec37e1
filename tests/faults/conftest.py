"""The fault suite prints its counts at the end of every run, passed or failed."""

from __future__ import annotations

import pytest

from tests.faults.scenario import Result, describe

RESULTS: list[Result] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault injection: sent, delivered, lost, duplicated, out of order")
    for result in RESULTS:
        for line in describe(result):
            terminalreporter.write_line(line)
        for note in result.notes:
            if not note.startswith("bridge log tail"):
                terminalreporter.write_line(f"    {note}")
