"""The second appservice registration for double puppeting, made the way config.example.yaml
tells an admin to: its commented registration copied out, the placeholders filled in."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from bridge.config.loader import example_config_text
from tests.support.session_log import register_secret


@dataclass(frozen=True)
class DoublePuppetSetup:
    registration: Path
    as_token: str


def registration_from_the_docs(server_name: str) -> str:
    """The registration block of config.example.yaml's double_puppet comment, as text."""
    lines = example_config_text().splitlines()
    start = next(
        i for i, line in enumerate(lines) if re.fullmatch(r"\s*#\s*id: doublepuppet", line)
    )
    indent = lines[start].index("id:")
    block: list[str] = []
    for line in lines[start:]:
        # The block ends where a line's text starts left of the registration's.
        if line[:indent].strip() != "#":
            break
        block.append(line[indent:])
    text = "\n".join(block) + "\n"
    return text.replace("example\\.com", re.escape(server_name))


def make_double_puppet_setup(directory: Path, server_name: str) -> DoublePuppetSetup:
    text = registration_from_the_docs(server_name)
    as_token, hs_token = secrets.token_hex(32), secrets.token_hex(32)
    register_secret(as_token, hs_token)
    text = text.replace("<new random token>", as_token, 1)
    text = text.replace("<another new random token>", hs_token, 1)
    text = re.sub(r"<a random string[^>]*>", secrets.token_hex(16), text, count=1)
    assert "<" not in text, text  # every placeholder the docs name was filled in
    registration = directory / "doublepuppet.yaml"
    registration.write_text(text)
    parsed = YAML(typ="safe").load(text)
    assert parsed["as_token"] == as_token and parsed["url"] is None
    return DoublePuppetSetup(registration, as_token)
