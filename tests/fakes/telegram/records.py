"""What the fake remembers about its traffic: calls made and schema violations seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# "unsupported": a valid request the fake cannot answer faithfully (a gap in the fake).
Direction = Literal["request", "response", "unsupported"]


@dataclass(frozen=True)
class Violation:
    """A request or response departing from the schema, or a request the fake cannot model."""

    direction: Direction
    method: str
    where: str
    what: str

    def __str__(self) -> str:
        place = f" at {self.where}" if self.where else ""
        return f"{self.direction} of {self.method}{place}: {self.what}"


@dataclass
class Call:
    """One request that reached a known method; `params` are decoded per the schema."""

    method: str
    params: dict[str, Any]
    time: float
    status: int | None = None  # the HTTP status answered; None while in flight or if never answered
    fault: str | None = None  # the kind of fault that was injected into this call, if any

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None
