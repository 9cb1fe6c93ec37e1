"""Relative paths in the config are taken from the config file's directory, not from wherever
the bridge happens to be started: started from another directory, a relative SQLite path would
otherwise open a new, empty database and every portal would be forgotten."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL


def beside(base: Path, path: str) -> str:
    """``path`` as it is if absolute (or empty), else taken from ``base``."""
    return path if not path or Path(path).is_absolute() else str(base / path)


def sqlite_beside(url: URL, base: Path) -> URL:
    """A SQLite URL with a relative file path taken from ``base``; in-memory databases and
    SQLite's own ``file:`` URIs are left as they are."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    return url.set(database=beside(base, database))


def log_files_beside(logging: dict[str, Any], base: Path) -> dict[str, Any]:
    """The logging config with each handler's relative ``filename`` taken from ``base`` (the
    handlers of the logging module that write files all take it by that name)."""
    handlers = logging.get("handlers")
    if not isinstance(handlers, dict):
        return logging
    resolved = copy.deepcopy(logging)
    for handler in resolved["handlers"].values():
        if isinstance(handler, dict) and isinstance(handler.get("filename"), str):
            handler["filename"] = beside(base, handler["filename"])
    return resolved
