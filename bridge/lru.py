"""A dict that forgets its oldest entries past a size: caches that must not grow without bound."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict[K, V]):
    def __init__(self, maxsize: int, on_evict: Callable[[K, V], None] | None = None) -> None:
        """``on_evict``: told of each entry forgotten for the size (for what else holds on to
        it)."""
        super().__init__()
        self.maxsize = maxsize
        self._on_evict = on_evict

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            old_key, old_value = self.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)

    def touch(self, key: K) -> V | None:
        """The value (None if absent), kept as recently used."""
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value
