"""Splitting a long text with entities into messages Telegram accepts."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from itertools import pairwise

from .entities import Entity, TelegramText, Utf16Index

TEXT_LIMIT = 4096  # UTF-16 units of a message's text after entity parsing
_GRAPHEME_LOOKBACK = 32  # how far a hard cut may move back to keep a character whole

_ZWJ = "\u200d"


def split_text(message: TelegramText, limit: int = TEXT_LIMIT) -> list[TelegramText]:
    """Cuts ``message`` into pieces of at most ``limit`` UTF-16 units, losing nothing.

    Cuts go after a newline if one is in the second half of the allowed window, else after
    a space there, else between two characters that do not form one visible character.
    Entities crossing a cut continue in the next piece. A single character longer than
    ``limit`` (an astral one when ``limit`` is 1) still goes alone in a piece.
    """
    text = message.text
    index = Utf16Index(text)
    cuts = [0]
    while cuts[-1] < len(text):
        cuts.append(_next_cut(text, index, cuts[-1], limit))
    if len(cuts) <= 2:
        return [message]
    return [
        TelegramText(
            text[start:end],
            _slice(message.entities, index.offset(start), index.offset(end)),
        )
        for start, end in pairwise(cuts)
    ]


def _next_cut(text: str, index: Utf16Index, start: int, limit: int) -> int:
    base = index.offset(start)
    hard = index.floor(base + limit)
    if hard >= len(text):
        return len(text)
    if hard <= start:
        return start + 1
    low = max(start + 1, index.floor(base + limit // 2))
    for separator in ("\n", " "):
        found = text.rfind(separator, low - 1, hard)
        if found >= 0:
            return found + 1
    for cut in range(hard, max(low, hard - _GRAPHEME_LOOKBACK) - 1, -1):
        if not _joined(text, cut):
            return cut
    return hard


def _joined(text: str, position: int) -> bool:
    """Whether the characters on both sides of ``position`` belong to one visible character."""
    before, after = text[position - 1], text[position]
    if _ZWJ in (before, after):
        return True
    code = ord(after)
    if unicodedata.category(after) in ("Mn", "Me", "Mc") or 0x1F3FB <= code <= 0x1F3FF:
        return True  # combining marks, variation selectors, keycaps, skin tones
    if 0xE0020 <= code <= 0xE007F:
        return True  # emoji tag sequences (subdivision flags)
    if _regional_indicator(before) and _regional_indicator(after):
        run = 0
        while position - run > 0 and _regional_indicator(text[position - run - 1]):
            run += 1
        return run % 2 == 1  # flags are pairs: cut only after an even count
    return False


def _regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _slice(entities: tuple[Entity, ...], start: int, end: int) -> tuple[Entity, ...]:
    pieces: list[Entity] = []
    for entity in entities:
        first = max(entity.offset, start)
        last = min(entity.offset + entity.length, end)
        if first < last:
            pieces.append(replace(entity, offset=first - start, length=last - first))
    return tuple(pieces)
