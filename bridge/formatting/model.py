"""Formatted text as no network in particular writes it: plain text and styled ranges."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StyleKind(StrEnum):
    BOLD = "bold"
    ITALIC = "italic"
    UNDERLINE = "underline"
    STRIKETHROUGH = "strikethrough"
    SPOILER = "spoiler"
    CODE = "code"  # inline code
    PRE = "pre"  # a code block, maybe with a language
    LINK = "link"  # to ``url``
    MENTION = "mention"  # of the Matrix user ``user_id``
    BLOCKQUOTE = "blockquote"


INLINE_STYLES = frozenset(
    {
        StyleKind.BOLD,
        StyleKind.ITALIC,
        StyleKind.UNDERLINE,
        StyleKind.STRIKETHROUGH,
        StyleKind.SPOILER,
    }
)

# When styles cover the same range, the lower rank goes outside: blocks wrap links wrap styles.
_RANKS = {
    StyleKind.BLOCKQUOTE: 0,
    StyleKind.PRE: 1,
    StyleKind.LINK: 2,
    StyleKind.MENTION: 2,
    StyleKind.CODE: 4,
    **dict.fromkeys(INLINE_STYLES, 3),
}


def nesting_rank(kind: StyleKind) -> int:
    return _RANKS[kind]


@dataclass(frozen=True, slots=True)
class Style:
    """``kind`` over ``text[start:end]``: indexes are code points (str indexes), start < end."""

    kind: StyleKind
    start: int
    end: int
    url: str | None = None  # LINK
    user_id: str | None = None  # MENTION: a Matrix user id
    # MENTION: shown instead of the range's text when set (a pill's display name).
    name: str | None = None
    language: str | None = None  # PRE


@dataclass(frozen=True, slots=True)
class StyledText:
    """A text and its styles, which may overlap; where two cover the same range, the earlier
    one goes outside."""

    text: str
    styles: tuple[Style, ...] = ()


@dataclass(frozen=True, slots=True)
class MatrixPill:
    """A Matrix user to mention: the pill's link target and its text."""

    user_id: str
    displayname: str
