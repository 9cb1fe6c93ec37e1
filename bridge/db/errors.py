"""Which database errors are passing trouble (a restart, a failover, a locked SQLite file) and
which are a refusal. Passing trouble is waited out in order; nothing is dropped for it."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc

# SQLSTATE classes and codes that say "try again": connection exceptions (08), insufficient
# resources (53), operator intervention such as a shutdown or a server starting up (57),
# system errors (58), and a transaction lost to a concurrent one (40001, 40P01, 55P03).
_TRANSIENT_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_CODES = frozenset({"40001", "40P01", "55P03"})


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
        # The drivers themselves, as the statements on every message's path meet them (direct.py).
        case sqlite3.OperationalError():
            return True
        case asyncpg.PostgresError():
            state = getattr(error, "sqlstate", None)
            return isinstance(state, str) and (
                state in _TRANSIENT_CODES or state.startswith(_TRANSIENT_CLASSES)
            )
        case asyncpg.InterfaceError() | asyncpg.exceptions.InternalClientError():
            return True  # a connection gone mid-statement, a driver that lost track of it
        case OSError() | TimeoutError():
            # A connection refused or reset before the driver could wrap it.
            return True
        case _:
            return False


def _sqlstate(orig: BaseException | None) -> str | None:
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None
