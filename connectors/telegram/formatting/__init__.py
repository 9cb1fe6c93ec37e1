"""Pure converters between Telegram text with entities and Matrix HTML.

Import :mod:`.ptb` separately for the python-telegram-bot adapter.
"""

from .entities import Entity, EntityType, TelegramText, Utf16Index, utf16_len
from .from_matrix import matrix_to_telegram, matrix_to_telegram_text
from .matrix_html import PillResolver, clean_text, parse_matrix_html, pill_targets
from .split import TEXT_LIMIT, split_text
from .telegram_html import render_telegram_html
from .to_matrix import (
    FormattedText,
    MatrixPill,
    MentionResolver,
    mention_targets,
    telegram_to_matrix,
)

__all__ = [
    "TEXT_LIMIT",
    "Entity",
    "EntityType",
    "FormattedText",
    "MatrixPill",
    "MentionResolver",
    "PillResolver",
    "TelegramText",
    "Utf16Index",
    "clean_text",
    "matrix_to_telegram",
    "matrix_to_telegram_text",
    "mention_targets",
    "parse_matrix_html",
    "pill_targets",
    "render_telegram_html",
    "split_text",
    "telegram_to_matrix",
    "utf16_len",
]
