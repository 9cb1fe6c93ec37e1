"""Rendering text with entities as Telegram HTML, for every entity type."""

from __future__ import annotations

import pytest

from connectors.telegram.formatting import Entity, EntityType, TelegramText, render_telegram_html
from tests.bridge.formatting.markup_check import TELEGRAM_REFERENCES, read_html

T = EntityType
e = Entity

CASES: list[tuple[str, str, list[Entity], str]] = [
    # (id, text, entities, expected)
    ("bold", "ab", [e(T.BOLD, 0, 1)], "<b>a</b>b"),
    ("italic", "ab", [e(T.ITALIC, 1, 1)], "a<i>b</i>"),
    ("underline", "ab", [e(T.UNDERLINE, 0, 2)], "<u>ab</u>"),
    ("strikethrough", "ab", [e(T.STRIKETHROUGH, 0, 2)], "<s>ab</s>"),
    ("spoiler", "ab", [e(T.SPOILER, 0, 2)], '<span class="tg-spoiler">ab</span>'),
    ("code", "a<b", [e(T.CODE, 0, 3)], "<code>a&lt;b</code>"),
    ("pre", "a\nb", [e(T.PRE, 0, 3)], "<pre>a\nb</pre>"),
    (
        "pre-language",
        "x",
        [e(T.PRE, 0, 1, language="c++")],
        '<pre><code class="language-c++">x</code></pre>',
    ),
    ("pre-bad-language", "x", [e(T.PRE, 0, 1, language='a"b')], "<pre>x</pre>"),
    ("blockquote", "q", [e(T.BLOCKQUOTE, 0, 1)], "<blockquote>q</blockquote>"),
    (
        "expandable-blockquote",
        "q",
        [e(T.EXPANDABLE_BLOCKQUOTE, 0, 1)],
        "<blockquote expandable>q</blockquote>",
    ),
    (
        "text-link",
        "x",
        [e(T.TEXT_LINK, 0, 1, url='https://e.org/?a=1&b="2"')],
        '<a href="https://e.org/?a=1&amp;b=&quot;2&quot;">x</a>',
    ),
    ("text-link-without-url", "x", [e(T.TEXT_LINK, 0, 1)], "x"),
    ("text-mention", "Bo", [e(T.TEXT_MENTION, 0, 2, user_id=9)], '<a href="tg://user?id=9">Bo</a>'),
    (
        "custom-emoji",
        "👍",
        [e(T.CUSTOM_EMOJI, 0, 2, custom_emoji_id="5368324170671202286")],
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    ),
    (
        "date-time",
        "soon",
        [e(T.DATE_TIME, 0, 4, unix_time=1700000000, date_time_format="wD")],
        '<tg-time unix="1700000000" format="wD">soon</tg-time>',
    ),
    (
        "date-time-without-format",
        "soon",
        [e(T.DATE_TIME, 0, 4, unix_time=1700000000)],
        '<tg-time unix="1700000000">soon</tg-time>',
    ),
    (
        "detected-by-telegram",
        "@a #b $C /d a@b.c +1",
        [e(T.MENTION, 0, 2), e(T.HASHTAG, 3, 2)],
        "@a #b $C /d a@b.c +1",
    ),
    ("escaping", "<&>\"'", [], "&lt;&amp;&gt;\"'"),
    ("astral-offsets", "😀a😀b", [e(T.BOLD, 2, 3)], "😀<b>a😀</b>b"),
    ("overlap-is-cut", "abc", [e(T.BOLD, 0, 2), e(T.ITALIC, 1, 2)], "<b>a<i>b</i></b><i>c</i>"),
]


@pytest.mark.parametrize(
    ("text", "entities", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_render(text: str, entities: list[Entity], expected: str) -> None:
    rendered = render_telegram_html(TelegramText(text, tuple(entities)))
    assert rendered == expected
    assert read_html(rendered, TELEGRAM_REFERENCES).text == text
