"""Registration namespaces follow the templates."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.config.loader import ConfigFile, example_config_path
from bridge.registration import alias_namespace, user_namespace


def config_for(tmp_path: Path, **values: str) -> ConfigFile:
    path = tmp_path / "config.yaml"
    path.write_text(example_config_path().read_text())
    config_file = ConfigFile.load(path)
    for key, value in values.items():
        config_file.set(key.replace("__", "."), value)
    return config_file


def test_namespaces_match_ghosts_and_aliases_only(tmp_path: Path) -> None:
    config = config_for(tmp_path, bridge__username_template="tg.{userid}.x").typed(["telegram"])
    users = re.compile(user_namespace(config))
    assert users.fullmatch("@tg.123.x:example.com")
    assert not users.fullmatch("@tgA123Ax:example.com"), "dots are literal"
    assert not users.fullmatch("@tg.123.x:example.org")
    aliases = re.compile(alias_namespace(config))
    assert aliases.fullmatch("#telegram_-100123:example.com")
    assert not aliases.fullmatch("#other:example.com")
