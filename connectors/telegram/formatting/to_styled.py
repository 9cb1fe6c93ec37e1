"""Telegram text with entities (UTF-16) -> neutral styled text (bridge.formatting)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bridge.formatting import MatrixPill, Style, StyledText, StyleKind

from .entities import Entity, EntityType, Utf16Index

# Given a Telegram user id (text_mention) or a username without "@" (mention), the Matrix
# user to pill, or None when unknown. Synchronous: prefetch with mention_targets() if needed.
MentionResolver = Callable[[int | str], MatrixPill | None]

_KINDS = {
    EntityType.BOLD: StyleKind.BOLD,
    EntityType.ITALIC: StyleKind.ITALIC,
    EntityType.UNDERLINE: StyleKind.UNDERLINE,
    EntityType.STRIKETHROUGH: StyleKind.STRIKETHROUGH,
    EntityType.SPOILER: StyleKind.SPOILER,
    EntityType.CODE: StyleKind.CODE,
    EntityType.BLOCKQUOTE: StyleKind.BLOCKQUOTE,
    EntityType.EXPANDABLE_BLOCKQUOTE: StyleKind.BLOCKQUOTE,
}
_HAS_AUTHORITY = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_USERNAME = re.compile(r"[A-Za-z0-9_]+")


def from_telegram_text(
    text: str, entities: Sequence[Entity], mentions: MentionResolver
) -> StyledText:
    """The styles of a Telegram message, in the order of its entities.

    Hostile entities are clipped to the text (a boundary inside a surrogate pair widens to the
    whole character); mentions ``mentions`` knows become pills of Matrix users. Entities that
    only Telegram shows (hashtags, custom emoji, dates...) stay text.
    """
    index = Utf16Index(text)
    styles: list[Style] = []
    for entity in entities:
        bounds = index.clip(entity)
        if bounds is None:
            continue
        start, end = bounds
        target = _mention_target(entity, text[start:end])
        pill = mentions(target) if target is not None else None
        style: Style | None
        if pill is not None:
            name = pill.displayname or pill.user_id
            style = Style(StyleKind.MENTION, start, end, user_id=pill.user_id, name=name)
        else:
            style = _style(entity, start, end, text[start:end])
        if style is not None:
            styles.append(style)
    return StyledText(text, tuple(styles))


def mention_targets(text: str, entities: Sequence[Entity]) -> set[int | str]:
    """What :func:`from_telegram_text` will ask its resolver, to look them up beforehand."""
    index = Utf16Index(text)
    targets: set[int | str] = set()
    for entity in entities:
        bounds = index.clip(entity)
        if bounds is not None:
            target = _mention_target(entity, text[bounds[0] : bounds[1]])
            if target is not None:
                targets.add(target)
    return targets


def _mention_target(entity: Entity, content: str) -> int | str | None:
    if entity.type is EntityType.TEXT_MENTION:
        return entity.user_id
    if entity.type is EntityType.MENTION:
        username = content.removeprefix("@")
        return username if _USERNAME.fullmatch(username) else None
    return None


def _style(entity: Entity, start: int, end: int, content: str) -> Style | None:
    match entity.type:
        case EntityType.PRE:
            return Style(StyleKind.PRE, start, end, language=entity.language)
        case EntityType.TEXT_LINK:
            return Style(StyleKind.LINK, start, end, url=entity.url or "")
        case EntityType.URL:
            url = content if _HAS_AUTHORITY.match(content) else f"http://{content}"
            return Style(StyleKind.LINK, start, end, url=url)
        case EntityType.EMAIL:
            return Style(StyleKind.LINK, start, end, url=f"mailto:{content}")
        case EntityType.MENTION:
            username = _mention_target(entity, content)
            if username is None:
                return None
            return Style(StyleKind.LINK, start, end, url=f"https://t.me/{username}")
    # custom_emoji keeps its fallback emoji; hashtags, commands, numbers and dates stay text.
    kind = _KINDS.get(entity.type)
    return Style(kind, start, end) if kind is not None else None
