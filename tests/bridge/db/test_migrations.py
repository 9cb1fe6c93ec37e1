"""Migrations from an empty database to head, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bridge.db.database import Database
from bridge.db.migrate import current_revision, head_revision

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
    from bridge.db.migrate import HEAD_REVISION

    assert head_revision() == HEAD_REVISION


def test_a_database_at_head_starts_without_importing_alembic(tmp_path: Path) -> None:
    """Alembic costs memory (about 11 MB): a second start of an up-to-date database must not
    load it. Checked in a fresh interpreter, where nothing imported it before."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'head.db'}"
    script = (
        "import asyncio, sys\n"
        "from bridge.db.database import Database\n"
        "async def main():\n"
        f"    db = Database({url!r})\n"
        "    await db.migrate()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[3]
    first = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    second = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    assert first.stdout.strip() == "True", "the first start migrates with alembic"
    assert second.stdout.strip() == "False", "an up-to-date database needs no alembic"


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
