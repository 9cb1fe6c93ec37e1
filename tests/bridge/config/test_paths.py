"""Relative paths in the config are taken from the config file's directory, whatever directory
the bridge is started from; absolute paths, in-memory SQLite and PostgreSQL stay as written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from bridge.config.loader import ConfigFile, example_config_text


def typed_from_elsewhere(tmp_path: Path, **values: Any) -> Any:
    """The typed config of conf/config.yaml, read while the process is in another directory."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(example_config_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = Path.cwd()
    os.chdir(elsewhere)
    try:
        config_file = ConfigFile.load(Path("../conf/config.yaml"))
        for key, value in values.items():
            config_file.set(key, value)
        return config_file.typed(["telegram"])
    finally:
        os.chdir(before)


@pytest.mark.parametrize(
    ("written", "used"),
    [
        (
            "sqlite:///matrix-telegram-bridge.db",
            "sqlite+aiosqlite:///{conf}/matrix-telegram-bridge.db",
        ),
        ("sqlite:///data/bridge.db", "sqlite+aiosqlite:///{conf}/data/bridge.db"),
        ("sqlite:///../shared/bridge.db", "sqlite+aiosqlite:///{conf}/../shared/bridge.db"),
        ("sqlite+aiosqlite:///b.db", "sqlite+aiosqlite:///{conf}/b.db"),
        ("sqlite:////var/lib/bridge/b.db", "sqlite+aiosqlite:////var/lib/bridge/b.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://u:p@db/bridge", "postgresql+asyncpg://u:p@db/bridge"),
    ],
)
def test_a_relative_sqlite_path_is_taken_from_the_config_s_directory(
    tmp_path: Path, written: str, used: str
) -> None:
    config = typed_from_elsewhere(tmp_path, **{"appservice.database": written})
    assert make_url(config.appservice.database) == make_url(used.format(conf=tmp_path / "conf"))


def test_a_relative_log_file_is_taken_from_the_config_s_directory(tmp_path: Path) -> None:
    handlers = {
        "console": {"class": "logging.StreamHandler"},
        "file": {"class": "logging.handlers.RotatingFileHandler", "filename": "logs/b.log"},
        "kept": {"class": "logging.FileHandler", "filename": "/var/log/bridge.log"},
    }
    config = typed_from_elsewhere(tmp_path, **{"logging.handlers": handlers})
    resolved = config.logging["handlers"]
    assert resolved["file"]["filename"] == str(tmp_path / "conf" / "logs" / "b.log")
    assert resolved["kept"]["filename"] == "/var/log/bridge.log"
    assert resolved["console"] == {"class": "logging.StreamHandler"}
