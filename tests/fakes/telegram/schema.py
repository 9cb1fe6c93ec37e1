"""The official Bot API schema (bot-api-schema/api.json) and checks of JSON values against it.

The schema lists fields and their types only. Fixed values (a ChatMember's `status`, a
ReactionType's `type`) and small enumerations (Chat `type`, MessageEntity `type`, reaction emoji)
live in the field descriptions, so they are extracted from there: that is what lets union members
be resolved and what catches a misspelt discriminator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("bot-api-schema") / "api.json"

_ARRAY = "Array of "
# `Type of the reaction, always "emoji"` / `Scope type, must be chat` at the end of a description.
_CONSTANT_RE = re.compile(r'(?:always|must be)\s+"?([A-Za-z0-9_]+)"?\.?\s*$')
_INTEGER_CONSTANT_RE = re.compile(r"^Always (\d+)\.")
_ENUM_RE = re.compile(r'(?:can be|one of)\s*(?:either\s*)?("[^"]+".*)$')
_QUOTED_RE = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Issue:
    """One way a value departs from the schema; `where` is a dotted path such as `chat.id`."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


def _join(where: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


def describe(value: object) -> str:
    """A short rendering of a value for messages."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


class Schema:
    """Methods and types of one Bot API version, with value checks."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data["version"]
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        self._method_by_lower = {name.lower(): name for name in self.methods}
        self._fields: dict[str, dict[str, Field]] = {}
        for collection in (self.methods, self.types):
            for name, spec in collection.items():
                self._fields[name] = {
                    f["name"]: Field(f["name"], tuple(f["types"]), f["required"], f["description"])
                    for f in spec.get("fields", [])
                }
        self._constants = {name: self._find_constants(name) for name in self.types}
        self._discriminators = {
            name: self._find_discriminator(spec["subtypes"])
            for name, spec in self.types.items()
            if "subtypes" in spec
        }

    # -- lookups ---------------------------------------------------------------------------------

    def canonical_method(self, name: str) -> str | None:
        """The schema's spelling of a method name; Telegram matches names case-insensitively."""
        return self._method_by_lower.get(name.lower())

    def fields(self, method_or_type: str) -> dict[str, Field]:
        return self._fields[method_or_type]

    def returns(self, method: str) -> tuple[str, ...]:
        return tuple(self.methods[method]["returns"])

    def update_types(self) -> list[str]:
        """Names usable in `allowed_updates`: every optional field of Update."""
        return [name for name in self._fields["Update"] if name != "update_id"]

    # -- description-derived facts -----------------------------------------------------------------

    def reaction_emoji(self) -> frozenset[str]:
        """The emoji a reaction may be, as the description of ReactionTypeEmoji.emoji lists
        them ("Currently, it can be one of "❤", "👍", ...")."""
        description = self._fields["ReactionTypeEmoji"]["emoji"].description
        listed = description.split("one of", 1)[-1]
        return frozenset(re.findall(r'"([^"]+)"', listed))

    def chat_actions(self) -> frozenset[str]:
        """The actions sendChatAction takes, as the description of its ``action`` lists them
        ("Choose one, depending on ...: typing for text messages, upload_photo for ...")."""
        description = self._fields["sendChatAction"]["action"].description
        listed = description.split(":", 1)[-1]
        return frozenset(re.findall(r"\b([a-z]+(?:_[a-z]+)*) (?:for|or)\b", listed))

    def _find_constants(self, type_name: str) -> dict[str, str | int]:
        constants: dict[str, str | int] = {}
        for field in self._fields[type_name].values():
            if field.types == ("String",):
                match = _CONSTANT_RE.search(field.description)
                if match and match.group(1) != "present":
                    constants[field.name] = match.group(1)
            elif field.types == ("Integer",):
                match = _INTEGER_CONSTANT_RE.search(field.description)
                if match:
                    constants[field.name] = int(match.group(1))
        return constants

    def _find_discriminator(self, subtypes: Sequence[str]) -> tuple[str, dict[str, str]] | None:
        """The field whose fixed value tells the members of a union apart, if there is one."""
        if not all(sub in self.types for sub in subtypes):
            return None
        names: set[str] | None = None
        for sub in subtypes:
            keys = {k for k, v in self._constants[sub].items() if isinstance(v, str)}
            names = keys if names is None else names & keys
        for name in sorted(names or ()):
            by_value = {str(self._constants[sub][name]): sub for sub in subtypes}
            if len(by_value) == len(subtypes):
                return name, by_value
        return None

    @staticmethod
    def enumeration(field: Field) -> frozenset[str] | None:
        if field.types != ("String",):
            return None
        match = _ENUM_RE.search(field.description)
        if not match:
            return None
        return frozenset(_QUOTED_RE.findall(match.group(1)))

    # -- checks ----------------------------------------------------------------------------------

    def check(self, value: object, types: Iterable[str], where: str = "") -> list[Issue]:
        """Issues of a JSON value that must match one of the type expressions."""
        alternatives = list(types)
        best: list[Issue] | None = None
        for type_expr in alternatives:
            issues = self._check_one(value, type_expr, where)
            if not issues:
                return []
            if best is None or len(issues) < len(best):
                best = issues
        if len(alternatives) > 1 and all(_is_scalar(t) for t in alternatives):
            return [Issue(where, f"expected {' or '.join(alternatives)}, got {describe(value)}")]
        return best or []

    def check_result(self, method: str, result: object) -> list[Issue]:
        return self.check(result, self.returns(method), "result")

    def _check_one(self, value: object, type_expr: str, where: str) -> list[Issue]:
        if type_expr.startswith(_ARRAY):
            if not isinstance(value, list):
                return [Issue(where, f"expected {type_expr}, got {describe(value)}")]
            issues: list[Issue] = []
            for index, item in enumerate(value):
                issues += self.check(item, [type_expr[len(_ARRAY) :]], _join(where, index))
            return issues
        scalar = _check_scalar(value, type_expr)
        if scalar is not None:
            return [] if scalar else [Issue(where, f"expected {type_expr}, got {describe(value)}")]
        spec = self.types.get(type_expr)
        if spec is None:
            return [Issue(where, f"the schema has no type {type_expr}")]
        if "subtypes" in spec:
            return self._check_union(value, type_expr, spec["subtypes"], where)
        return self._check_object(value, type_expr, where)

    def _check_union(
        self, value: object, type_name: str, subtypes: Sequence[str], where: str
    ) -> list[Issue]:
        discriminator = self._discriminators.get(type_name)
        if discriminator is None:
            issues = self.check(value, subtypes, where)
            return [Issue(i.where, f"{i.what} (as a {type_name})") for i in issues]
        key, by_value = discriminator
        if not isinstance(value, dict):
            return [Issue(where, f"expected {type_name} object, got {describe(value)}")]
        tag = value.get(key)
        if not isinstance(tag, str) or tag not in by_value:
            known = ", ".join(sorted(by_value))
            return [
                Issue(
                    _join(where, key),
                    f"cannot resolve {type_name}: {key} {describe(tag)} is not one of {known}",
                )
            ]
        return self._check_object(value, by_value[tag], where)

    def _check_object(self, value: object, type_name: str, where: str) -> list[Issue]:
        if not isinstance(value, dict):
            return [Issue(where, f"expected {type_name} object, got {describe(value)}")]
        fields = self._fields[type_name]
        issues: list[Issue] = []
        for name in value:
            if name not in fields:
                issues.append(Issue(_join(where, name), f"unknown field of {type_name}"))
        for name, field in fields.items():
            path = _join(where, name)
            if name not in value:
                if field.required:
                    issues.append(Issue(path, f"required field of {type_name} is missing"))
                continue
            item = value[name]
            if item is None:
                issues.append(Issue(path, "null is not a value in the Bot API"))
                continue
            issues += self.check(item, field.types, path)
            issues += self._check_fixed(item, type_name, field, path)
        return issues

    def _check_fixed(self, item: object, type_name: str, field: Field, path: str) -> list[Issue]:
        constant = self._constants.get(type_name, {}).get(field.name)
        if constant is not None and item != constant:
            return [
                Issue(path, f"must be {describe(constant)} in {type_name}, got {describe(item)}")
            ]
        allowed = self.enumeration(field)
        if allowed and isinstance(item, str) and item not in allowed:
            return [Issue(path, f"{describe(item)} is not one of the documented values")]
        return []


@cache
def load_schema(path: Path = SCHEMA_PATH) -> Schema:
    """The schema, parsed once per process."""
    with path.open(encoding="utf-8") as f:
        return Schema(json.load(f))


def _is_scalar(type_expr: str) -> bool:
    return type_expr in {"Integer", "Float", "Boolean", "True", "String", "InputFile"}


def _check_scalar(value: object, type_expr: str) -> bool | None:
    """True/False for scalar types, None when the type is not a scalar."""
    if type_expr == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_expr == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_expr == "Boolean":
        return isinstance(value, bool)
    if type_expr == "True":
        return value is True
    if type_expr == "String":
        return isinstance(value, str)
    if type_expr == "InputFile":
        # Inside JSON an uploaded file can only be named, as "attach://<part>".
        return isinstance(value, str) and value.startswith("attach://")
    return None
