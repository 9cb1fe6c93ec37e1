"""Upgrading a user's config in place from config.example.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config.loader import ConfigFile, example_config_text

EXAMPLE = example_config_text()


def upgraded(tmp_path: Path, text: str) -> tuple[str, ConfigFile, bool]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    config_file = ConfigFile.load(path)
    report = config_file.upgrade_from(EXAMPLE)
    config_file.save()
    return path.read_text(), config_file, report.changed


OLD_CONFIG = """\
# My bridge, set up in 2025.
homeserver:
    # Our homeserver, behind the proxy.
    address: https://matrix.mine.org   # keep https
    # The server name.
    domain: mine.org
appservice:
    bot:
        username: mybot
    # I moved the bridge to port 1234.
    port: 1234
bridge:
    permissions:
        '*': user   # everyone here is trusted
telegram:
    bot_token: '123:abc'
"""


def test_missing_key_is_added_with_its_comment(tmp_path: Path) -> None:
    text, _, _ = upgraded(tmp_path, OLD_CONFIG)
    assert (
        "    # Whether to verify the homeserver's TLS certificate. Only turn this off for "
        "testing.\n    verify_ssl: true\n"
    ) in text
    assert (
        "    # The prefix of commands outside your management room (your DM with the bridge bot,"
        " where\n    # commands need no prefix).\n    command_prefix: '!tg'\n"
    ) in text
    # A whole missing section comes with the comments of its keys.
    assert "logging:\n" in text and "        normal:\n" in text


def test_user_values_and_comments_are_kept(tmp_path: Path) -> None:
    text, config_file, _ = upgraded(tmp_path, OLD_CONFIG)
    for line in (
        "# My bridge, set up in 2025.",
        "    # Our homeserver, behind the proxy.",
        "    address: https://matrix.mine.org   # keep https",
        "    # I moved the bridge to port 1234.\n    port: 1234",
        "        '*': user   # everyone here is trusted",
        "    bot_token: '123:abc'",
    ):
        assert line in text, line
    assert config_file.get("appservice.port") == 1234
    # The user's comment stays above the key it described, not above an inserted one.
    assert text.index("# The server name.") == text.index("domain: mine.org") - len(
        "# The server name.\n    "
    )


def test_maps_of_the_users_own_keys_are_not_merged(tmp_path: Path) -> None:
    _, config_file, _ = upgraded(tmp_path, OLD_CONFIG)
    assert dict(config_file.get("bridge.permissions")) == {"*": "user"}


def test_renamed_key_carries_its_value(tmp_path: Path) -> None:
    text, config_file, _ = upgraded(tmp_path, OLD_CONFIG)
    assert config_file.get("appservice.bot_username") == "mybot"
    assert "\n    bot:\n" not in text
    assert "    bot_username: mybot\n" in text and "  username: mybot" not in text


def test_upgrade_is_idempotent_and_keeps_a_complete_config_byte_for_byte(tmp_path: Path) -> None:
    first, _, changed = upgraded(tmp_path, OLD_CONFIG)
    assert changed
    second, _, changed_again = upgraded(tmp_path, first)
    assert not changed_again
    assert second == first
    path = tmp_path / "complete.yaml"
    path.write_text(EXAMPLE)
    config_file = ConfigFile.load(path)
    assert not config_file.upgrade_from(EXAMPLE).changed


@pytest.mark.parametrize("indent", [2, 4])
def test_the_files_indentation_is_kept(tmp_path: Path, indent: int) -> None:
    pad = " " * indent
    text, _, _ = upgraded(tmp_path, f"homeserver:\n{pad}address: http://hs:8008\n")
    assert f"\n{pad}verify_ssl: true\n" in text
    assert f"\n{pad}{pad}normal:\n" in text


def test_unknown_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE + "extra_section: 1\n")
    config_file = ConfigFile.load(path)
    config_file.document["appservice"]["bot_usrname"] = "typo"
    assert config_file.unknown_keys(EXAMPLE, ["telegram"]) == [
        "extra_section",
        "appservice.bot_usrname",
    ]


def test_the_double_puppet_servers_and_secrets_keys_are_the_admin_s(tmp_path: Path) -> None:
    # The server names under them are the admin's, as documented: used, not typos.
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE)
    config_file = ConfigFile.load(path)
    double_puppet = config_file.document["bridge"]["double_puppet"]
    double_puppet["secrets"] = {"example.com": "as_token:abc123"}
    double_puppet["servers"] = {"other.org": "https://matrix.other.org"}
    double_puppet["secret"] = {"example.com": "as_token:abc123"}
    assert config_file.unknown_keys(EXAMPLE, ["telegram"]) == ["bridge.double_puppet.secret"]
    assert config_file.typed(["telegram"]).bridge.double_puppet.as_token_for("example.com")


def test_relay_enabled_is_a_known_key(tmp_path: Path) -> None:
    # The key mautrix bridges use: an admin's false is kept, not reported as unknown.
    text, config_file, _ = upgraded(
        tmp_path, "bridge:\n    relay:\n        enabled: false\ntelegram:\n    bot_token: ''\n"
    )
    assert config_file.unknown_keys(EXAMPLE, ["telegram"]) == []
    assert "enabled: false" in text
    assert config_file.typed(["telegram"]).bridge.relay.enabled is False
    # On by default: Matrix users are relayed by the bot under their own name.
    assert upgraded(tmp_path, "")[1].typed(["telegram"]).bridge.relay.enabled is True


def test_an_old_config_gets_the_metrics_section_off_and_commented(tmp_path: Path) -> None:
    text, config_file, _ = upgraded(tmp_path, OLD_CONFIG)
    assert "metrics:\n    # Whether to serve the metrics.\n    enabled: false\n" in text
    assert text.index("\nmetrics:") < text.index("\nlogging:")
    assert config_file.typed(["telegram"]).metrics.enabled is False
