"""Which database errors are passing trouble (a restart, a failover, a locked SQLite file) and
which are a refusal. Passing trouble is waited out in order; nothing is dropped for it."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import exc

# SQLSTATE classes and codes that say "try again": connection exceptions (08), insufficient
# resources (53), operator intervention such as a shutdown or a server starting up (57),
# system errors (58), and a transaction lost to a concurrent one (40001, 40P01, 55P03).
_TRANSIENT_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_CODES = frozenset({"40001", "40P01", "55P03"})
# The longest pause between attempts while waiting out passing trouble.
MAX_PAUSE = 10.0

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    match error:
        case exc.DBAPIError(connection_invalidated=True):
            return True
        case exc.OperationalError() | exc.InterfaceError():
            # SQLite: "database is locked", an unreadable file; PostgreSQL: a closed connection.
            return True
        case exc.InternalError() if _sqlstate(error.orig) in (None, "XX000"):
            # The driver lost track of a connection the server dropped mid-statement (asyncpg:
            # "cannot switch to state ...; another operation is in progress"), seen when
            # PostgreSQL restarts under load.
            return True
        case exc.DBAPIError():
            state = _sqlstate(error.orig)
            if state is None:
                # No verdict from the server on the statement: the driver failed on its own
                # (asyncpg: "connection was closed in the middle of operation"). A bare
                # DBAPIError only; a constraint or syntax error has a class of its own.
                return type(error) is exc.DBAPIError
            return state in _TRANSIENT_CODES or state.startswith(_TRANSIENT_CLASSES)
        case exc.TimeoutError():
            return True  # no pooled connection came free in time
        case OSError() | TimeoutError():
            # A connection refused or reset before the driver could wrap it.
            return True
        case _:
            return _driver_error_is_transient(error)


def _driver_error_is_transient(error: BaseException) -> bool:
    """The drivers' own errors, as the statements on every message's path meet them
    (direct.py). Only the driver of the database in use is ever imported (the other costs
    memory): one that is not loaded raised nothing."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(error, sqlite3.OperationalError):
        return True
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None:
        return False
    if isinstance(error, asyncpg.PostgresError):
        state = getattr(error, "sqlstate", None)
        return isinstance(state, str) and (
            state in _TRANSIENT_CODES or state.startswith(_TRANSIENT_CLASSES)
        )
    # A connection gone mid-statement, a driver that lost track of it.
    return isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError)


def _sqlstate(orig: BaseException | None) -> str | None:
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


async def waiting_out_trouble(
    operation: Callable[[], Awaitable[T]],
    on_trouble: Callable[[BaseException, float], None] = lambda _error, _pause: None,
    patience: float | None = None,
) -> T:
    """``operation``'s result, trying it again after passing trouble (told to ``on_trouble``
    with the pause before the next attempt, which grows to MAX_PAUSE); a refusal is raised, and
    so is passing trouble that lasts past ``patience`` seconds."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as error:
            if not is_transient(error):
                raise
            if patience is not None and time.monotonic() - started >= patience:
                raise
            attempt += 1
            pause = min(0.5 * 2.0**attempt, MAX_PAUSE)
            on_trouble(error, pause)
            await asyncio.sleep(pause)
