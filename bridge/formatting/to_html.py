"""Neutral styled text -> Matrix ``body`` and ``org.matrix.custom.html``."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .model import Style, StyledText, StyleKind, nesting_rank
from .nesting import Markup, Span, nest, render


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Matrix message content: the ``body``, and ``formatted_body`` when there is any."""

    body: str
    html: str | None  # None when nothing needs formatting
    mentions: tuple[str, ...] = ()  # Matrix user ids pilled in html, for m.mentions


_SIMPLE_TAGS = {
    StyleKind.BOLD: Markup("<strong>", "</strong>"),
    StyleKind.ITALIC: Markup("<em>", "</em>"),
    StyleKind.UNDERLINE: Markup("<u>", "</u>"),
    StyleKind.STRIKETHROUGH: Markup("<del>", "</del>"),
    StyleKind.SPOILER: Markup("<span data-mx-spoiler>", "</span>"),
    StyleKind.CODE: Markup("<code>", "</code>"),
    StyleKind.BLOCKQUOTE: Markup("<blockquote>", "</blockquote>"),
}
# The schemes Matrix clients are told to keep in links (client-server spec, m.room.message).
_SAFE_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "magnet"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)


def render_matrix_html(styled: StyledText) -> FormattedText:
    """Matrix content for ``styled``; the body is its text itself.

    Never raises on hostile styles: they are clipped to the text, a style that overlaps
    another only partly is cut in pieces so that tags stay balanced, and of links inside
    links the outer one wins. Links with schemes clients would not keep are left out.
    """
    text = styled.text
    spans: list[Span[Markup]] = []
    pilled: dict[Markup, str] = {}  # pill markup -> Matrix user id
    for style in styled.styles:
        start, end = max(style.start, 0), min(style.end, len(text))
        if start >= end:
            continue
        markup = _markup(style)
        if markup is None:
            continue
        if style.kind is StyleKind.MENTION and style.user_id is not None:
            pilled[markup] = style.user_id
        spans.append(Span(start, end, nesting_rank(style.kind), markup))
    if not spans:
        return FormattedText(text, None)
    kept = _without_nested_links(nest(spans))
    mentioned = dict.fromkeys(pilled[s.data] for s in kept if s.data in pilled)
    return FormattedText(text, render(text, kept, _escape), tuple(mentioned))


def _without_nested_links(spans: list[Span[Markup]]) -> list[Span[Markup]]:
    # HTML cannot nest links (only hostile input puts one in another): the outer one wins.
    kept: list[Span[Markup]] = []
    link_end = 0
    for span in spans:
        if span.data.open.startswith("<a "):
            if span.start < link_end:
                continue
            link_end = span.end
        kept.append(span)
    return kept


def _markup(style: Style) -> Markup | None:
    match style.kind:
        case StyleKind.PRE:
            code = "<code>"
            if style.language:
                code = f'<code class="language-{html.escape(style.language)}">'
            return Markup(f"<pre>{code}", "</code></pre>", verbatim=True)
        case StyleKind.LINK:
            return _link(style.url or "")
        case StyleKind.MENTION:
            return _pill(style) if style.user_id is not None else None
    return _SIMPLE_TAGS.get(style.kind)


def _link(url: str) -> Markup | None:
    scheme = _SCHEME.match(url)
    if scheme is None or scheme[1].lower() not in _SAFE_SCHEMES:
        return None
    return Markup(f'<a href="{html.escape(url)}">', "</a>")


def _pill(style: Style) -> Markup:
    replacement = _escape(style.name, False) if style.name is not None else None
    return Markup(
        f'<a href="https://matrix.to/#/{html.escape(style.user_id or "")}">',
        "</a>",
        replacement=replacement,
    )


def _escape(text: str, verbatim: bool) -> str:
    escaped = html.escape(text, quote=False)
    return escaped if verbatim else escaped.replace("\n", "<br/>")
