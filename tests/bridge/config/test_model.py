"""Typed config: validation errors name the key and say what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config.loader import ConfigError, ConfigFile, example_config_text
from bridge.config.model import PermissionLevel, normalize_database_url


def config_with(tmp_path: Path, **values: Any) -> ConfigFile:
    path = tmp_path / "config.yaml"
    path.write_text(example_config_text())
    config_file = ConfigFile.load(path)
    for key, value in values.items():
        config_file.set(key.replace("__", "."), value)
    return config_file


def test_the_example_config_is_valid(tmp_path: Path) -> None:
    config = config_with(tmp_path).typed(["telegram"])
    assert config.appservice.bot_username == "telegrambot"
    assert config.bridge.username_template == "telegram_{userid}"
    assert config.bridge.alias_template == "telegram_{groupname}"
    assert config.bridge.displayname_template == "{displayname} (Telegram)"
    assert config.bridge.command_prefix == "!tg"
    assert config.appservice.database.startswith("sqlite+aiosqlite:///")
    assert config.bridge.permissions["@admin:example.com"] is PermissionLevel.ADMIN
    assert config.networks["telegram"]["api_url"] == "https://api.telegram.org"
    assert config.bot_mxid == "@telegrambot:example.com"
    assert not config.appservice.tokens_generated


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("appservice.port", 70000, "appservice.port: Input should be less than or equal to 65535"),
        ("appservice.port", "http", "appservice.port: Input should be a valid integer"),
        ("homeserver.address", "matrix.org", "homeserver.address: must be an http:// or https://"),
        ("homeserver.domain", "https://x.org", "homeserver.domain: must be a server name"),
        (
            "appservice.bot_username",
            "Bot User",
            "appservice.bot_username: must be a Matrix localpart",
        ),
        ("bridge.username_template", "tg_user", "bridge.username_template: must contain {userid}"),
        ("bridge.alias_template", "tg", "bridge.alias_template: must contain {groupname}"),
        ("bridge.permissions", {"*": "superuser"}, "bridge.permissions: *: must be one of relay"),
        ("appservice.database", "mysql://x/y", "appservice.database: database 'mysql' is not"),
        ("appservice.bot_avatar", "https://x/a.png", "appservice.bot_avatar: must be an mxc://"),
        (
            "homeserver.verify_ssl",
            "maybe",
            "homeserver.verify_ssl: Input should be a valid boolean",
        ),
        (
            "bridge.double_puppet.secrets",
            {"example.com": "shared-secret-xyz"},
            "bridge.double_puppet.secrets: example.com: must be as_token: followed by",
        ),
        (
            "bridge.double_puppet.secrets",
            {"example.com": "as_token:"},
            "bridge.double_puppet.secrets: example.com: must be as_token: followed by",
        ),
        (
            "bridge.double_puppet.servers",
            {"other.org": "other.org"},
            "bridge.double_puppet.servers: other.org: must be an http:// or https:// URL",
        ),
        (
            "bridge.double_puppet.servers",
            {"https://other.org": "https://other.org"},
            "bridge.double_puppet.servers: https://other.org: must be a server name",
        ),
        ("metrics.listen_port", 0, "metrics.listen_port: Input should be greater than or equal"),
        ("metrics.enabled", "perhaps", "metrics.enabled: Input should be a valid boolean"),
        ("bridge.retries.stuck_after", 0, "bridge.retries.stuck_after: Input should be greater"),
        ("bridge.retries.give_up_after", "a day", "bridge.retries.give_up_after: Input should"),
    ],
)
def test_validation_errors_name_the_key(
    tmp_path: Path, key: str, value: Any, expected: str
) -> None:
    config_file = config_with(tmp_path, **{key.replace(".", "__"): value})
    with pytest.raises(ConfigError) as failure:
        config_file.typed(["telegram"])
    assert expected in str(failure.value)


def test_double_puppet_secrets_and_servers(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        bridge__double_puppet__secrets={"example.com": "as_token:abc123"},
        bridge__double_puppet__servers={"other.org": "https://matrix.other.org/"},
    ).typed(["telegram"])
    assert config.bridge.double_puppet.as_token_for("example.com") == "abc123"
    assert config.bridge.double_puppet.as_token_for("other.org") is None
    assert config.bridge.double_puppet.servers == {"other.org": "https://matrix.other.org"}
    # A refused secret is not repeated in the error.
    bad = config_with(tmp_path, bridge__double_puppet__secrets={"example.com": "hunter2-secret"})
    with pytest.raises(ConfigError) as failure:
        bad.typed(["telegram"])
    assert "hunter2-secret" not in str(failure.value)


def test_metrics_default_off_and_need_a_port_of_their_own(tmp_path: Path) -> None:
    config = config_with(tmp_path).typed(["telegram"])
    assert not config.metrics.enabled
    assert (config.metrics.hostname, config.metrics.listen_port) == ("127.0.0.1", 8000)
    # A config from before metrics existed has them off.
    old = config_with(tmp_path)
    del old.document["metrics"]
    assert old.typed(["telegram"]).metrics == config.metrics
    # On, on the appservice's port: refused, saying which ports.
    clash = config_with(tmp_path, metrics__enabled=True, metrics__listen_port=29317)
    with pytest.raises(ConfigError, match=r"metrics: listen_port must differ .*\(29317\)"):
        clash.typed(["telegram"])
    # Off, the port is not used, so it may be anything valid.
    config_with(tmp_path, metrics__listen_port=29317).typed(["telegram"])


def test_retries_have_bounds_also_in_a_config_from_before_them(tmp_path: Path) -> None:
    config = config_with(tmp_path).typed(["telegram"])
    assert (config.bridge.retries.stuck_after, config.bridge.retries.give_up_after) == (
        600,
        86400,
    )
    old = config_with(tmp_path)
    del old.document["bridge"]["retries"]
    assert old.typed(["telegram"]).bridge.retries == config.bridge.retries


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    config_file = config_with(tmp_path)
    del config_file.document["homeserver"]["domain"]
    with pytest.raises(ConfigError, match=r"homeserver\.domain: missing"):
        config_file.typed(["telegram"])


def test_secrets_are_not_repeated_in_errors(tmp_path: Path) -> None:
    config_file = config_with(tmp_path, appservice__as_token=["not", "a", "string"])
    config_file.set("appservice.hs_token", 12345678901)
    with pytest.raises(ConfigError) as failure:
        config_file.typed(["telegram"])
    assert "appservice.hs_token" in str(failure.value)
    assert "12345678901" not in str(failure.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///bridge.db", "sqlite+aiosqlite:///bridge.db"),
        ("sqlite+aiosqlite:////var/lib/b.db", "sqlite+aiosqlite:////var/lib/b.db"),
        ("postgres://u:p@db/bridge", "postgresql+asyncpg://u:p@db/bridge"),
        ("postgresql://u@db:5433/bridge", "postgresql+asyncpg://u@db:5433/bridge"),
        ("postgresql+asyncpg://u@db/bridge", "postgresql+asyncpg://u@db/bridge"),
    ],
)
def test_database_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_invalid_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("homeserver:\n  address: [unclosed\n")
    with pytest.raises(ConfigError) as failure:
        ConfigFile.load(path)
    assert failure.value.describe().startswith(
        f"Config error: {path}, line 2, column 12: this [ is never closed"
    )


@pytest.mark.parametrize(
    "url",
    ["mysql://bridge:hunter2pw@db/telegram", "postgresql://bridge:hunter2pw@db:not-a-port/tg"],
)
def test_a_refused_database_url_is_shown_without_its_password(tmp_path: Path, url: str) -> None:
    config_file = config_with(tmp_path, appservice__database=url)
    with pytest.raises(ConfigError) as failure:
        config_file.typed(["telegram"])
    text = str(failure.value)
    assert "appservice.database" in text and "bridge:<redacted>@db" in text
    assert "hunter2pw" not in text
