"""Matrix message content -> Telegram parse-mode HTML messages."""

from __future__ import annotations

from bridge.formatting import clean_text, parse_matrix_html

from .entities import TelegramText
from .from_styled import PillResolver, to_telegram_text
from .split import TEXT_LIMIT, split_text
from .telegram_html import render_telegram_html


def matrix_to_telegram(
    body: str, formatted_body: str | None, pills: PillResolver, *, limit: int = TEXT_LIMIT
) -> list[str]:
    """Telegram HTML texts to send in order, each within ``limit`` UTF-16 units once parsed.

    Empty when there is nothing visible to send. Pieces holding only whitespace are left
    out, as Telegram refuses them.
    """
    return [
        render_telegram_html(chunk)
        for chunk in split_text(matrix_to_telegram_text(body, formatted_body, pills), limit)
        if chunk.text.strip()
    ]


def matrix_to_telegram_text(
    body: str, formatted_body: str | None, pills: PillResolver
) -> TelegramText:
    """The whole text with entities, before splitting: for ``entities=`` or for tests.

    The HTML is preferred; the plain body is used when there is none, or when it shows no
    text (say, only an image without alt text).
    """
    if formatted_body is not None:
        parsed = to_telegram_text(parse_matrix_html(formatted_body), pills)
        if parsed.text.strip():
            return parsed
    return TelegramText(clean_text(body))
