"""Text with entities -> Telegram parse-mode HTML (only the tags the Bot API accepts)."""

from __future__ import annotations

import re

from bridge.formatting.nesting import Markup, Span, nest, render

from .entities import Entity, EntityType, TelegramText, Utf16Index, nesting_rank

_SIMPLE_TAGS = {
    EntityType.BOLD: Markup("<b>", "</b>"),
    EntityType.ITALIC: Markup("<i>", "</i>"),
    EntityType.UNDERLINE: Markup("<u>", "</u>"),
    EntityType.STRIKETHROUGH: Markup("<s>", "</s>"),
    EntityType.SPOILER: Markup('<span class="tg-spoiler">', "</span>"),
    EntityType.CODE: Markup("<code>", "</code>"),
    EntityType.BLOCKQUOTE: Markup("<blockquote>", "</blockquote>"),
    EntityType.EXPANDABLE_BLOCKQUOTE: Markup("<blockquote expandable>", "</blockquote>"),
}
_LANGUAGE = re.compile(r"[\w+#.-]{1,64}")


def render_telegram_html(message: TelegramText) -> str:
    """Telegram HTML for ``message``; entities that only Telegram detects render as text."""
    index = Utf16Index(message.text)
    spans: list[Span[Markup]] = []
    for entity in message.entities:
        bounds = index.clip(entity)
        markup = _markup(entity)
        if bounds is not None and markup is not None:
            spans.append(Span(bounds[0], bounds[1], nesting_rank(entity.type), markup))
    return render(message.text, nest(spans), _escape)


def _markup(entity: Entity) -> Markup | None:
    match entity.type:
        case EntityType.PRE:
            if entity.language and _LANGUAGE.fullmatch(entity.language):
                return Markup(f'<pre><code class="language-{entity.language}">', "</code></pre>")
            return Markup("<pre>", "</pre>")
        case EntityType.TEXT_LINK if entity.url:
            return Markup(f'<a href="{_attribute(entity.url)}">', "</a>")
        case EntityType.TEXT_MENTION if entity.user_id is not None:
            return Markup(f'<a href="tg://user?id={entity.user_id}">', "</a>")
        case EntityType.CUSTOM_EMOJI if entity.custom_emoji_id:
            emoji_id = _attribute(entity.custom_emoji_id)
            return Markup(f'<tg-emoji emoji-id="{emoji_id}">', "</tg-emoji>")
        case EntityType.DATE_TIME if entity.unix_time is not None:
            time_format = ""
            if entity.date_time_format:
                time_format = f' format="{_attribute(entity.date_time_format)}"'
            return Markup(f'<tg-time unix="{entity.unix_time}"{time_format}>', "</tg-time>")
    return _SIMPLE_TAGS.get(entity.type)


def _escape(text: str, verbatim: bool = False) -> str:
    # Telegram keeps newlines everywhere, so ``verbatim`` changes nothing here.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    # Telegram knows only four named character references; html.escape would add &#x27;.
    return _escape(value).replace('"', "&quot;")
