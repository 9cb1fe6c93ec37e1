"""Matrix HTML -> neutral styled text, case by case: what the core reads, before any network
decides what it can show (tests/connectors/telegram/formatting/ follows it to Telegram)."""

from __future__ import annotations

import pytest

from bridge.formatting import Style, StyledText, StyleKind, parse_matrix_html, pill_targets

K = StyleKind

CASES: list[tuple[str, str, StyledText]] = [
    # (id, formatted_body, expected)
    ("text", "hello", StyledText("hello")),
    (
        "styles",
        "<b>b</b><i>i</i><u>u</u><del>d</del>",
        StyledText(
            "biud",
            (
                Style(K.BOLD, 0, 1),
                Style(K.ITALIC, 1, 2),
                Style(K.UNDERLINE, 2, 3),
                Style(K.STRIKETHROUGH, 3, 4),
            ),
        ),
    ),
    ("spoiler", "<span data-mx-spoiler>s</span>", StyledText("s", (Style(K.SPOILER, 0, 1),))),
    ("heading-is-bold", "<h2>T</h2>x", StyledText("T\n\nx", (Style(K.BOLD, 0, 1),))),
    ("offsets-count-code-points", "😀 <b>x</b>", StyledText("😀 x", (Style(K.BOLD, 2, 3),))),
    (
        "pre-with-language",
        '<pre><code class="language-go">a\n</code></pre>',
        StyledText("a", (Style(K.PRE, 0, 1, language="go"),)),
    ),
    ("inline-code", "<code>a  b</code>", StyledText("a  b", (Style(K.CODE, 0, 4),))),
    ("blockquote", "<blockquote>q</blockquote>", StyledText("q", (Style(K.BLOCKQUOTE, 0, 1),))),
    (
        "any-absolute-link-is-kept",
        '<a href="mailto:a@b.org">m</a><a href="tg://user?id=5">t</a>',
        StyledText(
            "mt",
            (
                Style(K.LINK, 0, 1, url="mailto:a@b.org"),
                Style(K.LINK, 1, 2, url="tg://user?id=5"),
            ),
        ),
    ),
    ("relative-link-is-text", '<a href="/x">r</a>', StyledText("r")),
    ("link-with-space-is-text", '<a href="https://e.org/a b">s</a>', StyledText("s")),
    (
        "pill-is-a-mention-of-anyone",
        '<a href="https://matrix.to/#/%40alice%3Ae.org">Alice</a>',
        StyledText("Alice", (Style(K.MENTION, 0, 5, user_id="@alice:e.org"),)),
    ),
    (
        "matrix-uri-pill",
        '<a href="matrix:u/bob:e.org?action=chat">Bob</a>',
        StyledText("Bob", (Style(K.MENTION, 0, 3, user_id="@bob:e.org"),)),
    ),
    (
        "room-link-stays-a-link",
        '<a href="https://matrix.to/#/#r:e.org">#r</a>',
        StyledText("#r", (Style(K.LINK, 0, 2, url="https://matrix.to/#/#r:e.org"),)),
    ),
    (
        "invalid-user-id-is-a-link",
        '<a href="https://matrix.to/#/@bad">x</a>',
        StyledText("x", (Style(K.LINK, 0, 1, url="https://matrix.to/#/@bad"),)),
    ),
    (
        "same-range-keeps-element-order",
        "<u><s>x</s></u><s><u>y</u></s>",
        StyledText(
            "xy",
            (
                Style(K.UNDERLINE, 0, 1),
                Style(K.STRIKETHROUGH, 0, 1),
                Style(K.STRIKETHROUGH, 1, 2),
                Style(K.UNDERLINE, 1, 2),
            ),
        ),
    ),
    (
        "no-network-rules-yet",
        "<code>a<b>b</b></code><b><b>c</b></b>",
        StyledText(
            "abc",
            (Style(K.CODE, 0, 2), Style(K.BOLD, 1, 2), Style(K.BOLD, 2, 3), Style(K.BOLD, 2, 3)),
        ),
    ),
    ("unclosed", "<b>a<i>b", StyledText("ab", (Style(K.BOLD, 0, 2), Style(K.ITALIC, 1, 2)))),
    ("empty-elements-leave-no-style", "<b></b>x<i></i>", StyledText("x")),
    ("reply-fallback-dropped", "<mx-reply>q</mx-reply>a", StyledText("a")),
    ("list", "<ol start='2'><li>a</li><li>b</li></ol>", StyledText("2. a\n3. b")),
]


@pytest.mark.parametrize(
    ("formatted", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_parse_matrix_html(formatted: str, expected: StyledText) -> None:
    assert parse_matrix_html(formatted) == expected


def test_pill_targets_are_the_mentioned_users() -> None:
    html = (
        '<a href="https://matrix.to/#/@a:b">a</a> <a href="matrix:u/b:c">b</a>'
        ' <a href="https://matrix.to/#/#room:c">r</a> <a href="https://matrix.to/#/@bad">x</a>'
        '<mx-reply><a href="https://matrix.to/#/@hidden:c">h</a></mx-reply>'
    )
    assert pill_targets(html) == {"@a:b", "@b:c"}


def test_deep_nesting_does_not_recurse() -> None:
    parsed = parse_matrix_html("<b>" * 50_000 + "x")
    assert parsed.text == "x"
    assert len(parsed.styles) == 50_000
