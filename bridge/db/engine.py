"""The database engine: SQLite embedded by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


# Every SQLite connection the bridge opens (SQLAlchemy's and the driver path's, direct.py).
# WAL lets readers run beside the writer, and a process killed mid-write loses nothing that was
# committed. synchronous=FULL syncs the log at every commit: the bridge answers the homeserver's
# transaction and moves Telegram's update offset once a commit returns, so a commit must
# survive a power cut too (NORMAL may roll the last ones back; BENCHMARKS.md has the cost).
# busy_timeout makes concurrent writers wait instead of failing at once.
SQLITE_PRAGMAS = {
    "foreign_keys": "ON",
    "journal_mode": "WAL",
    "synchronous": "FULL",
    "busy_timeout": "10000",
}


def apply_sqlite_pragmas(dbapi_connection: Any) -> None:
    """Set ``SQLITE_PRAGMAS`` on a new connection (the sqlite3 module's, or SQLAlchemy's
    adapter of aiosqlite)."""
    cursor = dbapi_connection.cursor()
    for name, value in SQLITE_PRAGMAS.items():
        cursor.execute(f"PRAGMA {name}={value}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    apply_sqlite_pragmas(dbapi_connection)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
