"""Caches that must not grow without bound forget their least recently used entries."""

from __future__ import annotations

from bridge.lru import BoundedDict


def test_the_oldest_entries_go_past_the_size() -> None:
    cache: BoundedDict[int, str] = BoundedDict(3)
    for key in range(10):
        cache[key] = str(key)
    assert list(cache) == [7, 8, 9]


def test_a_touched_or_rewritten_entry_counts_as_recent() -> None:
    cache: BoundedDict[str, int] = BoundedDict(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.touch("a") == 1
    cache["c"] = 3
    assert set(cache) == {"a", "c"}
    cache["a"] = 10
    cache["d"] = 4
    assert set(cache) == {"a", "d"}
    assert cache.touch("missing") is None
