"""Telegram text with entities -> Matrix ``body`` and ``org.matrix.custom.html``."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.formatting import FormattedText, render_matrix_html

from .entities import Entity
from .to_styled import MentionResolver, from_telegram_text


def telegram_to_matrix(
    text: str, entities: Sequence[Entity], mentions: MentionResolver
) -> FormattedText:
    """Converts a Telegram message text; the body is ``text`` itself.

    Never raises on hostile entities: they are clipped to the text, and an entity that
    overlaps another only partly is cut in pieces so that tags stay balanced.
    """
    return render_matrix_html(from_telegram_text(text, entities, mentions))
