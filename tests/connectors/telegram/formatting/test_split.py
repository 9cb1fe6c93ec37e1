"""Splitting long messages to Telegram's limit without losing or breaking anything."""

from __future__ import annotations

import pytest

from connectors.telegram.formatting import (
    TEXT_LIMIT,
    Entity,
    EntityType,
    TelegramText,
    matrix_to_telegram,
    matrix_to_telegram_text,
    split_text,
    utf16_len,
)
from tests.bridge.formatting.markup_check import TELEGRAM_REFERENCES, read_html


def no_pills(user_id: str) -> int | None:
    return None


def send(formatted: str) -> tuple[str, list[str]]:
    """The extracted text and the chunks, checking each chunk on the way."""
    chunks = matrix_to_telegram("", formatted, no_pills)
    texts = []
    for chunk in chunks:
        text = read_html(chunk, TELEGRAM_REFERENCES).text
        assert utf16_len(text) <= TEXT_LIMIT
        texts.append(text)
    extracted = matrix_to_telegram_text("", formatted, no_pills).text
    assert "".join(texts) == extracted
    return extracted, chunks


def test_ten_thousand_characters_with_formatting_across_cuts() -> None:
    sentence = "Some <b>bold words that run on and on</b> and <i>italic ones</i>. "
    extracted, chunks = send(f"<p>{sentence * 200}</p>")
    assert len(extracted) > 10_000
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.count("<b>") == chunk.count("</b>")
    # Cuts fall after a space, and the text reads on in the next piece.
    assert all(read_html(c, TELEGRAM_REFERENCES).text.endswith(" ") for c in chunks[:-1])


def test_bold_crossing_a_cut_continues_in_the_next_piece() -> None:
    _, chunks = send("<b>" + "x" * 5000 + "</b>")
    assert chunks == ["<b>" + "x" * 4096 + "</b>", "<b>" + "x" * 904 + "</b>"]


def test_single_huge_pre_block() -> None:
    code = "\n".join(f"line_{i} = {i} * 2  # <&>" for i in range(600))
    _, chunks = send(f'<pre><code class="language-python">{code}</code></pre>')
    assert len(chunks) == 4
    for chunk in chunks:
        assert chunk.startswith('<pre><code class="language-python">')
        assert chunk.endswith("</code></pre>")
    # Each piece but the last ends a line, as newlines are the preferred cut.
    assert all(read_html(c, TELEGRAM_REFERENCES).text.endswith("\n") for c in chunks[:-1])


def test_only_emoji() -> None:
    _, chunks = send("😀" * 5000)
    assert [len(chunk) for chunk in chunks] == [2048, 2048, 904]
    assert "".join(chunks) == "😀" * 5000


def test_emoji_sequences_are_not_cut() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 UTF-16 units
    pieces = split_text(TelegramText(family * 10), limit=20)
    assert [piece.text for piece in pieces] == [family * 2] * 5


def test_flags_are_not_cut_in_half() -> None:
    flags = "🇺🇦🇯🇵🇧🇷"  # three flags, two regional indicators each
    pieces = split_text(TelegramText(flags * 3), limit=10)
    assert "".join(piece.text for piece in pieces) == flags * 3
    assert all(len(piece.text) % 2 == 0 for piece in pieces)


def test_combining_marks_stay_with_their_letter() -> None:
    text = "e\u0301" * 10
    pieces = split_text(TelegramText(text), limit=5)
    assert [piece.text for piece in pieces] == ["e\u0301e\u0301"] * 5


def test_subdivision_flags_are_not_cut() -> None:
    england = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # 14 units
    pieces = split_text(TelegramText(england * 3), limit=20)
    assert [piece.text for piece in pieces] == [england] * 3


def test_endless_combining_marks_are_cut_anyway() -> None:
    text = "a" + "\u0301" * 100
    pieces = split_text(TelegramText(text), limit=10)
    assert "".join(piece.text for piece in pieces) == text
    assert all(len(piece.text) <= 10 for piece in pieces)


def test_long_text_without_spaces() -> None:
    pieces = split_text(TelegramText("a" * 10_000))
    assert [len(piece.text) for piece in pieces] == [4096, 4096, 1808]


def test_prefers_newline_then_space() -> None:
    text = "aaaa bbbb\ncc dd ee"
    assert [p.text for p in split_text(TelegramText(text), limit=12)] == ["aaaa bbbb\n", "cc dd ee"]
    assert [p.text for p in split_text(TelegramText(text), limit=7)] == [
        "aaaa ",
        "bbbb\n",
        "cc dd ",
        "ee",
    ]


def test_separator_early_in_the_window_is_not_used() -> None:
    text = "a " + "b" * 30
    assert [p.text for p in split_text(TelegramText(text), limit=20)] == [
        "a " + "b" * 18,
        "b" * 12,
    ]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_astral_characters_with_tiny_limits(limit: int) -> None:
    pieces = split_text(TelegramText("😀a😀"), limit=limit)
    assert "".join(p.text for p in pieces) == "😀a😀"
    assert all(utf16_len(p.text) <= max(limit, 2) for p in pieces)


def test_entities_are_sliced_per_piece_in_utf16() -> None:
    text = "😀" * 3 + "abc"
    bold = Entity(EntityType.BOLD, 2, 5)  # from the second emoji to "a"
    link = Entity(EntityType.TEXT_LINK, 7, 2, url="https://e.org")
    pieces = split_text(TelegramText(text, (bold, link)), limit=4)
    assert [p.text for p in pieces] == ["😀😀", "😀ab", "c"]
    assert pieces[0].entities == (Entity(EntityType.BOLD, 2, 2),)
    assert pieces[1].entities == (
        Entity(EntityType.BOLD, 0, 3),
        Entity(EntityType.TEXT_LINK, 3, 1, url="https://e.org"),
    )
    assert pieces[2].entities == (Entity(EntityType.TEXT_LINK, 0, 1, url="https://e.org"),)


def test_short_text_is_returned_as_is() -> None:
    message = TelegramText("hi", (Entity(EntityType.BOLD, 0, 2),))
    assert split_text(message) == [message]
