"""Turning ranges that may overlap into properly nested markup, for both directions."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Span(Generic[T]):
    """A range [start, end) of a text carrying some payload; ``split`` marks a cut piece."""

    start: int
    end: int
    rank: int
    data: T
    split: bool = False


def nest(spans: Iterable[Span[T]]) -> list[Span[T]]:
    """Orders spans for opening, cutting each one that leaves an enclosing span in two.

    In the result every span lies within each earlier span it overlaps, so tags opened in
    this order and closed at their ends stay balanced. Ties in start and end go by rank,
    then by input order.
    """
    heap = [(s.start, -s.end, s.rank, order, s) for order, s in enumerate(spans)]
    heapq.heapify(heap)
    open_ends: list[int] = []
    nested: list[Span[T]] = []
    while heap:
        start, neg_end, rank, order, span = heapq.heappop(heap)
        while open_ends and open_ends[-1] <= start:
            open_ends.pop()
        if open_ends and open_ends[-1] < -neg_end:
            cut = open_ends[-1]
            rest = replace(span, start=cut, split=True)
            heapq.heappush(heap, (cut, neg_end, rank, order, rest))
            span = replace(span, end=cut, split=True)
        open_ends.append(span.end)
        nested.append(span)
    return nested


@dataclass(frozen=True, slots=True)
class Markup:
    """How one span renders: tags around its text, or ``replacement`` instead of the text."""

    open: str
    close: str
    replacement: str | None = None  # already escaped; ignored for split pieces
    verbatim: bool = False  # the text inside keeps its newlines as they are


Escape = Callable[[str, bool], str]  # (text, verbatim) -> markup


def render(text: str, spans: Sequence[Span[Markup]], escape: Escape) -> str:
    """Renders ``text`` with spans as ordered by :func:`nest` (code point indexes)."""
    out: list[str] = []
    stack: list[Span[Markup]] = []
    pos = 0
    verbatim = 0
    replaced_until = 0

    def text_until(end: int) -> None:
        nonlocal pos
        if end > pos:
            out.append(escape(text[pos:end], verbatim > 0))
            pos = end

    def close_until(limit: int) -> None:
        nonlocal verbatim
        while stack and stack[-1].end <= limit:
            span = stack.pop()
            text_until(span.end)
            out.append(span.data.close)
            verbatim -= span.data.verbatim

    for span in spans:
        if span.start < replaced_until:
            continue
        close_until(span.start)
        text_until(span.start)
        out.append(span.data.open)
        if span.data.replacement is not None and not span.split:
            out += (span.data.replacement, span.data.close)
            pos = replaced_until = span.end
        else:
            stack.append(span)
            verbatim += span.data.verbatim
    close_until(len(text))
    text_until(len(text))
    return "".join(out)
