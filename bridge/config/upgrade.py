"""Upgrade a user's config file in place from the example config.

The example config is the documented source of every key. Keys missing from the user's file are
added at the example's position with the example's comment; the user's values and comments stay
as they were; renamed keys carry their value to the new name.

ruamel.yaml attaches the comment lines that precede a key to the *previous* item (or, for the
first key of a nested map, to the parent's key). Inserting a key therefore has to move that
trailing comment along, or a user's comment would end up above the wrong key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

# ruamel's per-key comment slots: [key, before-key, after-value (trailing), first-child]
_TRAILING = 2
_FIRST_CHILD = 3


@dataclass(frozen=True)
class Rename:
    """A key that moved: its value is carried from ``old`` to ``new`` (dotted paths)."""

    old: str
    new: str


@dataclass
class UpgradeReport:
    added: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.renamed)


def upgrade(
    user: CommentedMap,
    example: CommentedMap,
    example_lines: Sequence[str],
    renames: Sequence[Rename] = (),
    opaque: frozenset[str] = frozenset(),
) -> UpgradeReport:
    """Bring ``user`` (a round-trip loaded document) up to ``example``'s set of keys, in place.

    ``opaque`` names maps whose keys are the user's own (permissions, logging): they are added
    whole when missing and otherwise left alone.
    """
    report = UpgradeReport()
    carried: list[tuple[Rename, Any]] = []
    for rename in renames:
        old_value = _pop_path(user, rename.old)
        if old_value is not _MISSING and _get_path(user, rename.new) is _MISSING:
            carried.append((rename, old_value))
    step = indent_step(user) or indent_step(example) or 4
    ctx = _Context(example_lines, step, report, opaque)
    _merge_missing(user, example, ctx, prefix="", parent=None)
    for rename, value in carried:
        _set_path(user, rename.new, value)
        report.renamed.append((rename.old, rename.new))
        if rename.new in report.added:
            report.added.remove(rename.new)
    return report


class _Missing:
    pass


_MISSING: Any = _Missing()


def _get_path(doc: CommentedMap, path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _pop_path(doc: CommentedMap, path: str) -> Any:
    """Remove a key, dropping parents it leaves empty, and keep the comment that followed it."""
    parts = path.split(".")
    chain: list[tuple[CommentedMap, Any]] = []
    node: Any = doc
    for part in parts:
        if not isinstance(node, CommentedMap) or part not in node:
            return _MISSING
        chain.append((node, part))
        node = node[part]
    value = node
    # Remove the deepest key, then every parent that became empty; the comment that followed a
    # removed key stays in front of whatever follows it now.
    carried = ""
    while chain:
        container, key = chain.pop()
        carried = _remove_key(container, key, carried)
        if len(container) or not chain:
            break
    if carried and chain:
        container, key = chain[-1]
        _append_trailing(_trailing_owner(container, key), carried)
    return value


def _remove_key(container: CommentedMap, key: Any, carried: str) -> str:
    """Delete ``key``; return the comment lines it leaves without an owner (if any)."""
    following = carried + _split_trailing(_trailing_owner(container, key))
    keys = list(container.keys())
    index = keys.index(key)
    del container[key]
    container.ca.items.pop(key, None)
    if not following:
        return ""
    if index > 0:
        _append_trailing(_trailing_owner(container, keys[index - 1]), following)
        return ""
    if len(container):
        container.ca.items.setdefault(keys[1], [None, None, None, None])
        tokens = [CommentToken(line + "\n", CommentMark(0)) for line in following.splitlines()]
        container.ca.items[keys[1]][1] = tokens
        return ""
    return following


def _set_path(doc: CommentedMap, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        if part not in node or not isinstance(node[part], dict):
            node[part] = CommentedMap()
        node = node[part]
    node[last] = value


@dataclass(frozen=True)
class _Context:
    example_lines: Sequence[str]
    step: int
    report: UpgradeReport
    opaque: frozenset[str]


def indent_step(doc: CommentedMap) -> int | None:
    """The mapping indentation a document uses (the column of its first nested map)."""
    for value in doc.values():
        if isinstance(value, CommentedMap) and len(value) and value.lc.col is not None:
            col = int(value.lc.col) - int(doc.lc.col or 0)
            if col > 0:
                return col
    return None


def _merge_missing(
    user: CommentedMap,
    example: CommentedMap,
    ctx: _Context,
    prefix: str,
    parent: tuple[CommentedMap, Any] | None,
) -> None:
    example_keys = list(example.keys())
    column = _column_of(user, parent, ctx.step)
    for index, key in enumerate(example_keys):
        path = f"{prefix}{key}"
        if key in user:
            if path in ctx.opaque:
                continue
            if isinstance(user[key], CommentedMap) and isinstance(example[key], CommentedMap):
                _merge_missing(user[key], example[key], ctx, f"{path}.", (user, key))
            continue
        position = _insert_position(user, example_keys[:index])
        value = _fresh_copy(example[key], ctx, column + ctx.step)
        comment = _comment_before(example, key, ctx.example_lines)
        _insert_with_comment(user, position, key, value, comment, column, parent)
        ctx.report.added.append(path)


def _column_of(user: CommentedMap, parent: tuple[CommentedMap, Any] | None, step: int) -> int:
    if parent is None:
        return 0
    if len(user) and user.lc.col is not None:
        return int(user.lc.col)
    return _column_of(parent[0], None, step) + step


def _insert_position(user: CommentedMap, earlier_example_keys: Sequence[Any]) -> int:
    """Place a key right after the last key that precedes it in the example and exists here."""
    user_keys = list(user.keys())
    for key in reversed(earlier_example_keys):
        if key in user:
            return user_keys.index(key) + 1
    return 0


def _insert_with_comment(
    user: CommentedMap,
    position: int,
    key: Any,
    value: Any,
    comment: list[str],
    column: int,
    parent: tuple[CommentedMap, Any] | None,
) -> None:
    keys_before = list(user.keys())
    user.insert(position, key, value)
    if position > 0:
        # The comment that ruamel keeps after the previous item belongs to whatever followed it;
        # that now follows the inserted item, so the comment moves to the inserted item's end.
        previous_owner = _trailing_owner(user, keys_before[position - 1])
        moved = _split_trailing(previous_owner)
        if moved:
            _append_trailing(_trailing_owner(user, key), moved)
    elif keys_before and parent is not None:
        _move_first_child_comment(user, keys_before[0], parent)
    if comment:
        _set_comment_before(user, key, comment, column)


def _set_comment_before(container: CommentedMap, key: Any, lines: list[str], column: int) -> None:
    container.ca.items.setdefault(key, [None, None, None, None])
    tokens = [CommentToken(line + "\n", CommentMark(column)) for line in lines]
    container.ca.items[key][1] = tokens


def _move_first_child_comment(
    user: CommentedMap, old_first: Any, parent: tuple[CommentedMap, Any]
) -> None:
    """The comment above a map's first key hangs off the parent; keep it above that key."""
    parent_map, parent_key = parent
    slot = parent_map.ca.items.get(parent_key)
    if not slot or not slot[_FIRST_CHILD]:
        return
    tokens = slot[_FIRST_CHILD]
    slot[_FIRST_CHILD] = None
    user.ca.items.setdefault(old_first, [None, None, None, None])
    user.ca.items[old_first][1] = tokens


def _trailing_owner(container: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """The (map, key) whose trailing slot ruamel prints after ``container[key]``'s value."""
    owner, owner_key = container, key
    value = container[key]
    while isinstance(value, CommentedMap) and len(value) > 0:
        owner, owner_key = value, list(value.keys())[-1]
        value = value[owner_key]
    return owner, owner_key


def _split_trailing(owner: tuple[CommentedMap, Any]) -> str:
    """Cut the lines after the end-of-line comment off ``owner``'s trailing comment."""
    container, key = owner
    slot = container.ca.items.get(key)
    if not slot or slot[_TRAILING] is None:
        return ""
    token = slot[_TRAILING]
    text: str = token.value
    newline = text.find("\n")
    if newline < 0:
        return ""
    end_of_line, rest = text[:newline], text[newline + 1 :]
    if not rest:
        return ""
    if end_of_line:
        token.value = end_of_line + "\n"
    else:
        slot[_TRAILING] = None
    return rest


def _append_trailing(owner: tuple[CommentedMap, Any], lines: str) -> None:
    container, key = owner
    container.ca.items.setdefault(key, [None, None, None, None])
    slot = container.ca.items[key]
    existing = slot[_TRAILING]
    if existing is None:
        slot[_TRAILING] = CommentToken("\n" + lines, CommentMark(0))
    else:
        existing.value = existing.value + lines


def _fresh_copy(value: Any, ctx: _Context, column: int) -> Any:
    """Copy an example value without ruamel's position-bound comments, re-adding key comments."""
    if not isinstance(value, CommentedMap):
        return copy.deepcopy(value)
    fresh = CommentedMap()
    for key, child in value.items():
        fresh[key] = _fresh_copy(child, ctx, column + ctx.step)
        comment = _comment_before(value, key, ctx.example_lines)
        if comment:
            _set_comment_before(fresh, key, comment, column)
    return fresh


def _comment_before(container: CommentedMap, key: Any, example_lines: Sequence[str]) -> list[str]:
    """The comment lines directly above ``key`` in the example text, without indentation."""
    line_number: int = container.lc.key(key)[0]
    lines: list[str] = []
    for line in _lines_upwards(example_lines, line_number - 1):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        lines.append(stripped)
    return list(reversed(lines))


def _lines_upwards(lines: Sequence[str], start: int) -> Iterator[str]:
    for number in range(start, -1, -1):
        yield lines[number]
