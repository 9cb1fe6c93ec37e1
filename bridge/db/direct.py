"""The statements on every message's path, run straight on the database driver.

Measured here (BENCHMARKS.md), a statement through SQLAlchemy's async layer costs 0.7 to 1.4 ms
of CPU, most of it in the layer itself (greenlets, several thread hops per statement on SQLite);
the same statement on the driver costs 0.1 to 0.2 ms. The handful of statements that every
bridged message runs (storing it, noting a part before it leaves, recording its mapping, the
batched marks) therefore go through here; everything else, and the schema, stay with SQLAlchemy
and alembic.

SQL is written once with PostgreSQL's numbered parameters ($1, $2, ...), which SQLite reads as
?1, ?2, ... SQLite runs in one dedicated thread, each unit of work in a single hop; PostgreSQL
through a small asyncpg pool. Each driver is imported only when its database is used: the
other one costs memory for nothing (asyncpg alone about 3 MB).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url

from .engine import apply_sqlite_pragmas

if TYPE_CHECKING:
    import sqlite3

    import asyncpg

Statement = tuple[str, Sequence[Any]]
# Called with each statement's SQL as it runs (for counting in benchmarks and tests).
observers: list[Callable[[str], None]] = []

_NUMBERED = re.compile(r"\$(\d+)")
# SQLAlchemy's storage format for datetimes in SQLite (kept, so both write the same text).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


class DirectPath:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._url = parsed
        self._lock = asyncio.Lock()
        self._sqlite: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._pool: asyncpg.Pool | None = None
        self._grouped: list[tuple[Sequence[Statement], asyncio.Future[list[list[Any]]]]] = []
        self._group_writer: asyncio.Task[None] | None = None

    async def run_grouped(self, statements: Sequence[Statement]) -> list[list[Sequence[Any]]]:
        """``run``, with the units of every caller that asks within one turn of the event loop
        (or while the previous group is written) in one transaction: group commit. Ten portals
        recording what they sent at once pay one commit, and go on together. A group that
        fails is run again unit by unit, so each caller meets only its own failure."""
        future: asyncio.Future[list[list[Any]]] = asyncio.get_running_loop().create_future()
        self._grouped.append((statements, future))
        if self._group_writer is None:
            self._group_writer = asyncio.create_task(self._write_groups())
        return await future

    async def _write_groups(self) -> None:
        try:
            await asyncio.sleep(0)  # the units asked for in this turn join the first group
            while self._grouped:
                units, self._grouped = self._grouped, []
                try:
                    results = await self.run([statement for unit, _ in units for statement in unit])
                except Exception as failure:
                    if len(units) == 1:
                        _settle(units[0][1], error=failure)
                        continue
                    for unit, future in units:
                        try:
                            _settle(future, await self.run(unit))
                        except Exception as error:
                            _settle(future, error=error)
                    continue
                start = 0
                for unit, future in units:
                    _settle(future, results[start : start + len(unit)])
                    start += len(unit)
        finally:
            self._group_writer = None

    async def run(self, statements: Sequence[Statement]) -> list[list[Sequence[Any]]]:
        """Run the statements in one transaction; the rows each returned (none for an insert
        that met a conflict)."""
        for sql, _ in statements:
            for observe in observers:
                observe(sql)
        if self.dialect == "postgresql":
            pool = await self._postgres()
            async with pool.acquire() as connection, connection.transaction():
                return [list(await connection.fetch(sql, *_pg(args))) for sql, args in statements]
        connection = await self._sqlite_connection()
        assert self._thread is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, _sqlite_unit, connection, statements)

    async def close(self) -> None:
        if self._group_writer is not None:
            await asyncio.gather(self._group_writer, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._thread is not None:
            connection, self._sqlite = self._sqlite, None
            if connection is not None:
                await asyncio.get_running_loop().run_in_executor(self._thread, connection.close)
            self._thread.shutdown(wait=True)
            self._thread = None

    async def _postgres(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    dsn = self._url.set(drivername="postgresql").render_as_string(
                        hide_password=False
                    )
                    import asyncpg

                    self._pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        return self._pool

    async def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            async with self._lock:
                if self._sqlite is None:
                    path = self._url.database
                    if not path or path == ":memory:":
                        raise ValueError("the bridge needs an SQLite database file, not :memory:")
                    self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-direct")
                    loop = asyncio.get_running_loop()
                    self._sqlite = await loop.run_in_executor(self._thread, _sqlite_open, path)
        return self._sqlite


def _settle(
    future: asyncio.Future[list[list[Any]]],
    result: list[list[Any]] | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # its caller gave up waiting
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result or [])


def sql_for(dialect: str, sql: str) -> str:
    return sql if dialect == "postgresql" else _NUMBERED.sub(r"?\1", sql)


def _sqlite_open(path: str) -> sqlite3.Connection:
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    apply_sqlite_pragmas(connection)
    return connection


def _sqlite_unit(
    connection: sqlite3.Connection, statements: Sequence[Statement]
) -> list[list[Sequence[Any]]]:
    results: list[list[Sequence[Any]]] = []
    connection.execute("BEGIN")
    try:
        for sql, args in statements:
            results.append(connection.execute(sql_for("sqlite", sql), _sqlite(args)).fetchall())
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return results


def _sqlite(args: Sequence[Any]) -> list[Any]:
    return [_sqlite_value(value) for value in args]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(_SQLITE_DATETIME)
    if isinstance(value, Json):
        return value.text
    if isinstance(value, list | tuple):
        return json.dumps(list(value))  # an id list, read with json_each
    return value


def _pg(args: Sequence[Any]) -> list[Any]:
    return [value.text if isinstance(value, Json) else value for value in args]


class Json:
    """A value for a JSON column."""

    __slots__ = ("text",)

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value)
