"""Which database errors are passing trouble: real errors from real databases, each classified.

Passing trouble (the server restarting, refusing connections, a locked SQLite file) is waited
out in order; a refusal of the statement itself (a broken constraint, bad SQL) is not."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bridge.db.errors import is_transient
from tests.support.databases import ADMIN_URL, postgres_database
from tests.support.ports import free_port


async def raised(action: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await action()
    except Exception as error:
        return error
    raise AssertionError("no error")


async def test_a_locked_sqlite_file_is_passing_trouble(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.2})
    try:

        async def write() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))

        error = await raised(write)
        assert "locked" in str(error)
        assert is_transient(error)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()


async def test_statement_refusals_are_not_passing_trouble(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'refusals.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER UNIQUE)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))

        async def duplicate() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))

        assert not is_transient(await raised(duplicate))
    finally:
        await engine.dispose()
    assert not is_transient(ValueError("not a database error"))
    assert not is_transient(KeyError("x"))


async def test_postgresql_gone_or_restarting_is_passing_trouble() -> None:
    async with postgres_database() as url:
        engine = create_async_engine(url, pool_pre_ping=False)
        try:
            async with engine.connect() as connection:
                database = (await connection.execute(text("SELECT current_database()"))).scalar()
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
                # The server ends the connection, as when it shuts down for a restart.
                admin = await asyncpg.connect(ADMIN_URL)
                try:
                    await admin.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await admin.close()
                await asyncio.sleep(0.2)
                error = await raised(lambda: connection.execute(text("SELECT 1")))
            assert database is not None
            assert is_transient(error), repr(error)

            async def syntax() -> None:
                async with engine.connect() as fresh:
                    await fresh.execute(text("SELEC 1"))

            assert not is_transient(await raised(syntax))
        finally:
            await engine.dispose()


async def test_a_postgresql_server_that_refuses_connections_is_passing_trouble() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    try:

        async def connect() -> None:
            async with engine.connect():
                pass

        error = await raised(connect)
        assert is_transient(error), repr(error)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("sqlstate", ["57P01", "57P03", "08006", "53300", "40001", "40P01"])
def test_postgresql_states_of_passing_trouble(sqlstate: str) -> None:
    from sqlalchemy.exc import DBAPIError

    class Orig(Exception):
        pass

    orig = Orig("server said so")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    assert is_transient(DBAPIError("SELECT 1", None, orig))


@pytest.mark.parametrize("sqlstate", ["23505", "42601", "22P02"])
def test_postgresql_states_that_are_refusals(sqlstate: str) -> None:
    from sqlalchemy.exc import DBAPIError

    class Orig(Exception):
        pass

    orig = Orig("server said no")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    assert not is_transient(DBAPIError("SELECT 1", None, orig))


def test_a_driver_that_lost_its_connection_mid_statement_is_passing_trouble() -> None:
    """Seen when PostgreSQL restarts under load: asyncpg's InternalClientError ("cannot switch
    to state 12; another operation (2) is in progress"), which carries no SQLSTATE."""
    from sqlalchemy.exc import InternalError

    orig = Exception("cannot switch to state 12; another operation (2) is in progress")
    assert is_transient(InternalError("SELECT 1", None, orig))


def test_a_connection_closed_mid_statement_is_passing_trouble() -> None:
    """asyncpg's ConnectionDoesNotExistError comes wrapped as a bare DBAPIError, no SQLSTATE."""
    from sqlalchemy.exc import DBAPIError, IntegrityError

    orig = Exception("connection was closed in the middle of operation")
    assert is_transient(DBAPIError("SELECT 1", None, orig))
    assert not is_transient(IntegrityError("INSERT", None, Exception("duplicate key")))
