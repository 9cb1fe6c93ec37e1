"""Matrix ``org.matrix.custom.html`` -> plain text with Telegram entities.

A streaming html.parser handler rather than a tree walk: nesting depth costs a list entry,
never a Python stack frame, and unclosed or stray tags are simply closed or ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

from .entities import Entity, EntityType, TelegramText, utf16_len
from .rules import enforce_telegram_nesting

# Given a Matrix user id from a pill, the Telegram user id of that person, or None.
PillResolver = Callable[[str], int | None]

_STYLE_TAGS = {
    "b": EntityType.BOLD,
    "strong": EntityType.BOLD,
    "i": EntityType.ITALIC,
    "em": EntityType.ITALIC,
    "u": EntityType.UNDERLINE,
    "ins": EntityType.UNDERLINE,
    "s": EntityType.STRIKETHROUGH,
    "strike": EntityType.STRIKETHROUGH,
    "del": EntityType.STRIKETHROUGH,
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
# Not mailto: Telegram reads "mailto:a@b.org" as a web address; it finds e-mails in text itself.
_LINK_SCHEMES = frozenset(("http", "https", "tg"))
_LINK = re.compile(r"([a-z][a-z0-9+.-]*):[^\x00-\x20\x7f]+", re.IGNORECASE)
# Telegram makes a mention of any tg://user link; mentions come from pills only.
_TG_USER_LINK = re.compile(r"tg:(//)?user([/?#]|$)", re.IGNORECASE)
_PILL = re.compile(r"https://matrix\.to/#/([^/?#]+)|matrix:u/([^/?#]+)", re.IGNORECASE)
_USER_ID = re.compile(r"@[^:\s]+:\S+")
_SPACES = re.compile(r"[ \t\n\r\f]+")
_MAX_INDENT = 8
_HR = "———"


@dataclass(slots=True)
class _Frame:
    tag: str
    order: int  # how many elements opened before this one
    start: int  # UTF-16 offset where the element's text starts
    type: EntityType | None = None
    url: str | None = None
    user_id: int | None = None
    language: str | None = None
    block: int = 0
    verbatim: bool = False
    counter: int | None = None  # next number of an <ol>; None for other elements


def clean_text(text: str) -> str:
    """Text Telegram can carry: no control characters but tab and newline, no lone surrogates."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(_clean_char(ch) for ch in text)


def _clean_char(ch: str) -> str:
    if ch in "\n\t":
        return ch
    category = unicodedata.category(ch)
    if category == "Cc":
        return ""
    return "\ufffd" if category == "Cs" else ch


def parse_matrix_html(formatted_body: str, pills: PillResolver) -> TelegramText:
    """The text a Matrix HTML message shows, with the entities Telegram can render of it."""
    parser = _Parser(pills)
    parser.feed(formatted_body)
    parser.close()
    return parser.result()


def pill_targets(formatted_body: str) -> set[str]:
    """The Matrix user ids :func:`parse_matrix_html` will ask its resolver about."""
    targets: set[str] = set()

    def record(user_id: str) -> None:
        targets.add(user_id)

    parse_matrix_html(formatted_body, record)
    return targets


class _Parser(HTMLParser):
    def __init__(self, pills: PillResolver) -> None:
        super().__init__(convert_charrefs=True)
        self._pills = pills
        self._out: list[str] = []
        self._len = 0  # UTF-16 units in _out
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
        # (order of the element, entity): sorted back to opening order, so that entities
        # over the same text nest as their elements did.
        self._entities: list[tuple[int, Entity]] = []

    def result(self) -> TelegramText:
        while self._stack:
            self._close(self._stack.pop())
        self._entities.sort(key=lambda item: item[0])
        entities = enforce_telegram_nesting(entity for _, entity in self._entities)
        return TelegramText("".join(self._out), entities)

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
            frame.type = _STYLE_TAGS[tag]
        elif tag in _HEADINGS:
            frame.type = EntityType.BOLD
        elif tag in ("span", "font") and "data-mx-spoiler" in attrs:
            frame.type = EntityType.SPOILER
        elif tag == "blockquote":
            frame.type = EntityType.BLOCKQUOTE
        elif tag == "pre":
            frame.type, frame.verbatim = EntityType.PRE, True
        elif tag == "code":
            frame.verbatim = True
            parent = self._stack[-1] if self._stack else None
            if parent is not None and parent.tag == "pre" and parent.start == self._len:
                parent.language = _language(attrs.get("class", ""))
            else:
                frame.type = EntityType.CODE
        elif tag == "a":
            self._configure_link(frame, attrs.get("href", "").strip())
        elif tag == "ol":
            frame.counter = _int(attrs.get("start", ""), default=1)

    def _configure_link(self, frame: _Frame, href: str) -> None:
        pill = _PILL.match(href)
        if pill is not None:
            user_id = unquote(pill[1] or f"@{pill[2]}")
            if _USER_ID.fullmatch(user_id):
                telegram_id = self._pills(user_id)
                if telegram_id is not None:
                    frame.type, frame.user_id = EntityType.TEXT_MENTION, telegram_id
                return
        link = _LINK.fullmatch(href)
        allowed = link is not None and link[1].lower() in _LINK_SCHEMES
        if allowed and not _TG_USER_LINK.match(href):
            frame.type, frame.url = EntityType.TEXT_LINK, href

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
        if frame.type is not None and self._len > frame.start:
            entity = Entity(
                frame.type,
                frame.start,
                self._len - frame.start,
                url=frame.url,
                user_id=frame.user_id,
                language=frame.language,
            )
            self._entities.append((frame.order, entity))
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
        self._len += utf16_len(text)
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
