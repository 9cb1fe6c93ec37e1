"""Neutral styled text -> Matrix HTML, case by case (Telegram's entities reach it through
tests/connectors/telegram/formatting/test_to_matrix.py)."""

from __future__ import annotations

import pytest

from bridge.formatting import Style, StyledText, StyleKind, render_matrix_html

from .markup_check import MATRIX_REFERENCES, read_html

K = StyleKind
PILL = '<a href="https://matrix.to/#/@a:e.org">'

CASES: list[tuple[str, str, list[Style], str | None]] = [
    # (id, text, styles, expected html; None when nothing needs formatting)
    ("plain", "a < b\n", [], None),
    (
        "every-inline-style",
        "bisxc",
        [
            Style(K.BOLD, 0, 1),
            Style(K.ITALIC, 1, 2),
            Style(K.STRIKETHROUGH, 2, 3),
            Style(K.SPOILER, 3, 4),
            Style(K.CODE, 4, 5),
        ],
        "<strong>b</strong><em>i</em><del>s</del><span data-mx-spoiler>x</span><code>c</code>",
    ),
    ("underline", "u", [Style(K.UNDERLINE, 0, 1)], "<u>u</u>"),
    ("newlines-as-br", "a\nb", [Style(K.BOLD, 0, 3)], "<strong>a<br/>b</strong>"),
    (
        "pre-keeps-newlines",
        "a\n<b>",
        [Style(K.PRE, 0, 6, language="c")],
        '<pre><code class="language-c">a\n&lt;b&gt;</code></pre>',
    ),
    ("blockquote", "q", [Style(K.BLOCKQUOTE, 0, 1)], "<blockquote>q</blockquote>"),
    (
        "link",
        "x",
        [Style(K.LINK, 0, 1, url='https://e.org/?a=1&b="')],
        '<a href="https://e.org/?a=1&amp;b=&quot;">x</a>',
    ),
    ("unsafe-link-dropped", "x", [Style(K.LINK, 0, 1, url="javascript:alert(1)")], None),
    ("link-without-url-dropped", "x", [Style(K.LINK, 0, 1)], None),
    ("mention-keeps-its-text", "Al", [Style(K.MENTION, 0, 2, user_id="@a:e.org")], f"{PILL}Al</a>"),
    (
        "mention-with-name-shows-it",
        "@al",
        [Style(K.MENTION, 0, 3, user_id="@a:e.org", name="A <1>"), Style(K.BOLD, 1, 2)],
        f"{PILL}A &lt;1&gt;</a>",
    ),
    ("mention-without-user-dropped", "x", [Style(K.MENTION, 0, 1)], None),
    (
        "link-in-link-outer-wins",
        "abc",
        [Style(K.LINK, 0, 3, url="https://a"), Style(K.MENTION, 1, 2, user_id="@a:e.org")],
        '<a href="https://a">abc</a>',
    ),
    (
        "overlap-is-cut",
        "abc",
        [Style(K.BOLD, 0, 2), Style(K.ITALIC, 1, 3)],
        "<strong>a<em>b</em></strong><em>c</em>",
    ),
    (
        "same-range-earlier-outside",
        "x",
        [Style(K.ITALIC, 0, 1), Style(K.BOLD, 0, 1)],
        "<em><strong>x</strong></em>",
    ),
    (
        "blocks-outside-styles-on-same-range",
        "x",
        [Style(K.CODE, 0, 1), Style(K.BOLD, 0, 1), Style(K.BLOCKQUOTE, 0, 1)],
        "<blockquote><strong><code>x</code></strong></blockquote>",
    ),
    (
        "out-of-range-clipped",
        "ab",
        [Style(K.BOLD, -3, 1), Style(K.ITALIC, 1, 9), Style(K.CODE, 2, 5)],
        "<strong>a</strong><em>b</em>",
    ),
    ("astral", "😀x", [Style(K.BOLD, 0, 1)], "<strong>😀</strong>x"),
]


@pytest.mark.parametrize(
    ("text", "styles", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_render_matrix_html(text: str, styles: list[Style], expected: str | None) -> None:
    result = render_matrix_html(StyledText(text, tuple(styles)))
    assert result.body == text
    assert result.html == expected
    if result.html is not None:
        read_html(result.html, MATRIX_REFERENCES)


def test_mentions_list_each_pilled_user_once_in_order() -> None:
    styles = [
        Style(K.MENTION, 4, 5, user_id="@b:e.org"),
        Style(K.MENTION, 0, 1, user_id="@a:e.org"),
        Style(K.MENTION, 2, 3, user_id="@b:e.org"),
        Style(K.LINK, 6, 7, url="https://matrix.to/#/@c:e.org"),
    ]
    result = render_matrix_html(StyledText("a b b l", tuple(styles)))
    assert result.mentions == ("@a:e.org", "@b:e.org")
