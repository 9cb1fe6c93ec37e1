"""Telegram's parse_mode=HTML, as TDLib's parse_html implements it (what the Bot API runs).

The parser walks the UTF-8 bytes: error texts give byte offsets, entity offsets and lengths count
UTF-16 code units. Telegram's quirks are kept on purpose: a `&` that starts no known entity is
literal text, a `;` after an entity is optional, `</>` closes the innermost tag, unknown
attributes are ignored, and an `<a>` whose URL Telegram rejects silently produces no entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .links import checked_link, link_user_id

ERROR_PREFIX = "Bad Request: can't parse entities: "

_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler",
}  # fmt: skip
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
# TDLib's is_space: note NUL, which also stands for the end of the text, and no form feed.
_SPACE = frozenset(b" \t\r\n\x00\x0b")
_DATE_FORMAT_LETTERS = frozenset("tTdDwW")

# Sort order of entities in TDLib (MessageEntity::get_type_priority), by Bot API type name.
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "date_time": 30,
    "text_link": 49, "text_mention": 49, "bold": 90, "italic": 91, "underline": 92,
    "strikethrough": 93, "spoiler": 94, "custom_emoji": 99,
}  # fmt: skip


class TelegramHTMLError(ValueError):
    """Telegram refuses the text; `description` is the Bot API's error description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def entity_sort_key(entity: dict[str, Any]) -> tuple[int, int, int]:
    """Telegram's order: by offset, longer first, then by type priority."""
    return (entity["offset"], -entity["length"], _PRIORITY.get(entity["type"], 50))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    date: int
    utf16_offset: int
    out_pos: int


def _fail(message: str) -> TelegramHTMLError:
    return TelegramHTMLError(ERROR_PREFIX + message)


class _Parser:
    def __init__(self, text: str) -> None:
        self.src = text.encode("utf-8", "surrogatepass")
        self.out = bytearray()
        self.utf16 = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[_Open] = []
        self.surrogates = False

    def at(self, i: int) -> int:
        return self.src[i] if i < len(self.src) else 0

    def decode_entity(self, pos: int) -> tuple[int, int] | None:
        """(code point, position after it) for an HTML entity at pos, None if there is none."""
        end = pos + 1
        code = 0
        if self.at(end) == ord("#"):
            end += 1
            if self.at(end) == ord("x"):
                end += 1
                while self.at(end) and chr(self.at(end)) in "0123456789abcdefABCDEF":
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return None
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            named = _NAMED_ENTITIES.get(self.src[pos + 1 : end])
            if named is None:
                return None
            code = ord(named)
        return code, end + 1 if self.at(end) == ord(";") else end

    def emit_code_point(self, code: int) -> None:
        self.utf16 += 2 if code > 0xFFFF else 1
        if 0xD800 <= code <= 0xDFFF:
            self.surrogates = True
        self.out += chr(code).encode("utf-8", "surrogatepass")

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        i = 0
        size = len(self.src)
        while i < size:
            c = self.src[i]
            if c == ord("&"):
                decoded = self.decode_entity(i)
                if decoded is not None:
                    self.emit_code_point(decoded[0])
                    i = decoded[1]
                    continue
            if c != ord("<"):
                if c & 0xC0 != 0x80:  # first byte of a character; 4-byte ones are surrogate pairs
                    self.utf16 += 2 if c >= 0xF0 else 1
                self.out.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.stack:
            raise _fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # a language is kept only inside <pre>
        self.entities.sort(key=entity_sort_key)
        try:
            text = self.out.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
        return text, self.entities

    def skip_spaces(self, i: int) -> int:
        while self.at(i) != 0 and self.at(i) in _SPACE:
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise _fail(f"Unclosed start tag at byte offset {begin}")
        tag = self.src[begin + 1 : i].decode("utf-8", "replace").lower()
        if tag not in _TAGS:
            raise _fail(f'Unsupported start tag "{tag}" at byte offset {begin}')
        opened = _Open(tag, "", 0, self.utf16, len(self.out))
        while self.at(i) != ord(">"):
            i = self.skip_spaces(i)
            if self.at(i) != ord(">"):
                i = self.attribute(opened, begin, i)
        if tag == "span" and opened.argument != "spoiler":
            raise _fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.stack.append(opened)
        return i + 1

    def attribute(self, opened: _Open, begin: int, i: int) -> int:
        """Read one attribute of a start tag at `begin`; returns the position after it."""
        tag = opened.tag
        name_begin = i
        while self.at(i) not in _SPACE and self.at(i) not in b"=>/\"'":
            i += 1
        name = self.src[name_begin:i].decode("utf-8", "replace")
        if not name:
            raise _fail(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        i = self.skip_spaces(i)
        if self.at(i) != ord("="):
            if self.at(i) == 0:
                raise _fail(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == "expandable":
                opened.argument = "1"
            return i
        i = self.skip_spaces(i + 1)
        if self.at(i) == 0:
            raise _fail(f'Unclosed start tag "{tag}" at byte offset {begin}')
        value, i = self.attribute_value(i)
        if self.at(i) == 0:
            raise _fail(f"Unclosed start tag at byte offset {begin}")
        if tag == "a" and name == "href":
            opened.argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            opened.argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            opened.argument = value[len("tg-") :]
        elif (tag, name) in (("tg-emoji", "emoji-id"), ("tg-time", "format")):
            opened.argument = value
        elif tag == "blockquote" and name == "expandable":
            opened.argument = "1"
        elif tag == "tg-time" and name == "unix":
            opened.date = _leading_integer(value)
        return i

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in (ord('"'), ord("'")):
            # A name token: letters, digits, periods and hyphens, case-insensitive.
            begin = i
            while chr(self.at(i)).isascii() and (chr(self.at(i)).isalnum() or self.at(i) in b".-"):
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ord(">"):
                raise _fail(f"Unexpected end of name token at byte offset {begin}")
            return self.src[begin:i].decode("ascii").lower(), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                decoded = self.decode_entity(i)
                if decoded is not None:
                    value += chr(decoded[0]).encode("utf-8", "surrogatepass")
                    i = decoded[1]
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise _fail(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        end_name = self.src[begin + 2 : i].decode("utf-8", "replace").lower()
        while self.at(i) in _SPACE and self.at(i) != 0:
            i += 1
        if self.at(i) != ord(">"):
            raise _fail(f"Unclosed end tag at byte offset {begin}")
        opened = self.stack.pop()
        if end_name and end_name != opened.tag:
            raise _fail(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.tag}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > opened.utf16_offset:
            self.close(opened)
        return i + 1

    def close(self, opened: _Open) -> None:
        offset = opened.utf16_offset
        entity: dict[str, Any] = {"type": "", "offset": offset, "length": self.utf16 - offset}
        tag = opened.tag
        last = self.entities[-1] if self.entities else None
        same_span = (
            last is not None
            and last["offset"] == entity["offset"]
            and last["length"] == entity["length"]
        )
        if tag in _SIMPLE or tag == "span":
            entity["type"] = _SIMPLE.get(tag, "spoiler")
        elif tag == "tg-emoji":
            emoji_id = _int64(opened.argument)
            if not emoji_id:
                raise _fail("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=str(emoji_id))
        elif tag == "tg-time":
            if any(
                ch not in _DATE_FORMAT_LETTERS for ch in opened.argument
            ) and opened.argument not in ("r", "R"):
                raise _fail("Invalid date format used")
            if opened.date <= 0:
                return
            entity.update(type="date_time", unix_time=opened.date)
            if opened.argument:
                entity["date_time_format"] = opened.argument
        elif tag == "a":
            url = opened.argument or self.out[opened.out_pos :].decode("utf-8", "replace")
            user_id = link_user_id(url)
            if user_id is not None:
                entity.update(type="text_mention", user={"id": user_id})
            else:
                checked = checked_link(url)
                if checked is None:
                    return
                entity.update(type="text_link", url=checked)
        elif tag == "pre":
            if same_span and last is not None and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        elif tag == "code":
            if same_span and last is not None and last["type"] == "pre" and opened.argument:
                last["language"] = opened.argument
                return
            entity["type"] = "code"
            if opened.argument:
                entity["language"] = opened.argument
        else:  # blockquote
            entity["type"] = "expandable_blockquote" if opened.argument else "blockquote"
        self.entities.append(entity)


def _leading_integer(value: str) -> int:
    digits = ""
    for ch in value.lstrip("-")[:10]:
        if not ch.isdigit():
            break
        digits += ch
    number = int(digits) if digits else 0
    return -number if value.startswith("-") else number


def _int64(value: str) -> int:
    """TDLib's to_integer_safe<int64>: the whole string must be an in-range integer, else 0."""
    body = value[1:] if value.startswith("-") else value
    if not body.isascii() or not body.isdigit():
        return 0
    number = int(value)
    return number if -(2**63) <= number < 2**63 else 0


def parse_telegram_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities (sorted as Telegram sorts them) for a parse_mode=HTML text.

    A `tg://user?id=N` link becomes a text_mention whose `user` holds only the id: the server
    fills in the rest (and drops the mention if it does not know the user).
    Raises TelegramHTMLError for what Telegram refuses.
    """
    return _Parser(text).parse()
