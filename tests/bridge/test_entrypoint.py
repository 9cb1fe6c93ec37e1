"""The container's entrypoint (python -m bridge.entrypoint), run as a process outside a container
with a temporary directory as its /data: the first run writes the config from the environment
and the registration, later runs leave both alone and run the bridge."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bridge.config.loader import ConfigFile
from bridge.entrypoint import VARIABLES
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import SERVER_NAME, AppserviceSetup
from tests.support.bridge_process import bridge_process, terminate, wait_ready
from tests.support.ports import free_port
from tests.support.synapse import SynapseServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:" + "S3cretTokenPart_" * 3
PASSWORD = "db-pa55word-7f3c"

# What docker-compose.yml gives the bridge, with values for a server name of example.org.
COMPOSE_LIKE = {
    "BRIDGE_HOMESERVER_ADDRESS": "http://synapse:8008",
    "BRIDGE_HOMESERVER_DOMAIN": "example.org",
    "BRIDGE_APPSERVICE_ADDRESS": "http://bridge:29317",
    "BRIDGE_APPSERVICE_HOSTNAME": "0.0.0.0",
    "BRIDGE_DATABASE": f"postgresql://bridge:{PASSWORD}@postgres/bridge",
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "BRIDGE_ADMIN": "@alice:example.org",
}


def environment(data: Path, values: dict[str, str]) -> dict[str, str]:
    """The test's environment without any of the entrypoint's variables, then ``values``."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in VARIABLES and key != "BRIDGE_DATA_DIR"
    }
    return {**base, "PYTHONPATH": str(ROOT), "BRIDGE_DATA_DIR": str(data), **values}


def run_entrypoint(
    data: Path, values: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoint", *args],
        cwd=cwd or data.parent,
        env=environment(data, values),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_the_first_run_writes_the_config_and_the_registration(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = run_entrypoint(data, {**COMPOSE_LIKE, "TELEGRAM_API_URL": "http://botapi:8081"})
    assert result.returncode == 0, result.stderr
    config = load(data / "config.yaml")
    assert config["homeserver"]["address"] == "http://synapse:8008"
    assert config["homeserver"]["domain"] == "example.org"
    assert config["appservice"]["address"] == "http://bridge:29317"
    assert config["appservice"]["hostname"] == "0.0.0.0"
    assert config["appservice"]["database"] == f"postgresql://bridge:{PASSWORD}@postgres/bridge"
    assert config["telegram"]["bot_token"] == TOKEN
    assert config["telegram"]["api_url"] == "http://botapi:8081"
    assert config["bridge"]["permissions"] == {
        "*": "relay",
        "example.org": "user",
        "@alice:example.org": "admin",
    }
    # Written the round-trip way: every comment of the example is still there, in order.
    written = (data / "config.yaml").read_text()
    assert comment_lines(written) == comment_lines((ROOT / "config.example.yaml").read_text())

    registration = load(data / "registration.yaml")
    assert registration["as_token"] == config["appservice"]["as_token"]
    assert registration["hs_token"] == config["appservice"]["hs_token"]
    assert len(registration["as_token"]) >= 40
    assert registration["url"] == "http://bridge:29317"
    assert registration["namespaces"]["users"][0]["regex"] == r"@telegram_.+:example\.org"

    # The config holds every secret: the owner's only. The registration: its group's too (the
    # image's group is Synapse's).
    assert (data / "config.yaml").stat().st_mode & 0o777 == 0o600
    assert (data / "registration.yaml").stat().st_mode & 0o777 == 0o640
    assert "app_service_config_files" in result.stderr
    assert "telegram.bot_token (TELEGRAM_BOT_TOKEN)" in result.stderr
    for secret in (TOKEN, PASSWORD, registration["as_token"], registration["hs_token"]):
        assert secret not in result.stdout + result.stderr


def test_a_later_run_leaves_both_files_alone_and_runs_the_bridge(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    homeserver = f"http://127.0.0.1:{free_port()}"  # nothing answers there
    first = {**COMPOSE_LIKE, "BRIDGE_HOMESERVER_ADDRESS": homeserver}
    del first["BRIDGE_DATABASE"]  # the example's SQLite file, relative to the data directory
    assert run_entrypoint(data, first).returncode == 0
    config_before = (data / "config.yaml").read_text()
    registration_before = (data / "registration.yaml").read_text()

    other = {
        **first,
        "BRIDGE_HOMESERVER_ADDRESS": "http://elsewhere:8008",
        "BRIDGE_HOMESERVER_DOMAIN": "other.org",
        "TELEGRAM_BOT_TOKEN": "987654321:" + "B" * 35,
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_entrypoint(data, other, cwd=elsewhere)
    # The bridge ran with the config as written: it tried the first homeserver address.
    assert result.returncode == 1, result.stderr
    assert f"Cannot reach the homeserver at homeserver.address ({homeserver})" in result.stderr
    assert (data / "config.yaml").read_text() == config_before
    assert (data / "registration.yaml").read_text() == registration_before
    # It ran in the data directory: the relative SQLite path landed there.
    assert (data / "matrix-telegram-bridge.db").exists()
    assert not list(elsewhere.iterdir())


def test_a_missing_variable_is_named_and_nothing_is_registered(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    without_token = {k: v for k, v in COMPOSE_LIKE.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = run_entrypoint(data, without_token)
    assert result.returncode == 2
    assert "telegram.bot_token: missing" in result.stderr
    assert "set TELEGRAM_BOT_TOKEN (telegram.bot_token) in the environment" in result.stderr
    assert "Nothing was registered" in result.stderr
    assert not (data / "registration.yaml").exists()
    config = load(data / "config.yaml")
    assert config["homeserver"]["domain"] == "example.org"  # what was given is written
    assert PASSWORD not in result.stderr

    # The admin changes a setting by hand and adds the token to the environment: the token
    # fills the still empty setting, the admin's value stays.
    config_file = ConfigFile.load(data / "config.yaml")
    config_file.set("homeserver.address", "http://matrix.internal:8008")
    config_file.save()
    result = run_entrypoint(data, COMPOSE_LIKE)
    assert result.returncode == 0, result.stderr
    config = load(data / "config.yaml")
    assert config["telegram"]["bot_token"] == TOKEN
    assert config["homeserver"]["address"] == "http://matrix.internal:8008"
    assert load(data / "registration.yaml")["as_token"] == config["appservice"]["as_token"]


def test_without_any_variable_everything_to_fill_in_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = run_entrypoint(data, {})
    assert result.returncode == 2
    # The example as it is: nothing registered, nothing generated into it.
    assert (data / "config.yaml").read_text() == (ROOT / "config.example.yaml").read_text()
    assert result.stderr.startswith(f"Wrote {data / 'config.yaml'} from config.example.yaml.\n")
    assert f"Config error: {data / 'config.yaml'}: 2 problems:\n" in result.stderr
    assert "homeserver.domain: still the example's example.com" in result.stderr
    assert "telegram.bot_token: missing" in result.stderr
    for variable in ("BRIDGE_HOMESERVER_DOMAIN", "TELEGRAM_BOT_TOKEN"):
        assert variable in result.stderr
    assert not (data / "registration.yaml").exists()


def test_a_wrong_database_url_is_named_without_its_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    wrong = {**COMPOSE_LIKE, "BRIDGE_DATABASE": f"mysql://bridge:{PASSWORD}@db/bridge"}
    result = run_entrypoint(data, wrong)
    assert result.returncode == 2
    assert "appservice.database: database 'mysql' is not supported" in result.stderr
    assert "mysql://bridge:<redacted>@db/bridge" in result.stderr
    assert PASSWORD not in result.stderr
    assert not (data / "registration.yaml").exists()


def test_an_admin_that_is_not_a_matrix_id_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = run_entrypoint(data, {**COMPOSE_LIKE, "BRIDGE_ADMIN": "alice"})
    assert result.returncode == 2
    assert "BRIDGE_ADMIN must be a Matrix user ID such as @alice:example.org" in result.stderr
    assert not (data / "registration.yaml").exists()


def test_a_relative_data_directory_keeps_everything_in_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bridge.entrypoint"],
        cwd=tmp_path,
        env={**environment(tmp_path / "data", COMPOSE_LIKE), "BRIDGE_DATA_DIR": "data"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [
        "config.yaml",
        "registration.yaml",
    ]


def test_a_missing_data_directory_is_named(tmp_path: Path) -> None:
    data = tmp_path / "not there"
    result = run_entrypoint(data, COMPOSE_LIKE, cwd=tmp_path)
    assert result.returncode == 1
    assert f"Cannot use the data directory {data}: No such file or directory" in result.stderr
    assert f"chown {os.getuid()}:{os.getgid()}" in result.stderr


def test_generating_again_makes_new_tokens_readable_by_the_group(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert run_entrypoint(data, COMPOSE_LIKE).returncode == 0
    before = load(data / "registration.yaml")
    result = run_entrypoint(data, {}, "-g")
    assert result.returncode == 0, result.stderr
    after = load(data / "registration.yaml")
    assert after["as_token"] != before["as_token"]
    assert after["as_token"] == load(data / "config.yaml")["appservice"]["as_token"]
    assert (data / "registration.yaml").stat().st_mode & 0o777 == 0o640


async def test_the_entrypoint_runs_the_bridge_once_registered(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    async with FakeTelegram(can_read_all_group_messages=True) as fake:
        values = {
            "BRIDGE_HOMESERVER_ADDRESS": synapse.url,
            "BRIDGE_HOMESERVER_DOMAIN": SERVER_NAME,
            "BRIDGE_APPSERVICE_ADDRESS": f"http://127.0.0.1:{appservice_setup.port}",
            "BRIDGE_APPSERVICE_HOSTNAME": "127.0.0.1",
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.url,
        }
        first = await asyncio.to_thread(run_entrypoint, data, values)
        assert first.returncode == 0, first.stderr
        # The session's homeserver loaded a registration made from the same values: the
        # bridge takes its tokens (a real admin restarts Synapse with the new file instead).
        config_file = ConfigFile.load(data / "config.yaml")
        config_file.set("appservice.port", appservice_setup.port)
        config_file.set("appservice.as_token", appservice_setup.as_token)
        config_file.set("appservice.hs_token", appservice_setup.hs_token)
        config_file.set("telegram.poll_timeout", 1)
        config_file.save()

        log_path = tmp_path / "bridge.log"
        async with bridge_process(
            sys.executable,
            *("-m", "bridge.entrypoint"),
            cwd=tmp_path,
            env=environment(data, values),
            log_path=log_path,
        ) as process:
            await wait_ready(appservice_setup.port, process, timeout=60)
            code = await terminate(process)
    output = log_path.read_text()
    assert code == 0, output
    assert f"Bridge started as @telegrambot:{SERVER_NAME}" in output
    for secret in (fake.token, appservice_setup.as_token, appservice_setup.hs_token):
        assert secret not in output
