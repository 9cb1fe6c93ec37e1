"""docs/user-guide.md lists every command the bridge has, with the level it needs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where commands are defined: Command("name", ... or Command(\n    "name", ...
SOURCES = ("bridge/commands", "portals", "connectors/telegram")
DEFINED = re.compile(r'Command\(\s*"([a-z-]+)",\s*\w+,\s*(?:f?"[^"]*",\s*)+PermissionLevel\.(\w+)')


def defined_commands() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name, level in DEFINED.findall(path.read_text()):
                found[name] = level.lower()
    return found


def test_the_user_guide_lists_every_command_with_its_level() -> None:
    commands = defined_commands()
    assert {"help", "login", "logout", "pm", "bridge", "login-matrix"} <= set(commands)
    guide = (ROOT / "docs/user-guide.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z-]+)[^`]*` \| (\w+) \|", guide, re.M))
    assert rows == commands
