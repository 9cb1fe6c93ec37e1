"""What Telegram does to a message text and its entities before storing it.

A subset of TDLib's fix_formatted_text: control characters become spaces, `\\r` and a few
invisible characters are removed, empty entities are dropped, and spaces and newlines are trimmed
from both ends (only up to the first entity at the start). Entities are then sorted as Telegram
sorts them. Not modelled: splitting and merging of overlapping entities, and the entities Telegram
detects by itself (URLs, mentions, hashtags, bot commands).
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, NotModelled, bad_request
from .html_parser import TelegramHTMLError, entity_sort_key, parse_telegram_html, utf16_len

_REMOVED = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a")
_TRIMMED = " \n"


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def format_text(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    allow_empty: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities as a sent message would hold them; raises ApiError like Telegram.
    With allow_empty (captions), a text that is empty after trimming becomes ""."""
    mode = (parse_mode or "").lower()
    if text and mode and mode != "none":
        if mode != "html":
            # MarkdownV2 and Markdown are not modelled; the bridge sends HTML.
            raise NotModelled(f"parse_mode {parse_mode}")
        try:
            text, entities = parse_telegram_html(text)
        except TelegramHTMLError as error:
            raise ApiError(400, error.description) from None
    return fix_text(text, [dict(e) for e in entities or []], allow_empty=allow_empty)


def fix_text(
    text: str, entities: list[dict[str, Any]], *, allow_empty: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    _check_bounds(text, entities)
    entities = [e for e in entities if e["length"] > 0]
    # Map every UTF-16 position of the input to the position it has after cleaning.
    cleaned: list[str] = []
    new_position = [0]
    for ch in text:
        if ch not in _REMOVED:
            cleaned.append(" " if ord(ch) < 32 and ch != "\n" else ch)
        base, kept = new_position[-1], ch not in _REMOVED
        for unit in range(1, _utf16_units(ch) + 1):
            new_position.append(base + unit if kept else base)
    result = "".join(cleaned)
    for entity in entities:
        end = new_position[entity["offset"] + entity["length"]]
        entity["offset"] = new_position[entity["offset"]]
        entity["length"] = end - entity["offset"]
    entities = [e for e in entities if e["length"] > 0]
    stripped = result.rstrip(_TRIMMED)
    if not stripped:
        if allow_empty:
            return "", []
        raise bad_request("text must be non-empty")
    end = utf16_len(stripped)
    entities = [e for e in entities if e["offset"] < end]
    for entity in entities:
        entity["length"] = min(entity["length"], end - entity["offset"])
    first_entity = min((e["offset"] for e in entities), default=end)
    cut = 0
    while cut < first_entity and stripped[cut] in _TRIMMED:
        cut += 1
    for entity in entities:
        entity["offset"] -= cut
    entities.sort(key=entity_sort_key)
    return stripped[cut:], entities


def _check_bounds(text: str, entities: list[dict[str, Any]]) -> None:
    size = utf16_len(text)
    starts = {0}
    position = 0
    for ch in text:
        position += _utf16_units(ch)
        starts.add(position)
    for entity in entities:
        offset, length = entity["offset"], entity["length"]
        if not 0 <= offset <= 1_000_000:
            raise bad_request(f"receive an entity with incorrect offset {offset}")
        if not 0 <= length <= 1_000_000:
            raise bad_request(f"receive an entity with incorrect length {length}")
        if offset > size:
            raise bad_request(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > size:
            raise bad_request(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        if offset not in starts or offset + length not in starts:
            raise bad_request(f"entity at UTF-16 offset {offset} splits a UTF-16 surrogate pair")
