"""Telegram message entities as plain data, and the UTF-16 arithmetic their offsets need."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate


class EntityType(StrEnum):
    """Every MessageEntity type of Bot API 10."""

    MENTION = "mention"
    HASHTAG = "hashtag"
    CASHTAG = "cashtag"
    BOT_COMMAND = "bot_command"
    URL = "url"
    EMAIL = "email"
    PHONE_NUMBER = "phone_number"
    BOLD = "bold"
    ITALIC = "italic"
    UNDERLINE = "underline"
    STRIKETHROUGH = "strikethrough"
    SPOILER = "spoiler"
    BLOCKQUOTE = "blockquote"
    EXPANDABLE_BLOCKQUOTE = "expandable_blockquote"
    CODE = "code"
    PRE = "pre"
    TEXT_LINK = "text_link"
    TEXT_MENTION = "text_mention"
    CUSTOM_EMOJI = "custom_emoji"
    DATE_TIME = "date_time"


STYLES = frozenset(
    {
        EntityType.BOLD,
        EntityType.ITALIC,
        EntityType.UNDERLINE,
        EntityType.STRIKETHROUGH,
        EntityType.SPOILER,
    }
)
QUOTES = frozenset({EntityType.BLOCKQUOTE, EntityType.EXPANDABLE_BLOCKQUOTE})
CODE_BLOCKS = frozenset({EntityType.CODE, EntityType.PRE})

# When entities cover the same range, the lower rank goes outside: blocks wrap links wrap styles.
_RANKS = {
    EntityType.BLOCKQUOTE: 0,
    EntityType.EXPANDABLE_BLOCKQUOTE: 0,
    EntityType.PRE: 1,
    EntityType.CODE: 4,
    **dict.fromkeys(STYLES, 3),
}


def nesting_rank(entity_type: EntityType) -> int:
    return _RANKS.get(entity_type, 2)


@dataclass(frozen=True, slots=True)
class Entity:
    """One Bot API MessageEntity; ``offset`` and ``length`` count UTF-16 code units."""

    type: EntityType
    offset: int
    length: int
    url: str | None = None  # text_link
    user_id: int | None = None  # text_mention
    language: str | None = None  # pre
    custom_emoji_id: str | None = None  # custom_emoji
    unix_time: int | None = None  # date_time
    date_time_format: str | None = None  # date_time


@dataclass(frozen=True, slots=True)
class TelegramText:
    """A text with its entities, as the Bot API sends and receives it."""

    text: str
    entities: tuple[Entity, ...] = ()


def utf16_len(text: str) -> int:
    # surrogatepass: a lone surrogate (possible in decoded JSON) is one unit, as in UTF-16.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class Utf16Index:
    """Converts between code point indexes of one text and UTF-16 offsets into it."""

    __slots__ = ("_offsets",)

    def __init__(self, text: str) -> None:
        # _offsets[i] is the UTF-16 offset of text[i], plus one entry for the end of the text.
        self._offsets = [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]

    @property
    def units(self) -> int:
        return self._offsets[-1]

    def offset(self, index: int) -> int:
        return self._offsets[index]

    def floor(self, offset: int) -> int:
        """Index of the last character boundary at or before ``offset``, within the text."""
        return max(0, bisect_right(self._offsets, offset) - 1)

    def ceil(self, offset: int) -> int:
        """Index of the first character boundary at or after ``offset``, within the text."""
        return min(len(self._offsets) - 1, bisect_left(self._offsets, offset))

    def clip(self, entity: Entity) -> tuple[int, int] | None:
        """The entity's range as code point indexes, clipped to the text; None when empty.

        A boundary inside a surrogate pair widens the range to the whole character, so that
        hostile offsets never cut a character in two.
        """
        if entity.length <= 0:
            return None
        start = self.floor(entity.offset)
        end = self.ceil(entity.offset + entity.length)
        return (start, end) if start < end else None
