"""Neutral styled text -> plain text, for a network that shows no formatting."""

from __future__ import annotations

from .model import StyledText, StyleKind


def render_plain(styled: StyledText) -> str:
    """The text as it reads without formatting: a link whose text is not its address is
    followed by the address in brackets, and a mention with a name shows that name.

    Of links and mentions that overlap, the one starting first (the outer one on a tie) wins.
    """
    text = styled.text
    out: list[str] = []
    position = 0
    ordered = sorted(
        (s for s in styled.styles if s.kind in (StyleKind.LINK, StyleKind.MENTION)),
        key=lambda s: (s.start, -s.end),
    )
    for style in ordered:
        start, end = max(style.start, 0), min(style.end, len(text))
        if start < position or start >= end:
            continue
        out.append(text[position:start])
        shown = text[start:end]
        if style.kind is StyleKind.MENTION:
            out.append(style.name if style.name is not None else shown)
        else:
            out.append(shown)
            url = style.url or ""
            if url and shown.strip() not in (url, url.removeprefix("mailto:")):
                out.append(f" ({url})")
        position = end
    out.append(text[position:])
    return "".join(out)
