"""docs/admin-guide.md stays honest: every error it quotes is one the bridge can print, every
setting it names exists, and README links to it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "admin-guide.md"
SOURCES = ("bridge", "portals", "connectors")

FILE_EXTENSIONS = frozenset({"yaml", "yml", "md", "db", "py", "txt", "json"})

HOLE = "\x00"  # a part of a message filled in when it is printed
_PERCENT = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdfr]")


def section(title: str) -> str:
    text = GUIDE.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def quoted_errors() -> list[str]:
    """The fenced blocks of the errors section, each one message."""
    return re.findall(r"```\n(.*?)\n```", section("The ten most likely errors"), re.S)


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            constants[node.targets[0].id] = node.value.value
    return constants


def _strings(path: Path) -> Iterator[str]:
    """Each string literal of a module, with the parts filled in at run time as HOLE (a
    module-level string constant is filled in with its value)."""
    tree = ast.parse(path.read_text())
    constants = _module_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield _PERCENT.sub(HOLE, node.value)
        elif isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(_PERCENT.sub(HOLE, str(value.value)))
                elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                    parts.append(constants.get(value.value.id, HOLE))
                else:
                    parts.append(HOLE)
            yield "".join(parts)


@cache
def message_patterns() -> tuple[tuple[re.Pattern[str], int], ...]:
    """Every string of the package as a pattern (each hole matches some text), with the number
    of its literal characters."""
    patterns = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for string in _strings(path):
                text = re.sub(f"{HOLE}+", HOLE, normalized(string))
                literal = len(text.replace(HOLE, ""))
                if literal >= 2:
                    pieces = (re.escape(piece) for piece in text.split(HOLE))
                    patterns[text] = (re.compile("(.+?)".join(pieces)), literal)
    return tuple(patterns.values())


def explained(message: str) -> int:
    """How many characters of ``message`` come from the package's strings (0: not a message
    the package can print). A hole may hold a value (no spaces: an address, a key), a
    placeholder of the guide, or another of the package's messages."""
    best = 0
    for pattern, literal in message_patterns():
        match = pattern.fullmatch(message)
        if match is None:
            continue
        covered = literal
        for filler in match.groups():
            if " " not in filler:
                continue
            inner = explained(filler) if len(filler) < len(message) else 0
            if not inner:
                break
            covered += inner
        else:
            best = max(best, covered)
    return best


def as_printed(quote: str) -> str:
    """The guide's <placeholders> stand for values."""
    return re.sub(r"<[^<>]+>", "value", normalized(quote))


def test_the_guide_quotes_ten_errors_each_with_its_fix() -> None:
    errors = section("The ten most likely errors")
    headings = re.findall(r"^### (\d+)\. ", errors, re.M)
    assert headings == [str(number) for number in range(1, 11)]
    for entry in re.split(r"^### ", errors, flags=re.M)[1:]:
        assert "```\n" in entry, entry.splitlines()[0]
        prose = re.sub(r"```.*?```", "", entry, flags=re.S)
        assert len(prose.split()) > 20, f"the cause and the fix: {entry.splitlines()[0]}"


def test_every_quoted_error_is_printed_by_the_bridge() -> None:
    quotes = quoted_errors()
    assert len(quotes) >= 10
    for quote in quotes:
        message = as_printed(quote)
        covered = explained(message)
        assert covered >= 0.6 * len(message), f"not a message of the bridge: {quote}"


def test_the_check_tells_a_made_up_error_from_a_real_one() -> None:
    real = as_printed(
        "Cannot reach the homeserver at homeserver.address (<address>): <reason>. Check the "
        "address and that the homeserver is running."
    )
    assert explained(real) >= 0.6 * len(real)
    for made_up in (
        "Cannot reach the homeserver at homeserver.address (value): value. Check the firewall.",
        "The bridge could not start because something went wrong.",
        "telegram.bot_token: is not accepted by the bridge for some reason",
    ):
        assert explained(made_up) < 0.6 * len(made_up), made_up


def example_keys() -> set[str]:
    document = YAML(typ="safe").load((ROOT / "config.example.yaml").read_text())
    keys: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}{key}"
                keys.add(path)
                walk(value, f"{path}.")

    walk(document, "")
    return keys


def test_every_setting_the_guide_names_exists() -> None:
    keys = example_keys()
    sections = {key for key in keys if "." not in key} | {"metrics"}
    named = set()
    for code in re.findall(r"`([^`\n]+)`", GUIDE.read_text()):
        # `key` or `key: value`
        candidate = code.split(":")[0].strip()
        parts = candidate.split(".")
        if (
            re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", candidate)
            and parts[0] in sections
            and parts[-1] not in FILE_EXTENSIONS  # homeserver.yaml is a file
        ):
            named.add(candidate)
    assert {"homeserver.domain", "telegram.bot_token", "appservice.database"} <= named
    missing = named - keys
    assert not missing, f"named in the guide, not in config.example.yaml: {sorted(missing)}"


def test_readme_links_to_the_guide() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/admin-guide.md)" in readme
    guide = GUIDE.read_text()
    for link in re.findall(r"\]\((?!https?:|#)([^)]+)\)", guide):
        assert (GUIDE.parent / link).resolve().exists(), link
