"""The ids a log line is about (portal, room, event, remote message, update), carried in a
context variable so every line logged while one event is handled names it, in whatever module
logs it. Each asyncio task has its own copy: lanes running side by side never mix their ids."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

# In the order they are shown.
KEYS = ("portal", "room", "event", "remote", "update", "lane")

_ids: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("log_ids", default=())


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Bind ids (None values left out) to every record logged inside the block; inner blocks
    add to and override the outer ones."""
    merged = dict(_ids.get())
    merged.update({key: str(value) for key, value in ids.items() if value is not None})
    token = _ids.set(tuple(sorted(merged.items(), key=_order)))
    try:
        yield
    finally:
        _ids.reset(token)


def current_ids() -> dict[str, str]:
    return dict(_ids.get())


def _order(item: tuple[str, str]) -> tuple[int, str]:
    key = item[0]
    return (KEYS.index(key) if key in KEYS else len(KEYS), key)


class ContextFilter(logging.Filter):
    """Puts the ids on each record: ``record.ids`` (a dict, for the JSON formatter) and
    ``record.context`` (``[portal=... event=...] `` or empty, for text formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _ids.get()
        if not hasattr(record, "ids"):
            record.ids = dict(ids)
            record.context = "[" + " ".join(f"{k}={v}" for k, v in ids) + "] " if ids else ""
        return True
