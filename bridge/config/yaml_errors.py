"""A YAML mistake told in the admin's words: which line is wrong, what is likely wrong with it
and how to fix it, with the parser's own words after.

The parser reports where it gave up, which is not always where the mistake is: an unclosed quote
or bracket is noticed at the end of the file, a key without its colon on the next line. The
line named here is the one to edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError

# A line that holds a key (``key:`` or ``key: value``), not counting list items' dashes.
_KEY_LINE = re.compile(r"^\s*(- +)?([^#\s][^#]*?):(\s|$)")
_LIST_ITEM = re.compile(r"^\s*- ")
# A key whose value starts with { or [ (group 1: everything before the value).
_BRACKETED_VALUE = re.compile(r"^(\s*(?:- +)?[^#\s{\[][^#]*?:\s+)([{\[])")
_CANNOT_START = re.compile(r"found character '(.)' that cannot start any token")


@dataclass(frozen=True)
class YamlMistake:
    line: int  # counted from 1
    column: int  # counted from 1
    what: str  # in the admin's words, with the fix
    parser: str  # the parser's words

    def place(self, name: str) -> str:
        return f"{name}, line {self.line}, column {self.column}"

    def describe(self) -> str:
        return f"{self.what} (the YAML parser says: {self.parser})"


def explain(error: MarkedYAMLError, text: str) -> YamlMistake:
    lines = text.splitlines()
    problem = error.problem or ""
    context = error.context or ""
    here = error.problem_mark or error.context_mark
    start = error.context_mark or here
    line, column = (here.line, here.column) if here is not None else (0, 0)
    # A duplicate key's message quotes both values: a token's, perhaps.
    problem = re.sub(r'(found duplicate key ".*?").*', r"\1", problem)
    parser = problem + (f" {context}" if context else "")
    if error.context_mark is not None and error.context_mark is not here:
        parser += f" (which starts at line {error.context_mark.line + 1})"

    def at(mark: Any, what: str) -> YamlMistake:
        at_line, at_column = (mark.line, mark.column) if mark is not None else (line, column)
        return YamlMistake(at_line + 1, at_column + 1, what, parser)

    def at_line(number: int, what: str) -> YamlMistake:
        indent = len(lines[number]) - len(lines[number].lstrip()) if number < len(lines) else 0
        return YamlMistake(number + 1, indent + 1, what, parser)

    if "'\\t'" in problem or "tab character" in problem:
        return at(here, "a tab: YAML indents with spaces only; replace the tab with spaces")
    cannot_start = _CANNOT_START.search(problem)
    if cannot_start is not None:
        character = cannot_start.group(1)
        example = "'@admin:example.com'" if character == "@" else f"'{character}...'"
        return at(
            here, f"a key or value that starts with {character} must be quoted, like {example}"
        )
    if problem.startswith("found unexpected end of stream") and "quoted scalar" in context:
        return at(start, "this quote is never closed: end the value with the same quote")
    if "flow sequence" in context and problem.startswith("expected ','"):
        return at(
            start,
            "this [ is never closed, or a value in it holds ': ': close it with ] on the same "
            "line, and quote values that contain ': '",
        )
    if "flow mapping" in context and problem.startswith("expected ','"):
        return at(
            start,
            "this { is never closed, or a value in it holds ': ': close it with } on the same "
            "line, and quote values that contain ': '",
        )
    if problem.startswith("found duplicate key"):
        key = re.search(r'found duplicate key "(.*?)"', problem)
        name = f"the key {key.group(1)}" if key is not None else "a key"
        return at(here, f"{name} is given twice in the same section: keep one of them")
    if problem.startswith("could not find expected ':'"):
        return at(start, "this line has no colon after its key: write key: value")
    bracketed = _BRACKETED_VALUE.match(lines[line]) if line < len(lines) else None
    if bracketed is not None and (
        problem == "mapping values are not allowed here" or "'<scalar>'" in problem
    ):
        # {displayname} (Telegram) unquoted: a map, then text YAML cannot place.
        kind = "map" if bracketed.group(2) == "{" else "list"
        return YamlMistake(
            line + 1,
            len(bracketed.group(1)) + 1,
            f"a value that starts with {bracketed.group(2)} is read as a YAML {kind}: put the "
            "whole value in quotes, like '{displayname} (Telegram)'",
            parser,
        )
    if problem == "mapping values are not allowed here":
        before = _previous_line(lines, line)
        if (
            before is not None
            and not _KEY_LINE.match(lines[before])
            and not _LIST_ITEM.match(lines[before])
        ):
            return at_line(before, "this line has no colon after its key: write key: value")
        return at(
            here,
            "a ': ' YAML cannot take here: quote a value that contains ': ' ('like: this'), "
            "or indent this line as the keys beside it",
        )
    if problem.startswith("expected <block end>"):
        if "'<scalar>'" in problem:
            return at(
                here,
                "more text after a quoted value: put the whole value inside the quotes",
            )
        if "'-'" in problem:
            return at(
                here,
                "a list item (- ...) does not fit here: check its indentation against the "
                "key it belongs to",
            )
        return at(
            here,
            "this line is indented differently from the keys above it: keys of one section "
            "start in the same column",
        )
    if problem == "sequence entries are not allowed here":
        return at(
            here,
            "a list item (- ...) where a value was expected: put the list on the lines "
            "below its key, or quote a value that starts with -",
        )
    if "undefined alias" in problem or "while scanning an alias" in context:
        return at(start, "a value that starts with * must be quoted, like '*...'")
    if "while scanning an anchor" in context:
        return at(start, "a value that starts with & must be quoted, like '&...'")
    if "undefined tag handle" in problem:
        return at(start, "a value that starts with ! must be quoted, for example '!tg'")
    if "unknown escape character" in problem:
        return at(
            here,
            "a backslash in a \"double-quoted\" value: use 'single quotes' for it, or write \\\\",
        )
    return at(here, "YAML cannot read this line: check its indentation and quotes")


def _previous_line(lines: Sequence[str], number: int) -> int | None:
    """The nearest line above ``number`` with content (not blank, not a comment)."""
    for candidate in range(min(number, len(lines)) - 1, -1, -1):
        stripped = lines[candidate].strip()
        if stripped and not stripped.startswith("#"):
            return candidate
    return None


@dataclass(frozen=True)
class Tagged:
    key: str
    line: int  # counted from 1
    column: int
    written: str  # as the admin wrote it: the tag and the value after it

    def place(self, name: str) -> str:
        return f"{name}, line {self.line}, column {self.column}"


def tagged_values(node: Any, prefix: str = "") -> Iterator[Tagged]:
    """Values YAML read as tagged (an unquoted ``!tg``): the text the admin meant is lost."""
    if isinstance(node, CommentedMap):
        entries = [(f"{prefix}{key}", key, value) for key, value in node.items()]
    elif isinstance(node, CommentedSeq):
        entries = [(f"{prefix.removesuffix('.')}[{i}]", i, value) for i, value in enumerate(node)]
    else:
        return
    for path, key, value in entries:
        tag = getattr(getattr(value, "tag", None), "value", None)
        if tag is None:
            yield from tagged_values(value, f"{path}.")
            continue
        line, column = node.lc.value(key) if isinstance(node, CommentedMap) else node.lc.item(key)
        text = value.value if isinstance(value, TaggedScalar) else ""
        written = f"{tag} {text}" if text else str(tag)
        yield Tagged(path, line + 1, column + 1, written)


def describe_tagged(tagged: Tagged, secret: bool) -> str:
    """``secret``: the value is not repeated (a token's key)."""
    example = "'!...'" if secret else f"'{tagged.written}'"
    return (
        f"{tagged.key}: a value that "
        f"starts with ! must be quoted, for example {example} (unquoted, YAML reads it as a "
        "type tag and the text is lost)"
    )
