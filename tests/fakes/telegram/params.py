"""Decoding of a method's parameters as the Bot API receives them, checked against the schema.

Form and multipart bodies carry every value as text: strings as they are, everything else
JSON-encoded, and files as parts named after the parameter (or after an `attach://` reference).
A JSON body carries native values. Both end up as one dict of JSON values plus UploadedFile
objects, and every departure from the method's schema is reported as an Issue.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .schema import Field, Issue, Schema, describe

_INTEGER_RE = re.compile(r"-?\d+")
_ATTACH = "attach://"


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    part: str
    filename: str | None
    content_type: str | None
    data: bytes


class _Undecodable(ValueError):
    pass


def decode_params(
    schema: Schema, method: str, raw: Mapping[str, object]
) -> tuple[dict[str, Any], list[Issue]]:
    """Decode raw request values (str, UploadedFile or, from a JSON body, any JSON value)."""
    fields = schema.fields(method)
    decoded: dict[str, Any] = {}
    issues: list[Issue] = []
    for name, value in raw.items():
        field = fields.get(name)
        if field is None:
            if not isinstance(value, UploadedFile):
                issues.append(Issue(name, f"unknown parameter of {method}"))
            continue
        try:
            decoded[name] = _decode(schema, field, value)
        except _Undecodable as error:
            issues.append(Issue(name, str(error)))
            continue
        if not isinstance(decoded[name], UploadedFile):
            issues += schema.check(decoded[name], field.types, name)
    for name, field in fields.items():
        if field.required and name not in raw:
            issues.append(Issue(name, f"required parameter of {method} is missing"))
    # A file part must be a file parameter or be referenced from a JSON value as attach://part.
    references = {s[len(_ATTACH) :] for s in _strings(decoded) if s.startswith(_ATTACH)}
    for name, value in raw.items():
        if isinstance(value, UploadedFile) and name not in fields and name not in references:
            issues.append(Issue(name, "file part that no parameter refers to"))
    for reference in sorted(references):
        if not isinstance(raw.get(reference), UploadedFile):
            issues.append(Issue(reference, f"{_ATTACH}{reference} names no uploaded file part"))
    return decoded, issues


def _decode(schema: Schema, field: Field, value: object) -> object:
    if isinstance(value, UploadedFile):
        if "InputFile" not in field.types:
            raise _Undecodable(f"a file was uploaded, but the parameter is {_types(field)}")
        return value
    if not isinstance(value, str) or field.types == ("String",):
        return value  # a native JSON value: the schema check judges it
    # Text standing for a non-string value, as form encoding (and Telegram's JSON reader) has it.
    for type_expr in field.types:
        decoded = _decode_text(schema, type_expr, value)
        if decoded is not None:
            return decoded
    if "String" in field.types:
        return value
    raise _Undecodable(f"expected {_types(field)}, got {describe(value)}")


def _decode_text(schema: Schema, type_expr: str, text: str) -> object:
    """The value the text encodes for one type, or None if it does not encode one."""
    if type_expr == "Integer":
        return int(text) if _INTEGER_RE.fullmatch(text) else None
    if type_expr == "Float":
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if type_expr in ("Boolean", "True"):
        return {"true": True, "false": False}.get(text.lower())
    if type_expr in ("String", "InputFile"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    # Keep the decoded JSON even if it is wrong: the schema check then says what is wrong.
    return value if isinstance(value, list | dict) else None


def _types(field: Field) -> str:
    return " or ".join(field.types)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def telegram_description(method: str, issue: Issue) -> str:
    """The 400 description Telegram gives (or would plausibly give) for a bad parameter."""
    name = issue.where.split(".")[0].split("[")[0]
    if "is missing" in issue.what:
        if name == "chat_id":
            return "Bad Request: chat_id is empty"
        if name == "text" and method in ("sendMessage", "editMessageText"):
            return "Bad Request: message text is empty"
        return f'Bad Request: parameter "{name}" is required'
    if issue.what.startswith("unknown parameter"):
        return f'Bad Request: unknown parameter "{name}"'
    detail = issue.what if issue.where == name else str(issue)
    return f"Bad Request: can't parse {name}: {detail}"
