"""appservice.provisioning: its defaults for an old config, what a valid prefix and secret
are, "generate" replaced by a random secret, and the secret kept out of the logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.__main__ import generate_secrets, known_secrets
from bridge.config.loader import ConfigError
from connectors.telegram.connector import TelegramConnector
from tests.bridge.config.test_model import config_with

SECRET = "a-provisioning-secret-long-enough"


def test_the_example_enables_it_with_a_secret_to_generate(tmp_path: Path) -> None:
    provisioning = config_with(tmp_path).typed(["telegram"]).appservice.provisioning
    assert provisioning.enabled and provisioning.prefix == "/_matrix/provision"
    assert provisioning.shared_secret == "generate"
    assert not provisioning.active  # never served with "generate" as its secret


def test_an_old_config_without_the_section_loads_with_it_off(tmp_path: Path) -> None:
    config_file = config_with(tmp_path)
    del config_file.document["appservice"]["provisioning"]
    provisioning = config_file.typed(["telegram"]).appservice.provisioning
    assert not provisioning.enabled and not provisioning.active


def test_a_set_secret_makes_it_active_and_disable_turns_it_off(tmp_path: Path) -> None:
    on = config_with(tmp_path, appservice__provisioning__shared_secret=SECRET)
    assert on.typed(["telegram"]).appservice.provisioning.active
    off = config_with(tmp_path, appservice__provisioning__shared_secret="disable")
    assert not off.typed(["telegram"]).appservice.provisioning.active
    unused = config_with(
        tmp_path,
        appservice__provisioning__shared_secret=SECRET,
        appservice__provisioning__enabled=False,
    )
    assert not unused.typed(["telegram"]).appservice.provisioning.active


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("_matrix/provision", "must be a path"),
        ("/with space", "must be a path"),
        ("/_matrix/app", "must not be under /_matrix/app or /_matrix/mau"),
        ("/_matrix/app/v1/provision", "must not be under"),
        ("/_matrix/mau/provision", "must not be under"),
    ],
)
def test_a_prefix_that_cannot_work_is_refused(tmp_path: Path, prefix: str, problem: str) -> None:
    config_file = config_with(tmp_path, appservice__provisioning__prefix=prefix)
    with pytest.raises(ConfigError) as error:
        config_file.typed(["telegram"])
    assert f"appservice.provisioning.prefix: {problem}" in str(error.value)


def test_a_trailing_slash_is_dropped(tmp_path: Path) -> None:
    config_file = config_with(tmp_path, appservice__provisioning__prefix="/provision/")
    assert config_file.typed(["telegram"]).appservice.provisioning.prefix == "/provision"


def test_a_short_secret_is_refused_without_being_shown(tmp_path: Path) -> None:
    config_file = config_with(tmp_path, appservice__provisioning__shared_secret="hunter2-x")
    with pytest.raises(ConfigError) as error:
        config_file.typed(["telegram"])
    assert "appservice.provisioning.shared_secret: must be at least 16 characters" in str(
        error.value
    )
    assert "hunter2" not in str(error.value)


def test_generate_is_replaced_once_by_a_random_secret(tmp_path: Path) -> None:
    config_file = config_with(tmp_path)
    assert generate_secrets(config_file) == [
        "appservice.provisioning.shared_secret",
        "telegram.webhook.secret_token",
    ]
    first = config_file.get("appservice.provisioning.shared_secret")
    assert first != "generate" and len(first) >= 32
    assert generate_secrets(config_file) == []  # a secret already set stays
    assert config_file.get("appservice.provisioning.shared_secret") == first
    (tmp_path / "other").mkdir()
    other = config_with(tmp_path / "other")
    generate_secrets(other)
    assert other.get("appservice.provisioning.shared_secret") != first


def test_the_secret_is_one_the_logs_never_show(tmp_path: Path) -> None:
    def secrets(enabled: bool) -> list[str]:
        config = config_with(
            tmp_path,
            appservice__provisioning__shared_secret=SECRET,
            appservice__provisioning__enabled=enabled,
        ).typed(["telegram"])
        return known_secrets(config, TelegramConnector())

    assert SECRET in secrets(enabled=True)
    assert SECRET not in secrets(enabled=False)
