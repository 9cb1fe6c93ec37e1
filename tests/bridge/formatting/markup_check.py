"""A strict reader of the HTML our converters write, for checking it in tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# What an escaped text may contain after "&": the character references each side produces.
MATRIX_REFERENCES = ("lt", "gt", "amp", "quot", "#x27")
TELEGRAM_REFERENCES = ("lt", "gt", "amp", "quot")


class MalformedHTML(AssertionError):
    pass


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    ancestors: tuple[str, ...]  # tags of the enclosing elements, outermost first


@dataclass
class ReadHTML:
    text: str  # character references decoded, <br/> read as a newline
    elements: list[Element] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            raise MalformedHTML("<br> must be written <br/>")
        self.elements.append(Element(tag, dict(attrs), tuple(self.stack)))
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br" or attrs:
            raise MalformedHTML(f"unexpected self-closing <{tag}/>")
        self.elements.append(Element(tag, {}, tuple(self.stack)))
        self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise MalformedHTML(f"</{tag}> closes {self.stack[-1:]}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise MalformedHTML(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        raise MalformedHTML(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        raise MalformedHTML(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        raise MalformedHTML(f"declaration {data!r}")


_TAG = re.compile(r"<[^<>]*>")


def read_html(markup: str, references: tuple[str, ...]) -> ReadHTML:
    """Reads ``markup``, raising MalformedHTML unless its tags balance and text is escaped."""
    outside_tags = _TAG.sub("", markup)
    if "<" in outside_tags or ">" in outside_tags:
        raise MalformedHTML(f"unescaped angle bracket in {markup!r}")
    stray = re.search(rf"&(?!(?:{'|'.join(references)});)", markup)
    if stray is not None:
        raise MalformedHTML(f"unexpected character reference at {stray.start()} in {markup!r}")
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    if reader.stack:
        raise MalformedHTML(f"unclosed {reader.stack} in {markup!r}")
    return ReadHTML("".join(reader.text), reader.elements)
