"""The registration: namespaces follow the templates; ephemeral events only when enabled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bridge.config.loader import ConfigFile, example_config_text
from bridge.registration import alias_namespace, build_registration, user_namespace


def config_for(tmp_path: Path, **values: Any) -> ConfigFile:
    path = tmp_path / "config.yaml"
    path.write_text(example_config_text())
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


def test_ephemeral_events_are_asked_for_unless_turned_off(tmp_path: Path) -> None:
    # Typing in Matrix is shown in Telegram: new registrations ask for ephemeral events.
    default = config_for(tmp_path)
    assert default.get("appservice.ephemeral_events") is True
    registration = build_registration(default.typed(["telegram"]), "a" * 40, "b" * 40)
    assert registration["receive_ephemeral"] is True
    # A config written before the key existed gets the same default from the model.
    del default.document["appservice"]["ephemeral_events"]
    assert default.typed(["telegram"]).appservice.ephemeral_events is True

    disabled = config_for(tmp_path, appservice__ephemeral_events=False)
    registration = build_registration(disabled.typed(["telegram"]), "a" * 40, "b" * 40)
    assert "receive_ephemeral" not in registration


def test_the_registration_example_has_the_shape_the_bridge_writes(tmp_path: Path) -> None:
    # registration.example.yaml shows admins what -g writes for the example config: the same
    # keys and values, but for the tokens (random in each real one), and its comments say so.
    root = Path(__file__).resolve().parents[2]
    example_text = (root / "registration.example.yaml").read_text()
    shown = YAML(typ="safe").load(example_text)
    config = config_for(tmp_path).typed(["telegram"])
    written = build_registration(config, shown["as_token"], shown["hs_token"])
    assert shown == written
    assert "off by default" not in example_text
