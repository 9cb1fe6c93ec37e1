"""Styled text as plain text, case by case."""

from __future__ import annotations

import pytest

from bridge.formatting import Style, StyledText, StyleKind, parse_matrix_html, render_plain

K = StyleKind

CASES: list[tuple[str, str, list[Style], str]] = [
    # (id, text, styles, expected)
    ("no-styles", "hello", [], "hello"),
    ("styles-leave-no-trace", "a b c", [Style(K.BOLD, 0, 1), Style(K.CODE, 2, 3)], "a b c"),
    (
        "link-with-other-text",
        "see docs now",
        [Style(K.LINK, 4, 8, url="https://e.org/d")],
        "see docs (https://e.org/d) now",
    ),
    (
        "link-showing-its-address",
        "at https://e.org",
        [Style(K.LINK, 3, 16, url="https://e.org")],
        "at https://e.org",
    ),
    (
        "mailto-showing-the-address",
        "a@b.org",
        [Style(K.LINK, 0, 7, url="mailto:a@b.org")],
        "a@b.org",
    ),
    ("link-without-url", "x", [Style(K.LINK, 0, 1)], "x"),
    (
        "mention-with-name",
        "hi @bob:e.org!",
        [Style(K.MENTION, 3, 13, user_id="@bob:e.org", name="Bob")],
        "hi Bob!",
    ),
    (
        "mention-without-name",
        "hi Bob",
        [Style(K.MENTION, 3, 6, user_id="@bob:e.org")],
        "hi Bob",
    ),
    (
        "overlapping-links-first-wins",
        "abcdef",
        [Style(K.LINK, 2, 6, url="https://b"), Style(K.LINK, 0, 4, url="https://a")],
        "abcd (https://a)ef",
    ),
    (
        "link-inside-link-outer-wins",
        "abcd",
        [Style(K.LINK, 1, 2, url="https://in"), Style(K.LINK, 0, 4, url="https://out")],
        "abcd (https://out)",
    ),
    (
        "out-of-range-clipped",
        "ab",
        [Style(K.LINK, 1, 9, url="https://e.org")],
        "ab (https://e.org)",
    ),
    ("astral", "😀x😀", [Style(K.LINK, 1, 3, url="https://e.org")], "😀x😀 (https://e.org)"),
]


@pytest.mark.parametrize(
    ("text", "styles", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_render_plain(text: str, styles: list[Style], expected: str) -> None:
    assert render_plain(StyledText(text, tuple(styles))) == expected


def test_from_matrix_html() -> None:
    parsed = parse_matrix_html(
        '<p><b>Hi</b> <a href="https://matrix.to/#/@a:b">Al</a>, read'
        ' <a href="https://e.org">this</a></p><ul><li>one</li></ul>'
    )
    assert render_plain(parsed) == "Hi Al, read this (https://e.org)\n\n• one"
