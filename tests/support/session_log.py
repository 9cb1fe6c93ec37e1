"""Every log line of the test run in one file, and a check at its end that no secret the tests
used (tokens, shared secrets, passwords) is in it: the run fails, naming the lines.

A pytest plugin (tests/conftest.py loads it); tests/support/run_summary.py shows the outcome and
fails the run, and under pytest-xdist each worker checks its own log. The secrets are registered
by the code that makes or hands them out (the appservice setup, the fake Bot API, the double
puppeting registration), so the list cannot go stale. In-process bridges log through the secret
filter they would have in production (``guard``); what bridge subprocesses print is checked from
the files tests write it to (``attach``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from bridge.log_context import ContextFilter
from bridge.redaction import MIN_SECRET_LENGTH
from tests.support import run_summary

# What shows and relays the check's outcome.
pytest_plugins = ["tests.support.run_summary"]

FORMAT = "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s"


class SessionLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter(FORMAT))
        self.handler.addFilter(ContextFilter())
        self.secrets: set[str] = set()
        self.files: list[Path] = [path]
        self._root_level: int | None = None

    def start(self) -> None:
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self.handler)

    def stop(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        if self._root_level is not None:
            root.setLevel(self._root_level)
        self.handler.close()

    def register(self, secret: str) -> None:
        if len(secret) >= MIN_SECRET_LENGTH:
            self.secrets.add(secret)

    def attach(self, path: Path) -> None:
        """A file a bridge subprocess wrote its output to, checked at the end too."""
        self.files.append(path)

    def leaks(self) -> list[str]:
        """Each line holding a registered secret, as ``file:line: text`` with the secret
        itself shown as <SECRET n> (the report must not leak it again)."""
        self.handler.flush()
        numbered = {secret: n for n, secret in enumerate(sorted(self.secrets), 1)}
        found = []
        for path in self.files:
            for number, line in _lines(path):
                hits = [secret for secret in numbered if secret in line]
                shown = line
                for secret in hits:
                    shown = shown.replace(secret, f"<SECRET {numbered[secret]}>")
                if hits:
                    found.append(f"{path}:{number}: {shown}")
        return found


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as text:
        yield from enumerate((line.rstrip("\n") for line in text), 1)


class _Run:
    """This run's session log; secrets registered before it exists (at import) wait here."""

    def __init__(self) -> None:
        self.log: SessionLog | None = None
        self.early: set[str] = set()


_run = _Run()


def register_secret(*secrets: str) -> None:
    """Say that these values must never appear in the run's logs."""
    if _run.log is None:
        _run.early.update(secrets)
        return
    for secret in secrets:
        _run.log.register(secret)


def attach_output(path: Path) -> None:
    if _run.log is not None:
        _run.log.attach(path)


def guard(filters: Iterable[logging.Filter]) -> None:
    """Put a bridge's log filters on the session log's handler, as its own handlers have them
    in production; ``unguard`` when the bridge stops."""
    if _run.log is not None:
        for log_filter in filters:
            _run.log.handler.addFilter(log_filter)


def unguard(filters: Iterable[logging.Filter]) -> None:
    if _run.log is not None:
        for log_filter in filters:
            _run.log.handler.removeFilter(log_filter)


def pytest_sessionstart(session: pytest.Session) -> None:
    if run_summary.is_controller(session.config):
        return  # its workers run the tests, each with a log of its own
    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    log = _run.log = SessionLog(Path(base) / "session.log")
    for secret in _run.early:
        log.register(secret)
    log.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    log, _run.log = _run.log, None
    if log is None:
        return
    log.stop()
    leaks = log.leaks()
    if not leaks:
        # Said, so a run's output shows the check ran.
        run_summary.add(
            None,
            [
                f"Session log checked: none of the {len(log.secrets)} secrets the tests "
                f"registered appears in it ({log.path})"
            ],
        )
        return
    message = (
        f"{len(leaks)} log lines of this run hold a secret the tests registered "
        f"({len(log.secrets)} registered; the whole log: {log.path}):"
    )
    run_summary.add("secrets in the logs", [message, *leaks[:50]], failed=True)
