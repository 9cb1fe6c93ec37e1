"""Telegram text with entities -> Matrix ``body`` and ``org.matrix.custom.html``."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .entities import Entity, EntityType, Utf16Index, nesting_rank
from bridge.formatting.nesting import Markup, Span, nest, render


@dataclass(frozen=True, slots=True)
class MatrixPill:
    """A Matrix user to mention: the pill's link target and its text."""

    user_id: str
    displayname: str


# Given a Telegram user id (text_mention) or a username without "@" (mention), the Matrix
# user to pill, or None when unknown. Synchronous: prefetch with mention_targets() if needed.
MentionResolver = Callable[[int | str], MatrixPill | None]


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Matrix message content: the ``body``, and ``formatted_body`` when there is any."""

    body: str
    html: str | None  # None when nothing needs formatting
    mentions: tuple[str, ...] = ()  # Matrix user ids pilled in html, for m.mentions


_SIMPLE_TAGS = {
    EntityType.BOLD: Markup("<strong>", "</strong>"),
    EntityType.ITALIC: Markup("<em>", "</em>"),
    EntityType.UNDERLINE: Markup("<u>", "</u>"),
    EntityType.STRIKETHROUGH: Markup("<del>", "</del>"),
    EntityType.SPOILER: Markup("<span data-mx-spoiler>", "</span>"),
    EntityType.CODE: Markup("<code>", "</code>"),
    EntityType.BLOCKQUOTE: Markup("<blockquote>", "</blockquote>"),
    EntityType.EXPANDABLE_BLOCKQUOTE: Markup("<blockquote>", "</blockquote>"),
}
# The schemes Matrix clients are told to keep in links (client-server spec, m.room.message).
_SAFE_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "magnet"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_HAS_AUTHORITY = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_USERNAME = re.compile(r"[A-Za-z0-9_]+")


def telegram_to_matrix(
    text: str, entities: Sequence[Entity], mentions: MentionResolver
) -> FormattedText:
    """Converts a Telegram message text; the body is ``text`` itself.

    Never raises on hostile entities: they are clipped to the text, and an entity that
    overlaps another only partly is cut in pieces so that tags stay balanced.
    """
    index = Utf16Index(text)
    spans: list[Span[Markup]] = []
    pilled: dict[Markup, str] = {}  # pill markup -> Matrix user id
    for entity in entities:
        bounds = index.clip(entity)
        if bounds is None:
            continue
        start, end = bounds
        target = _mention_target(entity, text[start:end])
        pill = mentions(target) if target is not None else None
        markup: Markup | None
        if pill is not None:
            markup = _pill(pill)
            pilled[markup] = pill.user_id
        else:
            markup = _markup(entity, text[start:end])
        if markup is not None:
            spans.append(Span(start, end, nesting_rank(entity.type), markup))
    if not spans:
        return FormattedText(text, None)
    kept = _without_nested_links(nest(spans))
    mentioned = dict.fromkeys(pilled[s.data] for s in kept if s.data in pilled)
    return FormattedText(text, render(text, kept, _escape), tuple(mentioned))


def mention_targets(text: str, entities: Sequence[Entity]) -> set[int | str]:
    """What :func:`telegram_to_matrix` will ask its resolver, to look them up beforehand."""
    index = Utf16Index(text)
    targets: set[int | str] = set()
    for entity in entities:
        bounds = index.clip(entity)
        if bounds is not None:
            target = _mention_target(entity, text[bounds[0] : bounds[1]])
            if target is not None:
                targets.add(target)
    return targets


def _without_nested_links(spans: list[Span[Markup]]) -> list[Span[Markup]]:
    # Only hostile entities put a link in a link; HTML cannot nest them, so the outer one wins.
    kept: list[Span[Markup]] = []
    link_end = 0
    for span in spans:
        if span.data.open.startswith("<a "):
            if span.start < link_end:
                continue
            link_end = span.end
        kept.append(span)
    return kept


def _mention_target(entity: Entity, content: str) -> int | str | None:
    if entity.type is EntityType.TEXT_MENTION:
        return entity.user_id
    if entity.type is EntityType.MENTION:
        username = content.removeprefix("@")
        return username if _USERNAME.fullmatch(username) else None
    return None


def _markup(entity: Entity, content: str) -> Markup | None:
    match entity.type:
        case EntityType.PRE:
            code = "<code>"
            if entity.language:
                code = f'<code class="language-{html.escape(entity.language)}">'
            return Markup(f"<pre>{code}", "</code></pre>", verbatim=True)
        case EntityType.TEXT_LINK:
            return _link(entity.url or "")
        case EntityType.URL:
            return _link(content if _HAS_AUTHORITY.match(content) else f"http://{content}")
        case EntityType.EMAIL:
            return _link(f"mailto:{content}")
        case EntityType.MENTION:
            username = _mention_target(entity, content)
            return _link(f"https://t.me/{username}") if username is not None else None
    # custom_emoji keeps its fallback emoji; hashtags, commands, numbers and dates stay text.
    return _SIMPLE_TAGS.get(entity.type)


def _link(url: str) -> Markup | None:
    scheme = _SCHEME.match(url)
    if scheme is None or scheme[1].lower() not in _SAFE_SCHEMES:
        return None
    return Markup(f'<a href="{html.escape(url)}">', "</a>")


def _pill(pill: MatrixPill) -> Markup:
    return Markup(
        f'<a href="https://matrix.to/#/{html.escape(pill.user_id)}">',
        "</a>",
        replacement=_escape(pill.displayname or pill.user_id, False),
    )


def _escape(text: str, verbatim: bool) -> str:
    escaped = html.escape(text, quote=False)
    return escaped if verbatim else escaped.replace("\n", "<br/>")
