"""A database the bridge cannot use ends the start with one line naming it, never a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config.model import normalize_database_url
from bridge.db.database import Database
from bridge.errors import StartupError
from tests.support.ports import free_port


async def start_error(url: str) -> str:
    database = Database(normalize_database_url(url))
    try:
        with pytest.raises(StartupError) as raised:
            await database.migrate()
    finally:
        await database.close()
    return str(raised.value)


async def test_a_postgresql_server_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    message = await start_error(f"postgresql://bridge:pa55word-x@127.0.0.1:{port}/bridge")
    assert message.startswith(
        f"Cannot use the database at appservice.database (postgresql://bridge:***@127.0.0.1:{port}"
        "/bridge): "
    )
    assert "Connect call failed" in message or "refused" in message.lower()
    assert "pa55word-x" not in message


async def test_an_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no such directory" / "bridge.db"
    message = await start_error(f"sqlite:///{missing}")
    assert f"(sqlite:///{missing}): unable to open database file." in message
