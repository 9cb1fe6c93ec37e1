"""Network-neutral formatted text: plain text with styled ranges in code points (:mod:`.model`),
read from Matrix HTML (:mod:`.from_html`) and written as Matrix HTML (:mod:`.to_html`) or plain
text (:mod:`.plain`). Each connector renders it to and from its network's own markup."""

from .from_html import LINK, clean_text, parse_matrix_html, pill_targets
from .model import INLINE_STYLES, MatrixPill, Style, StyledText, StyleKind, nesting_rank
from .plain import render_plain
from .to_html import FormattedText, render_matrix_html

__all__ = [
    "INLINE_STYLES",
    "LINK",
    "FormattedText",
    "MatrixPill",
    "Style",
    "StyleKind",
    "StyledText",
    "clean_text",
    "nesting_rank",
    "parse_matrix_html",
    "pill_targets",
    "render_matrix_html",
    "render_plain",
]
