"""Properties of the neutral model's parser and renderers for any input, with hypothesis."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bridge.formatting import (
    LINK,
    Style,
    StyledText,
    StyleKind,
    parse_matrix_html,
    render_matrix_html,
    render_plain,
)

from .markup_check import MATRIX_REFERENCES, read_html
from .strategies import matrix_html, nested_styled_texts, soup, styled_texts, texts

MATRIX_TAGS = {"strong", "em", "u", "del", "span", "code", "pre", "a", "blockquote", "br"}


def key(style: Style) -> tuple[str, int, int, str, str, str]:
    return (
        style.kind,
        style.start,
        style.end,
        style.url or "",
        style.user_id or "",
        style.language or "",
    )


@given(st.one_of(matrix_html, soup, texts))
def test_parsed_styles_lie_within_the_text(formatted: str) -> None:
    parsed = parse_matrix_html(formatted)
    assert all(ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in parsed.text)
    for style in parsed.styles:
        assert 0 <= style.start < style.end <= len(parsed.text)
        assert (style.url is not None) == (style.kind is StyleKind.LINK)
        assert (style.user_id is not None) == (style.kind is StyleKind.MENTION)
        if style.url is not None:
            assert LINK.fullmatch(style.url)


_HREF_STARTS = st.sampled_from(["", "https://", "matrix:u/", "https://matrix.to/#/", "tg:", "a"])


@given(_HREF_STARTS, texts)
def test_a_link_is_an_absolute_url_and_a_mention_a_user_id(start: str, rest: str) -> None:
    href = start + rest
    parsed = parse_matrix_html(f'<a href="{html.escape(href)}">x</a>')
    for style in parsed.styles:
        if style.kind is StyleKind.LINK:
            assert style.url == href.strip()
            assert LINK.fullmatch(style.url)
        else:
            assert style.kind is StyleKind.MENTION
            assert style.user_id is not None
            assert style.user_id.startswith("@")
            assert ":" in style.user_id


@given(nested_styled_texts())
def test_html_round_trip_keeps_text_and_styles(styled: StyledText) -> None:
    rendered = render_matrix_html(styled)
    assert rendered.body == styled.text
    if rendered.html is None:
        assert styled.styles == ()
        return
    parsed = parse_matrix_html(rendered.html)
    assert parsed.text == styled.text
    assert sorted(map(key, parsed.styles)) == sorted(map(key, styled.styles))
    mentioned = {s.user_id for s in styled.styles if s.kind is StyleKind.MENTION}
    assert set(rendered.mentions) == mentioned
    assert len(rendered.mentions) == len(mentioned)


@given(styled_texts(names=False))
def test_any_styles_render_as_balanced_html_with_the_text_intact(styled: StyledText) -> None:
    rendered = render_matrix_html(styled)
    assert rendered.body == styled.text
    if rendered.html is not None:
        read = read_html(rendered.html, MATRIX_REFERENCES)
        assert read.text == styled.text
        assert {element.tag for element in read.elements} <= MATRIX_TAGS
        for element in read.elements:
            assert element.tag != "a" or "a" not in element.ancestors


@given(styled_texts())
def test_plain_text_keeps_all_text_outside_links_and_mentions(styled: StyledText) -> None:
    plain = render_plain(styled)
    replaced = [s for s in styled.styles if s.kind in (StyleKind.LINK, StyleKind.MENTION)]
    if not replaced:
        assert plain == styled.text
    first = min((max(s.start, 0) for s in replaced), default=len(styled.text))
    assert plain.startswith(styled.text[:first])
