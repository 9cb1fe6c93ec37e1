"""Telegram's rules for nesting entities, enforced before sending."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bridge.formatting.nesting import Span, nest

from .entities import CODE_BLOCKS, QUOTES, STYLES, Entity, EntityType, nesting_rank


def enforce_telegram_nesting(entities: Iterable[Entity]) -> tuple[Entity, ...]:
    """Cuts and drops entities until Telegram's nesting rules hold; the outer entity wins.

    The rules (Bot API, "Formatting options"): entities sharing characters nest; styles may
    contain and be inside anything except code and pre; quotes never nest; all other
    entities contain none of each other. A style around code is cut around it rather than
    dropped (around the quote holding the code, if any, so that nesting stays proper).
    """
    spans = nest(
        Span(e.offset, e.offset + e.length, nesting_rank(e.type), e)
        for e in entities
        if e.length > 0
    )
    kept: list[Span[Entity]] = []
    ancestors: list[tuple[int, Span[Entity]]] = []
    holes: dict[int, set[tuple[int, int]]] = {}  # index in kept of a style -> ranges to cut
    for span in spans:
        while ancestors and ancestors[-1][1].end <= span.start:
            ancestors.pop()
        if not _may_nest(span.data.type, {a.data.type for _, a in ancestors}):
            continue
        if span.data.type in CODE_BLOCKS:
            hole = (span.start, span.end)
            for index, ancestor in reversed(ancestors):
                if ancestor.data.type in STYLES:
                    holes.setdefault(index, set()).add(hole)
                else:
                    hole = (ancestor.start, ancestor.end)
        ancestors.append((len(kept), span))
        kept.append(span)
    result: list[Entity] = []
    for index, span in enumerate(kept):
        pieces = _without(span, sorted(holes.get(index, ())))
        result += (replace(span.data, offset=a, length=b - a) for a, b in pieces)
    result.sort(key=lambda e: (e.offset, -e.length, nesting_rank(e.type)))
    return tuple(result)


def _may_nest(inner: EntityType, outer: set[EntityType]) -> bool:
    if inner in STYLES:
        return inner not in outer and not outer & CODE_BLOCKS
    if inner in QUOTES:
        return outer <= STYLES
    return not outer - STYLES - QUOTES


def _without(span: Span[Entity], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``span`` outside ``holes`` (disjoint, sorted, and inside the span)."""
    pieces: list[tuple[int, int]] = []
    position = span.start
    for start, end in holes:
        if start > position:
            pieces.append((position, start))
        position = end
    if position < span.end:
        pieces.append((position, span.end))
    return pieces
