"""A dict that forgets its oldest entries past a size: caches that must not grow without bound."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict[K, V]):
    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)

    def touch(self, key: K) -> V | None:
        """The value (None if absent), kept as recently used."""
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value
