"""Alembic migrations, applied automatically at start-up."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("bridge.db")


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs at INFO each plugin it sets up (on import) and its context (on each run),
    about ten lines at every start: let only its warnings through, unless the admin's logging
    config sets a level for alembic."""
    logger = logging.getLogger("alembic")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


# The bridge imports this module after its logging is configured (see _quiet_alembic).
with _quiet_alembic():
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> tuple[str | None, str | None]:
    with _quiet_alembic():
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), "head")
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        before, after = await connection.run_sync(_upgrade)
    if before != after:
        # One line of our own instead of alembic's: only when the schema changed.
        log.info("Database upgraded from %s to %s", before or "an empty database", after)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
