"""Alembic migrations, applied automatically at start-up.

Alembic, with what it loads (mako, SQLAlchemy's PostgreSQL dialect), and a migration's run cost
the bridge about 8 MB it would then hold for as long as it runs (BENCHMARKS.md's first start).
A database already at the newest revision needs none of it: the revision is read with one
query. One that needs upgrading is upgraded by a process of its own
(bridge/db/migration_process.py), which ends with its work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import site
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import URL, Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("bridge.db")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test checks it is alembic's head).
HEAD_REVISION = "0006"
# Whether an upgrade runs in a process of its own (above). The tests turn it off: they migrate
# hundreds of fresh databases, each a new interpreter's start-up otherwise.
UPGRADE_APART = True
# Where this bridge was imported from, for the migration process to import the same one.
_ROOT = Path(__file__).resolve().parents[2]


class MigrationFailed(Exception):
    """The migration process failed; the message is its error's first line."""


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
    if UPGRADE_APART:
        before, after = await _upgrade_apart(engine.url)
    else:
        before, after = await upgrade_here(engine)
    if before != after:
        # One line of our own instead of alembic's: only when the schema changed.
        log.info("Database upgraded from %s to %s", before or "an empty database", after)


async def upgrade_here(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Upgrade with alembic in this process; the revisions before and after."""
    async with engine.begin() as connection:
        revisions: tuple[str | None, str | None] = await connection.run_sync(_upgrade)
    return revisions


def _alembic_log_level() -> int:
    """The level alembic logs at: the admin's, when the logging config sets one for it."""
    return logging.getLogger("alembic").level or logging.WARNING


async def _upgrade_apart(url: URL) -> tuple[str | None, str | None]:
    """Upgrade in ``python -m bridge.db.migration_process``: the URL (it may hold a password)
    goes on its stdin, never on its command line; alembic's log records come back and are
    logged here, as this process's logging config says."""
    request = {"url": url.render_as_string(hide_password=False), "level": _alembic_log_level()}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.db.migration_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(),
    )  # fmt: skip
    out, err = await process.communicate(json.dumps(request).encode())
    try:
        answer = json.loads(out.splitlines()[-1])  # its last line: the answer
    except (ValueError, IndexError):
        lines = err.decode(errors="replace").strip().splitlines()
        raise MigrationFailed(
            f"the migration process ended ({process.returncode}) without an answer: "
            + (lines[-1] if lines else "no output")
        ) from None
    for name, level, message in answer["records"]:
        logging.getLogger(name).log(level, "%s", message)
    if "error" in answer:
        raise MigrationFailed(answer["error"])
    return answer["before"], answer["after"]


def _environment() -> dict[str, str]:
    """This process's environment; with the bridge's root first on the path when it is a
    checkout (an installed bridge is in site-packages, which the process has anyway)."""
    env = dict(os.environ)
    if str(_ROOT) not in [*site.getsitepackages(), site.getusersitepackages()]:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    return env


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)


def head_revision() -> str | None:
    _, _, _, script_directory = _alembic()
    head: str | None = script_directory.from_config(alembic_config()).get_current_head()
    return head
