"""Properties that hold for any input, checked with hypothesis."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bridge.formatting import MatrixPill
from connectors.telegram.formatting import (
    Entity,
    matrix_to_telegram,
    matrix_to_telegram_text,
    render_telegram_html,
    split_text,
    telegram_to_matrix,
    utf16_len,
)
from tests.bridge.formatting.markup_check import (
    MATRIX_REFERENCES,
    TELEGRAM_REFERENCES,
    Element,
    read_html,
)
from tests.bridge.formatting.strategies import matrix_html, soup, texts

from .strategies import text_with_entities

MATRIX_TAGS = {"strong", "em", "u", "del", "span", "code", "pre", "a", "blockquote", "br"}
TELEGRAM_TAGS = {"b", "i", "u", "s", "span", "a", "code", "pre", "blockquote", "tg-emoji"}
TELEGRAM_ATTRIBUTES = {
    "span": {"class"},
    "a": {"href"},
    "code": {"class"},
    "blockquote": {"expandable"},
}
# Telegram's nesting rules, as tags: styles not in code; quotes not in quotes or other
# entities; the other entities not in each other.
STYLES = {"b", "i", "u", "s", "span"}
QUOTES = {"blockquote"}


def unknown(target: int | str) -> MatrixPill | None:
    return None


def everyone(target: int | str) -> MatrixPill:
    return MatrixPill(f"@telegram_{target}:example.org", "Name <&>\n")


def ghost_pills(user_id: str) -> int | None:
    return 7 if user_id == "@ghost:example.org" else None


@given(text_with_entities())
def test_telegram_to_matrix_keeps_every_character(case: tuple[str, list[Entity]]) -> None:
    text, entities = case
    result = telegram_to_matrix(text, entities, unknown)
    assert result.body == text
    if result.html is not None:
        read = read_html(result.html, MATRIX_REFERENCES)
        assert read.text == text
        assert {element.tag for element in read.elements} <= MATRIX_TAGS


@given(text_with_entities())
def test_telegram_to_matrix_with_pills_is_well_formed(case: tuple[str, list[Entity]]) -> None:
    text, entities = case
    result = telegram_to_matrix(text, entities, everyone)
    if result.html is not None:
        read = read_html(result.html, MATRIX_REFERENCES)
        assert {element.tag for element in read.elements} <= MATRIX_TAGS
        for element in read.elements:
            assert element.tag != "a" or "a" not in element.ancestors
    assert all(user_id.startswith("@telegram_") for user_id in result.mentions)


def check_telegram_element(element: Element) -> None:
    assert element.tag in TELEGRAM_TAGS
    assert set(element.attrs) <= TELEGRAM_ATTRIBUTES.get(element.tag, set())
    ancestors = set(element.ancestors)
    if element.tag == "code" and "class" in element.attrs:
        assert element.ancestors[-1:] == ("pre",)
        assert str(element.attrs["class"]).startswith("language-")
        return
    if element.tag == "span":
        assert element.attrs == {"class": "tg-spoiler"}
    if element.tag in STYLES:
        assert not ancestors & {"code", "pre"}
        assert element.tag not in ancestors
    elif element.tag in QUOTES:
        assert ancestors <= STYLES
    else:
        assert not ancestors - STYLES - QUOTES


@given(matrix_html, texts, st.integers(2, 60))
def test_matrix_to_telegram_chunks_are_valid_and_lossless(
    formatted: str, body: str, limit: int
) -> None:
    extracted = matrix_to_telegram_text(body, formatted, ghost_pills)
    assert all(
        ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in extracted.text
    )
    chunks = split_text(extracted, limit)
    texts = []
    for chunk in chunks:
        read = read_html(render_telegram_html(chunk), TELEGRAM_REFERENCES)
        assert read.text == chunk.text
        assert utf16_len(read.text) <= limit
        for element in read.elements:
            check_telegram_element(element)
        texts.append(read.text)
    assert "".join(texts) == extracted.text
    visible = [render_telegram_html(chunk) for chunk in chunks if chunk.text.strip()]
    assert matrix_to_telegram(body, formatted, ghost_pills, limit=limit) == visible


@given(st.one_of(matrix_html, soup))
def test_matrix_to_telegram_never_raises_at_the_real_limit(formatted: str) -> None:
    for chunk in matrix_to_telegram("body", formatted, ghost_pills):
        read = read_html(chunk, TELEGRAM_REFERENCES)
        assert 0 < utf16_len(read.text) <= 4096
