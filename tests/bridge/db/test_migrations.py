"""Migrations from an empty database to head, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bridge.db import migrate
from bridge.db.database import Database
from bridge.db.migrate import HEAD_REVISION, current_revision, head_revision
from bridge.errors import StartupError

TABLES = {
    "portal",
    "ghost",
    "bridge_user",
    "message",
    "reaction",
    "appservice_txn",
    "matrix_inbox",
    "remote_inbox",
    "kv_store",
    "login_token",
    "user_notice",
    "alembic_version",
}


async def test_migrations_run_from_empty_to_head(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert await current_revision(db.engine) is None
        await db.migrate()
        assert await current_revision(db.engine) == head_revision()
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables >= TABLES
        # Running again at head changes nothing.
        await db.migrate()
        assert await current_revision(db.engine) == head_revision()
    finally:
        await db.close()


async def test_the_models_match_the_migrations(db_url: str) -> None:
    """Autogenerate against a migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bridge.db.models import Base

    db = Database(db_url)
    try:
        await db.migrate()
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert diff == []
    finally:
        await db.close()


@pytest.mark.parametrize("admin_sets_alembic", [False, True])
async def test_a_migration_logs_one_line_of_ours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, admin_sets_alembic: bool
) -> None:
    caplog.set_level(logging.INFO)
    if admin_sets_alembic:
        # A logging config naming alembic gets alembic's own lines as configured.
        caplog.set_level(logging.INFO, logger="alembic")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}")
    try:
        await db.migrate()
        ours = [r.getMessage() for r in caplog.records if r.name == "bridge.db"]
        assert ours == [f"Database upgraded from an empty database to {head_revision()}"]
        alembic = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
        if admin_sets_alembic:
            assert any(line.startswith("Running upgrade") for line in alembic), alembic
        else:
            assert alembic == []
        caplog.clear()
        await db.migrate()
        assert [r for r in caplog.records if r.name == "bridge.db"] == []
    finally:
        await db.close()


def test_the_known_head_is_alembics_head() -> None:
    """Start-up skips alembic when the database is at HEAD_REVISION: it must be the newest."""
    assert head_revision() == HEAD_REVISION


def test_the_bridge_never_imports_alembic(tmp_path: Path) -> None:
    """Alembic costs memory (about 11 MB) for as long as the process runs: the first start
    migrates in a process of its own, and a second one of an up-to-date database needs no
    alembic at all. Checked in a fresh interpreter, where nothing imported it before."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'head.db'}"
    script = (
        "import asyncio, sys\n"
        "from bridge.db.database import Database\n"
        "from bridge.db.migrate import current_revision\n"
        "async def main():\n"
        f"    db = Database({url!r})\n"
        "    await db.migrate()\n"
        "    print(await current_revision(db.engine))\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[3]
    for start in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
        )
        assert done.stdout.split() == [HEAD_REVISION, "False"], (start, done.stdout)


@pytest.mark.parametrize("admin_sets_alembic", [False, True])
async def test_a_migration_apart_upgrades_and_logs_as_here(
    db_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    admin_sets_alembic: bool,
) -> None:
    """The bridge's way: the process of its own upgrades the database; alembic's lines come
    back to this process's logging (as the admin's config has them), and ours is one line."""
    monkeypatch.setattr(migrate, "UPGRADE_APART", True)
    caplog.set_level(logging.INFO)
    if admin_sets_alembic:
        caplog.set_level(logging.INFO, logger="alembic")
    db = Database(db_url)
    try:
        await db.migrate()
        assert await current_revision(db.engine) == HEAD_REVISION
        ours = [r.getMessage() for r in caplog.records if r.name == "bridge.db"]
        assert ours == [f"Database upgraded from an empty database to {HEAD_REVISION}"]
        alembic = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
        if admin_sets_alembic:
            assert any(line.startswith("Running upgrade") for line in alembic), alembic
        else:
            assert alembic == []
    finally:
        await db.close()


async def test_a_failed_migration_apart_is_a_startup_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database alembic cannot upgrade (a table of the first migration's already there, and
    not alembic's) ends the start with the error's line, naming the database."""
    monkeypatch.setattr(migrate, "UPGRADE_APART", True)
    path = tmp_path / "taken.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE portal (id INTEGER)"))
        with pytest.raises(StartupError) as raised:
            await db.migrate()
        message = str(raised.value)
        assert message.startswith(
            f"Cannot use the database at appservice.database (sqlite:///{path})"
        )
        assert "portal" in message and "already exists" in message, message
    finally:
        await db.close()


async def test_tokens_stored_before_are_hashed_and_still_link(db_url: str) -> None:
    """0006: a login token stored as given (0003) is kept as its hash from then on, and the
    user it was made for can still be linked with it (opened, then confirmed)."""
    from alembic import command

    from bridge.accounts import AccountLinks
    from bridge.db.accounts import AccountStore
    from bridge.db.migrate import alembic_config
    from bridge.db.models import utcnow
    from bridge.network.events import RemoteUser
    from bridge.network.ids import RemoteUserID

    token = "Old-token_made-before-0006-abcdefg"
    db = Database(db_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0003"))
            await connection.execute(
                text(
                    "INSERT INTO login_token (token, mxid, created_at, expires_at) "
                    "VALUES (:token, '@old:x', :now, :expires)"
                ),
                {"token": token, "now": utcnow(), "expires": utcnow() + timedelta(minutes=5)},
            )
        await db.migrate()
        async with db.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM login_token"))).all()
        assert len(rows) == 1 and not any(token in str(value) for value in rows[0]), rows
        accounts = AccountLinks(AccountStore(db))
        old = RemoteUser(RemoteUserID("5"), "Old")
        assert await accounts.open(token, old) == "@old:x"
        assert await accounts.link(token, old) == "@old:x"
    finally:
        await db.close()
