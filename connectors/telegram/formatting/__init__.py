"""Telegram's side of formatting: text with entities in UTF-16 <-> bridge.formatting's neutral
styled text, Telegram's nesting rules, splitting to its limit, and its parse-mode HTML.

Import :mod:`.ptb` separately for the python-telegram-bot adapter.
"""

from .entities import Entity, EntityType, TelegramText, Utf16Index, utf16_len
from .from_matrix import matrix_to_telegram, matrix_to_telegram_text
from .from_styled import PillResolver, to_telegram_text
from .split import TEXT_LIMIT, split_text
from .telegram_html import render_telegram_html
from .to_matrix import telegram_to_matrix
from .to_styled import MentionResolver, from_telegram_text, mention_targets

__all__ = [
    "TEXT_LIMIT",
    "Entity",
    "EntityType",
    "MentionResolver",
    "PillResolver",
    "TelegramText",
    "Utf16Index",
    "from_telegram_text",
    "matrix_to_telegram",
    "matrix_to_telegram_text",
    "mention_targets",
    "render_telegram_html",
    "split_text",
    "telegram_to_matrix",
    "to_telegram_text",
    "utf16_len",
]
