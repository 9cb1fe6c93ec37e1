"""A large database for the start-up figures, written straight into the bridge's tables after
its own migrations made them (SQLite: one executemany per table in one transaction; PostgreSQL:
COPY). Columns are read from the database, not from the bridge's models: the ones known here get
realistic values, other required ones a value of their type, the rest their default."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

Value = Callable[[int], Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool  # NOT NULL without a default
    key: bool  # the primary key (left to the database)


@asynccontextmanager
async def fresh_database(kind: str, directory: Path, postgres_url: str) -> AsyncIterator[str]:
    """A new empty database for the bridge (its URL), removed afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        path = directory / f"{name}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            await asyncio.to_thread(_remove_sqlite, path)
        return
    admin = await asyncpg.connect(postgres_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(postgres_url, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class Plan:
    """The values of each seeded row, by column name."""

    def __init__(self, portals: int, ghosts: int, domain: str, postgres: bool) -> None:
        self.portals = portals
        self.ghosts = ghosts
        self.postgres = postgres
        now = datetime.now(UTC)
        self.now: Any = now if postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.empty_json = "{}"
        self.portal_ids: list[int] = []

        def portal_chat(i: int) -> str:
            return str(-1_009_000_000_000 - i)

        def portal_room(i: int) -> str:
            return f"!seeded{i}:{domain}"

        def ghost_user(i: int) -> str:
            return str(8_000_000_000 + i)

        self.known: dict[str, dict[str, Value]] = {
            "portal": {
                "network": lambda i: "telegram",
                "remote_id": portal_chat,
                "receiver": lambda i: "",
                "mxid": portal_room,
                "room_version": lambda i: "12",
                "name": lambda i: f"Seeded chat {i}",
                "extra": lambda i: self.empty_json,
                "created_at": lambda i: self.now,
            },
            "ghost": {
                "network": lambda i: "telegram",
                "remote_id": ghost_user,
                "mxid": lambda i: f"@telegram_{ghost_user(i)}:{domain}",
                "displayname": lambda i: f"Seeded User {i} (Telegram)",
                "extra": lambda i: self.empty_json,
            },
            "message": {
                "portal_id": lambda i: self.portal_ids[i % self.portals],
                "remote_id": lambda i: str(i // self.portals + 1),
                "part_id": lambda i: "0",
                "mxid": lambda i: f"$seeded{i}",
                "room_id": lambda i: portal_room(i % self.portals),
                "sender_remote_id": lambda i: ghost_user(i % self.ghosts),
                "sender_mxid": lambda i: f"@telegram_{ghost_user(i % self.ghosts)}:{domain}",
                "timestamp": lambda i: self.now,
            },
        }

    def columns(self, table: str, columns: list[Column]) -> list[tuple[str, Value]]:
        chosen = []
        known = self.known[table]
        for column in columns:
            if column.name in known:
                chosen.append((column.name, known[column.name]))
            elif column.required and not column.key:
                chosen.append((column.name, self._fallback(column.type)))
        return chosen

    def _fallback(self, kind: str) -> Value:
        kind = kind.lower()
        if "int" in kind or "numeric" in kind:
            return lambda i: 0
        if "bool" in kind:
            return lambda i: False
        if "json" in kind:
            return lambda i: self.empty_json
        if "time" in kind or "date" in kind:
            return lambda i: self.now
        return lambda i: ""


def rows(values: list[tuple[str, Value]], count: int) -> Iterator[tuple[Any, ...]]:
    functions = [value for _name, value in values]
    for i in range(count):
        yield tuple(f(i) for f in functions)


async def seed(url: str, portals: int, ghosts: int, messages: int, domain: str) -> float:
    """Fill the migrated database at ``url``; returns the seconds it took."""
    started = time.monotonic()
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        await asyncio.to_thread(_seed_sqlite, path, portals, ghosts, messages, domain)
    else:
        await _seed_postgres(url, portals, ghosts, messages, domain)
    return time.monotonic() - started


def _seed_sqlite(path: str, portals: int, ghosts: int, messages: int, domain: str) -> None:
    plan = Plan(portals, ghosts, domain, postgres=False)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")

        def columns(table: str) -> list[Column]:
            info = connection.execute(f"PRAGMA table_info({table})").fetchall()
            return [
                Column(name, kind, bool(notnull) and default is None, bool(pk))
                for _cid, name, kind, notnull, default, pk in info
            ]

        def insert(table: str, count: int) -> None:
            values = plan.columns(table, columns(table))
            names = ", ".join(name for name, _ in values)
            marks = ", ".join("?" for _ in values)
            statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            connection.executemany(statement, rows(values, count))

        with connection:
            insert("portal", portals)
            plan.portal_ids = [
                row[0]
                for row in connection.execute(
                    "SELECT id FROM portal WHERE mxid LIKE '!seeded%' ORDER BY id"
                )
            ]
            insert("ghost", ghosts)
            insert("message", messages)
    finally:
        connection.close()


async def _seed_postgres(url: str, portals: int, ghosts: int, messages: int, domain: str) -> None:
    plan = Plan(portals, ghosts, domain, postgres=True)
    connection = await asyncpg.connect(url, timeout=10)
    try:

        async def columns(table: str) -> list[Column]:
            found = await connection.fetch(
                "SELECT c.column_name, c.data_type, c.is_nullable, c.column_default,"
                " c.is_identity FROM information_schema.columns c"
                " WHERE c.table_name = $1 AND c.table_schema = current_schema()"
                " ORDER BY c.ordinal_position",
                table,
            )
            return [
                Column(
                    r["column_name"],
                    r["data_type"],
                    r["is_nullable"] == "NO" and r["column_default"] is None,
                    (r["column_default"] is not None and "nextval" in r["column_default"])
                    or r["is_identity"] == "YES",
                )
                for r in found
            ]

        async def insert(table: str, count: int) -> None:
            values = plan.columns(table, await columns(table))
            await connection.copy_records_to_table(
                table, records=rows(values, count), columns=[name for name, _ in values]
            )

        async with connection.transaction():
            await insert("portal", portals)
            found = await connection.fetch(
                "SELECT id FROM portal WHERE mxid LIKE '!seeded%' ORDER BY id"
            )
            plan.portal_ids = [r["id"] for r in found]
            await insert("ghost", ghosts)
            await insert("message", messages)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
