"""A database that refuses to store for a while, as a full disk would: the next calls of some
async methods fail with OSError, then they work again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class StoreFailures:
    """How many of the failures are still to come (0 once they all happened)."""

    left: int


def fail_next_calls(
    monkeypatch: pytest.MonkeyPatch, owner: type, names: Iterable[str], times: int
) -> StoreFailures:
    """The next ``times`` calls of ``owner``'s async methods ``names`` (counted together) raise
    OSError("disk full"). A name ``owner`` lacks is left alone."""
    failures = StoreFailures(times)
    for name in names:
        original: Callable[..., Awaitable[Any]] | None = getattr(owner, name, None)
        if original is None:
            continue

        async def failing(
            self: Any, *args: Any, _original: Callable[..., Awaitable[Any]] = original, **kw: Any
        ) -> Any:
            if failures.left > 0:
                failures.left -= 1
                raise OSError("disk full")
            return await _original(self, *args, **kw)

        monkeypatch.setattr(owner, name, failing)
    return failures
