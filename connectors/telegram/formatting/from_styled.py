"""Neutral styled text (bridge.formatting) -> Telegram text with entities in UTF-16."""

from __future__ import annotations

import re
from collections.abc import Callable

from bridge.formatting import LINK, Style, StyledText, StyleKind

from .entities import Entity, EntityType, TelegramText, Utf16Index
from .rules import enforce_telegram_nesting

# Given a Matrix user id from a pill, the Telegram user id of that person, or None.
PillResolver = Callable[[str], int | None]

_TYPES = {
    StyleKind.BOLD: EntityType.BOLD,
    StyleKind.ITALIC: EntityType.ITALIC,
    StyleKind.UNDERLINE: EntityType.UNDERLINE,
    StyleKind.STRIKETHROUGH: EntityType.STRIKETHROUGH,
    StyleKind.SPOILER: EntityType.SPOILER,
    StyleKind.CODE: EntityType.CODE,
    StyleKind.BLOCKQUOTE: EntityType.BLOCKQUOTE,
}
# Not mailto: Telegram reads "mailto:a@b.org" as a web address; it finds e-mails in text itself.
_LINK_SCHEMES = frozenset(("http", "https", "tg"))
# Telegram makes a mention of any tg://user link; mentions come from pills only.
_TG_USER_LINK = re.compile(r"tg:(//)?user([/?#]|$)", re.IGNORECASE)


def to_telegram_text(styled: StyledText, pills: PillResolver) -> TelegramText:
    """The entities Telegram can render of ``styled``, nested as Telegram requires.

    A mention of a Matrix user Telegram does not know, and a link Telegram would not take as
    one, become plain text. Styles reaching past the text are clipped to it.
    """
    index = Utf16Index(styled.text)
    entities: list[Entity] = []
    for style in styled.styles:
        start, end = max(style.start, 0), min(style.end, len(styled.text))
        if start >= end:
            continue
        offset = index.offset(start)
        entity = _entity(style, offset, index.offset(end) - offset, pills)
        if entity is not None:
            entities.append(entity)
    return TelegramText(styled.text, enforce_telegram_nesting(entities))


def _entity(style: Style, offset: int, length: int, pills: PillResolver) -> Entity | None:
    match style.kind:
        case StyleKind.PRE:
            return Entity(EntityType.PRE, offset, length, language=style.language)
        case StyleKind.LINK if style.url is not None and _allowed(style.url):
            return Entity(EntityType.TEXT_LINK, offset, length, url=style.url)
        case StyleKind.MENTION if style.user_id is not None:
            telegram_id = pills(style.user_id)
            if telegram_id is not None:
                return Entity(EntityType.TEXT_MENTION, offset, length, user_id=telegram_id)
            return None
    entity_type = _TYPES.get(style.kind)
    return Entity(entity_type, offset, length) if entity_type is not None else None


def _allowed(url: str) -> bool:
    link = LINK.fullmatch(url)
    return link is not None and link[1].lower() in _LINK_SCHEMES and not _TG_USER_LINK.match(url)
