"""``python -m bridge.db.migration_process``: upgrades a database with alembic, in a process of
its own, so that the bridge never holds alembic's memory (bridge/db/migrate.py).

Reads ``{"url": ..., "level": ...}`` on stdin and answers on stdout with one JSON object: the
revisions ``before`` and ``after``, or an ``error`` (its first line); and the ``records`` alembic
logged at ``level`` or above, as [logger name, level, message], for the bridge to log."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from sqlalchemy.exc import DBAPIError

from .engine import create_engine
from .migrate import upgrade_here


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


async def _upgrade(url: str) -> tuple[str | None, str | None]:
    engine = create_engine(url)
    try:
        return await upgrade_here(engine)
    finally:
        await engine.dispose()


def _first_line(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def main() -> int:
    request = json.loads(sys.stdin.read())
    collected = _Collected()
    alembic = logging.getLogger("alembic")
    alembic.setLevel(int(request["level"]))
    alembic.addHandler(collected)
    alembic.propagate = False
    answer: dict[str, Any]
    try:
        before, after = asyncio.run(_upgrade(str(request["url"])))
        answer = {"before": before, "after": after}
    except Exception as error:
        answer = {"error": _first_line(error)}
    answer["records"] = collected.records
    print(json.dumps(answer))
    return 1 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main())
