"""The database handle every store shares: an engine and a session per unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Insert, Table, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ..errors import StartupError
from .direct import DirectPath
from .engine import create_engine, session_factory
from .migrate import MigrationFailed, upgrade_to_head


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self._sessions = session_factory(self.engine)
        # The dialect's own INSERT (for ON CONFLICT), imported for this database only: the
        # PostgreSQL dialect costs about 2 MB that an SQLite bridge never needs.
        self._insert: Callable[[Table], Any]
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            self._insert = postgresql.insert
        else:
            from sqlalchemy.dialects import sqlite

            self._insert = sqlite.insert
        # The statements on every message's path (see direct.py).
        self.direct = DirectPath(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        """Bring the schema up to date: the first use of the database at start-up, so a
        database that cannot be used ends the start with a line saying which and why."""
        try:
            await upgrade_to_head(self.engine)
        except (OSError, SQLAlchemyError, MigrationFailed) as error:
            raise StartupError(self.unusable(error)) from None

    def unusable(self, error: Exception) -> str:
        url = make_url(self.url)
        shown = url.set(drivername=url.get_backend_name())
        cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
        reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if url.password:
            reason = reason.replace(str(url.password), "***")
        return (
            f"Cannot use the database at appservice.database "
            f"({shown.render_as_string(hide_password=True)}): {reason}. Check the URL, and that "
            "the database server runs and the database and its user exist."
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends without an error."""
        async with self._sessions() as session, session.begin():
            yield session

    def insert_ignoring_conflicts(self, table: Table, index: list[str]) -> Insert:
        """INSERT ... ON CONFLICT DO NOTHING on the given unique columns, for either backend."""
        result: Insert = self._insert(table).on_conflict_do_nothing(index_elements=index)
        return result

    async def close(self) -> None:
        await self.direct.close()
        await self.engine.dispose()
