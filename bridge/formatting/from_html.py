"""Matrix ``org.matrix.custom.html`` -> plain text with styles (:mod:`.model`).

A streaming html.parser handler rather than a tree walk: nesting depth costs a list entry,
never a Python stack frame, and unclosed or stray tags are simply closed or ignored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

from .model import Style, StyledText, StyleKind

_STYLE_TAGS = {
    "b": StyleKind.BOLD,
    "strong": StyleKind.BOLD,
    "i": StyleKind.ITALIC,
    "em": StyleKind.ITALIC,
    "u": StyleKind.UNDERLINE,
    "ins": StyleKind.UNDERLINE,
    "s": StyleKind.STRIKETHROUGH,
    "strike": StyleKind.STRIKETHROUGH,
    "del": StyleKind.STRIKETHROUGH,
}
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# Newlines wanted between a block and what surrounds it.
_BLOCK_TAGS = {
    **dict.fromkeys((*_HEADINGS, "p"), 2),
    **dict.fromkeys(
        ("div", "blockquote", "pre", "ul", "ol", "li", "table", "tr", "hr", "details", "summary"),
        1,
    ),
    **dict.fromkeys(("section", "article", "header", "footer", "dl", "dt", "dd", "figure"), 1),
}
_VOID_TAGS = frozenset(
    ("area", "br", "col", "embed", "hr", "img", "input", "source", "track", "wbr")
)
# Dropped with everything inside: the reply fallback, and content that is not text.
_SKIPPED_TAGS = frozenset(("mx-reply", "script", "style", "template", "head", "title"))
# An absolute URL without spaces; which schemes are safe is each renderer's choice.
LINK = re.compile(r"([a-z][a-z0-9+.-]*):[^\x00-\x20\x7f]+", re.IGNORECASE)
_PILL = re.compile(r"https://matrix\.to/#/([^/?#]+)|matrix:u/([^/?#]+)", re.IGNORECASE)
_USER_ID = re.compile(r"@[^:\s]+:\S+")
_SPACES = re.compile(r"[ \t\n\r\f]+")
_MAX_INDENT = 8
_HR = "———"


@dataclass(slots=True)
class _Frame:
    tag: str
    order: int  # how many elements opened before this one
    start: int  # index in the text where the element's text starts
    kind: StyleKind | None = None
    url: str | None = None
    user_id: str | None = None
    language: str | None = None
    block: int = 0
    verbatim: bool = False
    counter: int | None = None  # next number of an <ol>; None for other elements


def clean_text(text: str) -> str:
    """Text networks can carry: no control characters but tab and newline, no lone surrogates."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(_clean_char(ch) for ch in text)


def _clean_char(ch: str) -> str:
    if ch in "\n\t":
        return ch
    category = unicodedata.category(ch)
    if category == "Cc":
        return ""
    return "\ufffd" if category == "Cs" else ch


def parse_matrix_html(formatted_body: str) -> StyledText:
    """The text a Matrix HTML message shows, with its styles in the order their elements
    opened (so styles over the same text nest as their elements did)."""
    parser = _Parser()
    parser.feed(formatted_body)
    parser.close()
    return parser.result()


def pill_targets(formatted_body: str) -> set[str]:
    """The Matrix user ids the message mentions with pills."""
    parsed = parse_matrix_html(formatted_body)
    return {s.user_id for s in parsed.styles if s.user_id is not None}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._len = 0  # characters in _out
        self._last = ""  # last character written
        self._trailing_newlines = 0
        # Separators are written lazily, just before the next text, so none trails a block.
        self._breaks = 0
        self._space = False
        self._at_item_start = False  # just wrote a list bullet: blocks need no new line
        self._stack: list[_Frame] = []
        self._open_tags: dict[str, int] = {}
        self._lists: list[_Frame] = []
        self._verbatim = 0
        self._skipping: str | None = None
        self._skip_depth = 0
        self._opened = 0
        # (order of the element, style): sorted back to opening order.
        self._styles: list[tuple[int, Style]] = []

    def result(self) -> StyledText:
        while self._stack:
            self._close(self._stack.pop())
        self._styles.sort(key=lambda item: item[0])
        return StyledText("".join(self._out), tuple(style for _, style in self._styles))

    # html.parser callbacks

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # CPython 3.11 raises AssertionError on a malformed "<![": skip it to the next ">"
        # as browsers do (a bogus comment), whether or not it is a well-formed CDATA section.
        return self.parse_bogus_comment(i, report)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping is not None:
            self._skip_depth += tag == self._skipping
            return
        if tag in _SKIPPED_TAGS:
            self._skipping, self._skip_depth = tag, 1
            return
        attributes = {name: value or "" for name, value in attrs}
        if tag in _VOID_TAGS:
            self._void(tag, attributes)
            return
        frame = _Frame(tag, self._opened, self._len, block=_BLOCK_TAGS.get(tag, 0))
        self._opened += 1
        if tag == "p" and self._lists:
            frame.block = 1  # paragraphs of a list item: no blank line between them
        self._configure(frame, attributes)
        if frame.block:
            self._block(frame.block)
        if tag == "li":
            self._bullet()
        elif tag in ("td", "th"):
            self._separate()
        frame.start = self._len
        self._stack.append(frame)
        self._open_tags[tag] = self._open_tags.get(tag, 0) + 1
        if frame.counter is not None or tag == "ul":
            self._lists.append(frame)
        self._verbatim += frame.verbatim

    def handle_endtag(self, tag: str) -> None:
        if self._skipping is not None:
            self._skip_depth -= tag == self._skipping
            if self._skip_depth == 0:
                self._skipping = None
            return
        if not self._open_tags.get(tag):
            return  # a stray end tag
        while True:
            frame = self._stack.pop()
            self._close(frame)
            if frame.tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._skipping is not None:
            return
        data = clean_text(data)
        if self._verbatim:
            # Trailing newlines become pending breaks, so a code block does not end with one.
            body = data.rstrip("\n")
            if body:
                self._write(body)
            self._breaks += len(data) - len(body)
            return
        for i, word in enumerate(_SPACES.split(data)):
            if i:
                self._separate()
            if word:
                self._write(word)

    # element handling

    def _configure(self, frame: _Frame, attrs: dict[str, str]) -> None:
        tag = frame.tag
        if tag in _STYLE_TAGS:
            frame.kind = _STYLE_TAGS[tag]
        elif tag in _HEADINGS:
            frame.kind = StyleKind.BOLD
        elif tag in ("span", "font") and "data-mx-spoiler" in attrs:
            frame.kind = StyleKind.SPOILER
        elif tag == "blockquote":
            frame.kind = StyleKind.BLOCKQUOTE
        elif tag == "pre":
            frame.kind, frame.verbatim = StyleKind.PRE, True
        elif tag == "code":
            frame.verbatim = True
            parent = self._stack[-1] if self._stack else None
            if parent is not None and parent.tag == "pre" and parent.start == self._len:
                parent.language = _language(attrs.get("class", ""))
            else:
                frame.kind = StyleKind.CODE
        elif tag == "a":
            self._configure_link(frame, attrs.get("href", "").strip())
        elif tag == "ol":
            frame.counter = _int(attrs.get("start", ""), default=1)

    def _configure_link(self, frame: _Frame, href: str) -> None:
        pill = _PILL.match(href)
        if pill is not None:
            user_id = unquote(pill[1] or f"@{pill[2]}")
            if _USER_ID.fullmatch(user_id):
                frame.kind, frame.user_id = StyleKind.MENTION, user_id
                return
        if LINK.fullmatch(href):
            frame.kind, frame.url = StyleKind.LINK, href

    def _void(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "br":
            if self._len:
                self._breaks += 1
                self._space = False
        elif tag == "hr":
            self._block(1)
            self._write(_HR)
            self._block(1)
        elif tag == "img":
            self.handle_data(attrs.get("alt", ""))

    def _close(self, frame: _Frame) -> None:
        self._open_tags[frame.tag] -= 1
        self._verbatim -= frame.verbatim
        if self._lists and self._lists[-1] is frame:
            self._lists.pop()
        if frame.kind is not None and self._len > frame.start:
            style = Style(
                frame.kind,
                frame.start,
                self._len,
                url=frame.url,
                user_id=frame.user_id,
                language=frame.language,
            )
            self._styles.append((frame.order, style))
        if frame.block:
            self._block(frame.block)

    def _bullet(self) -> None:
        depth = len(self._lists)
        indent = "  " * min(max(depth - 1, 0), _MAX_INDENT)
        top = self._lists[-1] if self._lists else None
        if top is not None and top.counter is not None:
            bullet = f"{top.counter}. "
            top.counter += 1
        else:
            bullet = "• "
        self._write(indent + bullet)
        self._at_item_start = True

    # output

    def _block(self, newlines: int) -> None:
        """Asks for the next text to start ``newlines`` lines below the current one."""
        if self._len and not self._at_item_start:
            self._breaks = max(self._breaks, newlines - self._trailing_newlines)
            self._space = False

    def _separate(self) -> None:
        if self._len and not self._breaks and self._last not in (" ", "\n", ""):
            self._space = True

    def _write(self, text: str) -> None:
        separator = ""
        if self._len:
            separator = "\n" * self._breaks if self._breaks else " " * self._space
        self._breaks, self._space, self._at_item_start = 0, False, False
        if separator:
            before = self._len
            self._append(separator)
            # Elements opened since the last text start after the separator, not before it.
            for frame in reversed(self._stack):
                if frame.start != before:
                    break
                frame.start = self._len
        self._append(text)

    def _append(self, text: str) -> None:
        self._out.append(text)
        self._len += len(text)
        self._last = text[-1]
        stripped = text.rstrip("\n")
        if stripped:
            self._trailing_newlines = len(text) - len(stripped)
        else:
            self._trailing_newlines += len(text)


def _language(css_class: str) -> str | None:
    for name in css_class.split():
        if name.startswith("language-") and len(name) > len("language-"):
            return name[len("language-") :]
    return None


def _int(text: str, default: int) -> int:
    try:
        return max(0, min(int(text), 10**9))
    except ValueError:
        return default
