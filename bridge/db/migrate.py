"""Alembic migrations, applied automatically at start-up.

Alembic (with its templates) costs about 11 MB of memory once imported. A database already at
the newest revision needs none of it: the revision is read with one query and alembic is
imported only when there is something to upgrade.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("bridge.db")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test checks it is alembic's head).
HEAD_REVISION = "0006"


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


def _alembic() -> tuple[ModuleType, Any, Any, Any]:
    with _quiet_alembic():
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
    return command, AlembicConfig, MigrationContext, ScriptDirectory


def alembic_config(connection: Connection | None = None) -> Any:
    _, config_class, _, _ = _alembic()
    config = config_class()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


def _upgrade(connection: Connection) -> tuple[str | None, str | None]:
    command, _, _, _ = _alembic()
    with _quiet_alembic():
        before = _revision(connection)
        command.upgrade(alembic_config(connection), "head")
        after = _revision(connection)
    return before, after


async def upgrade_to_head(engine: AsyncEngine) -> None:
    if await current_revision(engine) == HEAD_REVISION:
        return
    async with engine.begin() as connection:
        before, after = await connection.run_sync(_upgrade)
    if before != after:
        # One line of our own instead of alembic's: only when the schema changed.
        log.info("Database upgraded from %s to %s", before or "an empty database", after)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)


def head_revision() -> str | None:
    _, _, _, script_directory = _alembic()
    head: str | None = script_directory.from_config(alembic_config()).get_current_head()
    return head
