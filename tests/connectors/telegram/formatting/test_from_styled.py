"""Neutral styled text -> Telegram entities: what Telegram can show of it, in UTF-16."""

from __future__ import annotations

import pytest
from hypothesis import given

from bridge.formatting import Style, StyledText, StyleKind
from connectors.telegram.formatting import (
    Entity,
    EntityType,
    TelegramText,
    Utf16Index,
    render_telegram_html,
    to_telegram_text,
    utf16_len,
)
from tests.bridge.formatting.strategies import styled_texts
from tests.fakes.telegram import parse_telegram_html

K = StyleKind
T = EntityType


def pills(user_id: str) -> int | None:
    return 7 if user_id == "@ghost:e.org" else None


CASES: list[tuple[str, str, list[Style], list[Entity]]] = [
    # (id, text, styles, expected entities)
    (
        "offsets-in-utf16",
        "😀a𝄞b",
        [Style(K.BOLD, 1, 3), Style(K.ITALIC, 0, 1)],
        [Entity(T.ITALIC, 0, 2), Entity(T.BOLD, 2, 3)],
    ),
    (
        "kinds",
        "abcdefg",
        [
            Style(K.UNDERLINE, 0, 1),
            Style(K.STRIKETHROUGH, 1, 2),
            Style(K.SPOILER, 2, 3),
            Style(K.CODE, 3, 4),
            Style(K.PRE, 4, 5, language="go"),
            Style(K.BLOCKQUOTE, 5, 7),
        ],
        [
            Entity(T.UNDERLINE, 0, 1),
            Entity(T.STRIKETHROUGH, 1, 1),
            Entity(T.SPOILER, 2, 1),
            Entity(T.CODE, 3, 1),
            Entity(T.PRE, 4, 1, language="go"),
            Entity(T.BLOCKQUOTE, 5, 2),
        ],
    ),
    (
        "web-and-tg-links",
        "ab",
        [Style(K.LINK, 0, 1, url="https://e.org"), Style(K.LINK, 1, 2, url="tg://resolve?d=x")],
        [
            Entity(T.TEXT_LINK, 0, 1, url="https://e.org"),
            Entity(T.TEXT_LINK, 1, 1, url="tg://resolve?d=x"),
        ],
    ),
    ("mailto-is-text", "a", [Style(K.LINK, 0, 1, url="mailto:a@b.c")], []),
    ("tg-user-link-is-text", "a", [Style(K.LINK, 0, 1, url="tg://user?id=1")], []),
    ("ftp-is-text", "a", [Style(K.LINK, 0, 1, url="ftp://e.org")], []),
    ("spaced-url-is-text", "a", [Style(K.LINK, 0, 1, url="https://e.org/a b")], []),
    (
        "known-mention",
        "Gh",
        [Style(K.MENTION, 0, 2, user_id="@ghost:e.org")],
        [Entity(T.TEXT_MENTION, 0, 2, user_id=7)],
    ),
    ("unknown-mention-is-text", "Al", [Style(K.MENTION, 0, 2, user_id="@al:e.org")], []),
    (
        "nesting-rules-applied",
        "abc",
        [Style(K.BOLD, 0, 3), Style(K.CODE, 1, 2), Style(K.ITALIC, 1, 2)],
        [Entity(T.BOLD, 0, 1), Entity(T.CODE, 1, 1), Entity(T.BOLD, 2, 1)],
    ),
    ("clipped-to-the-text", "ab", [Style(K.BOLD, -1, 9)], [Entity(T.BOLD, 0, 2)]),
    ("empty-dropped", "ab", [Style(K.BOLD, 1, 1), Style(K.BOLD, 2, 1)], []),
]


@pytest.mark.parametrize(
    ("text", "styles", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_to_telegram_text(text: str, styles: list[Style], expected: list[Entity]) -> None:
    assert to_telegram_text(StyledText(text, tuple(styles)), pills) == TelegramText(
        text, tuple(expected)
    )


@given(styled_texts())
def test_entities_fall_on_character_boundaries_in_utf16(styled: StyledText) -> None:
    result = to_telegram_text(styled, pills)
    assert result.text == styled.text
    index = Utf16Index(styled.text)
    boundaries = {index.offset(i) for i in range(len(styled.text) + 1)}
    for entity in result.entities:
        assert entity.length > 0
        assert entity.offset in boundaries
        assert entity.offset + entity.length in boundaries
    text, _ = parse_telegram_html(render_telegram_html(result))
    assert text == result.text


@given(styled_texts())
def test_a_lone_style_keeps_its_exact_range(styled: StyledText) -> None:
    for style in styled.styles:
        start, end = max(style.start, 0), min(style.end, len(styled.text))
        if style.kind is not K.BOLD or start >= end:
            continue
        (entity,) = to_telegram_text(StyledText(styled.text, (style,)), pills).entities
        assert entity.offset == utf16_len(styled.text[:start])
        assert entity.length == utf16_len(styled.text[start:end])
