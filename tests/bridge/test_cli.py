"""The command line, run as admins run it: python -m bridge."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from bridge import __version__
from bridge.config.loader import ConfigFile
from bridge.db.migrate import head_revision
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_and_help(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert __version__ in result.stdout
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("-c", "-r", "-g", "--version"):
        assert option in result.stdout


def test_first_run_writes_the_config_and_says_what_to_fill_in(tmp_path: Path) -> None:
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    # Writing the config is what a first run can do: done, it is no failure.
    assert result.returncode == 0, result.stderr
    written = tmp_path / "config.yaml"
    assert written.read_text() == (ROOT / "config.example.yaml").read_text()
    assert written.stat().st_mode & 0o077 == 0, "the config will hold tokens: owner-only"
    for key in (
        "homeserver.address",
        "homeserver.domain",
        "appservice.address",
        "telegram.bot_token",
        "-g",
    ):
        assert key in result.stderr


def test_a_config_that_cannot_be_written_or_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run_cli("-c", "a-file/config.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Cannot write the config file a-file/config.yaml: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    (tmp_path / "a-directory").mkdir()
    result = run_cli("-c", "a-directory", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "Config error: a-directory: cannot read it: Is a directory\n"


def test_running_before_generating_the_registration_says_so(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "not generated yet" in result.stderr and "-g" in result.stderr


def test_generate_registration(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_path = tmp_path / "config.yaml"
    config_file = ConfigFile.load(config_path)
    config_file.set("homeserver.domain", "example.org")
    config_file.set("appservice.address", "http://bridge.internal:29317")
    config_file.set("appservice.ephemeral_events", True)
    config_file.set("telegram.bot_token", "123456789:" + "A" * 35)
    config_file.save()

    result = run_cli("-c", "config.yaml", "-r", "reg.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "app_service_config_files" in result.stderr
    assert "chmod 640 reg.yaml" in result.stderr  # the homeserver may run as another user
    registration = YAML(typ="safe").load((tmp_path / "reg.yaml").read_text())
    saved = ConfigFile.load(config_path)
    assert registration["as_token"] == saved.get("appservice.as_token")
    assert registration["hs_token"] == saved.get("appservice.hs_token")
    assert registration["as_token"] != registration["hs_token"]
    assert len(registration["as_token"]) >= 40
    assert registration["id"] == "telegram"
    assert registration["url"] == "http://bridge.internal:29317"
    assert registration["sender_localpart"] == "telegrambot"
    assert registration["rate_limited"] is False
    assert registration["receive_ephemeral"] is True
    assert "de.sorunome.msc2409.push_ephemeral" not in registration
    assert registration["namespaces"]["users"] == [
        {"regex": r"@telegram_.+:example\.org", "exclusive": True},
        {"regex": r"@telegrambot:example\.org", "exclusive": True},
    ]
    assert registration["namespaces"]["aliases"] == [
        {"regex": r"#telegram_.+:example\.org", "exclusive": True}
    ]
    assert (tmp_path / "reg.yaml").stat().st_mode & 0o077 == 0
    # The user's other settings survived the save.
    assert saved.get("homeserver.domain") == "example.org"

    # The provisioning API's secret was generated too, and is never printed.
    provisioning_secret = saved.get("appservice.provisioning.shared_secret")
    assert provisioning_secret != "generate" and len(provisioning_secret) >= 32
    assert provisioning_secret not in result.stderr + result.stdout

    # Generating again makes fresh tokens; the provisioning secret stays (front ends use it).
    run_cli("-c", "config.yaml", "-r", "reg.yaml", "-g", cwd=tmp_path)
    again = YAML(typ="safe").load((tmp_path / "reg.yaml").read_text())
    assert again["as_token"] != registration["as_token"]
    kept = ConfigFile.load(config_path).get("appservice.provisioning.shared_secret")
    assert kept == provisioning_secret


def test_a_webhook_secret_left_to_generate_is_written_once(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_path = tmp_path / "config.yaml"
    config_file = ConfigFile.load(config_path)
    assert config_file.get("telegram.webhook.secret_token") == "generate"
    config_file.set("homeserver.domain", "example.org")
    config_file.set("telegram.bot_token", "123456789:" + "A" * 35)
    config_file.save()

    result = run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote a random telegram.webhook.secret_token" in result.stderr
    secret = ConfigFile.load(config_path).get("telegram.webhook.secret_token")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret)
    assert secret not in result.stderr
    run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert ConfigFile.load(config_path).get("telegram.webhook.secret_token") == secret


def test_generating_from_an_untouched_config_names_everything_to_fill_in(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    result = run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 2
    # Both at once, in one block of one shape, and nothing else said.
    assert result.stderr == (
        "Config error: config.yaml: 2 problems:\n"
        "  homeserver.domain: still the example's example.com: set your homeserver's server "
        "name (the part after the colon in your Matrix ID); the registration's namespaces are "
        "made from it\n"
        "  telegram.bot_token: missing: create a bot with @BotFather on Telegram and paste its "
        "token\n"
    )
    assert not (tmp_path / "registration.yaml").exists()
    # Refused, so the file is as it was: no secret generated into it.
    assert (tmp_path / "config.yaml").read_text() == (ROOT / "config.example.yaml").read_text()
    config_file = ConfigFile.load(tmp_path / "config.yaml")
    config_file.set("homeserver.domain", "example.org")
    config_file.set("telegram.bot_token", "12345:short")
    config_file.save()
    result = run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Config error: config.yaml: telegram.bot_token: does not ")
    assert "at least 20 letters, digits, - or _" in result.stderr  # the rule, said


def test_a_refused_start_leaves_the_config_as_it_was(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        "homeserver:\n    address: http://hs:8008\n    domain: hs.test\n"
        "appservice:\n    address: http://b:29317\n"
        "telegram:\n    bot_token: ''\n"
    )
    before = config_path.read_text()
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert config_path.read_text() == before
    assert "Config: added" not in result.stderr and "wrote a random" not in result.stderr


def test_yaml_mistakes_are_told_where_they_are(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("homeserver:\n    address: http://hs:8008\n  domain: hs.test\n")
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.returncode == 2
    # Where and what in the admin's words first, the parser's after; one line.
    assert result.stderr.startswith(
        "Config error: config.yaml, line 3, column 3: this line is indented differently "
        "from the keys above it"
    ), result.stderr
    assert result.stderr.index("the YAML parser says: expected <block end>") > 0
    assert result.stderr.count("\n") == 1
    assert "<unicode string>" not in result.stderr and "(line:" not in result.stderr
    config.write_text("- homeserver\n- appservice\n")
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.stderr == (
        "Config error: config.yaml: must be a map of sections (homeserver:, appservice:, ...), "
        "but it is a list\n"
    )


def test_every_config_problem_is_told_at_once(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_file = ConfigFile.load(tmp_path / "config.yaml")
    config_file.set("appservice.port", "twelve")
    config_file.set("telegram.poll_timeout", 500)
    config_file.save()
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.returncode == 2
    for problem in ("appservice.port", "telegram.bot_token: missing", "telegram.poll_timeout"):
        assert problem in result.stderr, result.stderr


def test_help_names_the_command_the_admin_runs(tmp_path: Path) -> None:
    env_command = {"BRIDGE_COMMAND": "./run.sh"}
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_command}
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.startswith("usage: ./run.sh")


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_file = ConfigFile.load(tmp_path / "config.yaml")
    config_file.set("appservice.port", "twelve")
    config_file.save()
    result = run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 2
    assert "appservice.port" in result.stderr


def test_an_old_config_is_upgraded_in_place(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        "# mine\nhomeserver:\n    address: http://hs:8008  # local\n    domain: hs.test\n"
        "appservice:\n    address: http://b:29317\n"
        "telegram:\n    bot_token: '123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'\n"
    )
    result = run_cli("-c", "config.yaml", "-g", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "added appservice.port" in result.stderr
    text = config_path.read_text()
    assert "# mine" in text and "address: http://hs:8008  # local" in text
    assert "# The prefix of commands outside your management room" in text
    # The provisioning section came with the example, its secret generated at once.
    assert "wrote a random appservice.provisioning.shared_secret" in result.stderr
    secret = ConfigFile.load(config_path).get("appservice.provisioning.shared_secret")
    assert secret != "generate" and len(secret) >= 32


def test_start_up_logs_one_line_for_a_migration_and_none_at_head(tmp_path: Path) -> None:
    # No homeserver answers: the bridge migrates its database, then stops at the first check.
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_file = ConfigFile.load(tmp_path / "config.yaml")
    config_file.set("homeserver.address", f"http://127.0.0.1:{free_port()}")
    config_file.set("homeserver.domain", "example.org")
    config_file.set("appservice.database", "sqlite:///bridge.db")
    config_file.set("telegram.bot_token", "6000000001:AAF-never-used-because-no-homeserver-answers")
    config_file.save()
    assert run_cli("-c", "config.yaml", "-g", cwd=tmp_path).returncode == 0

    first = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert first.returncode == 1 and "Cannot reach the homeserver" in first.stderr, first.stderr
    upgraded = f"Database upgraded from an empty database to {head_revision()}"
    assert first.stderr.count(upgraded) == 1, first.stderr
    # Alembic's own INFO lines (its plugins, its context, each revision) stay out.
    assert "alembic" not in first.stderr, first.stderr

    again = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert again.returncode == 1 and "Cannot reach the homeserver" in again.stderr, again.stderr
    assert "Database upgraded" not in again.stderr and "alembic" not in again.stderr, again.stderr


def test_a_rotating_log_file_from_the_config_and_a_clear_error_without_its_directory(
    tmp_path: Path,
) -> None:
    run_cli("-c", "config.yaml", cwd=tmp_path)
    config_file = ConfigFile.load(tmp_path / "config.yaml")
    config_file.set("homeserver.address", f"http://127.0.0.1:{free_port()}")
    config_file.set("homeserver.domain", "example.org")
    config_file.set("appservice.database", "sqlite:///bridge.db")
    config_file.set("telegram.bot_token", "6000000001:AAF-never-used-because-no-homeserver-answers")
    # The commented file handler of config.example.yaml, switched on as its comment says.
    config_file.set(
        "logging.handlers.file",
        {
            "class": "logging.handlers.RotatingFileHandler",
            "formatter": "json",
            "filename": "./logs/bridge.log",
            "maxBytes": 10485760,
            "backupCount": 10,
        },
    )
    config_file.set("logging.root.handlers", ["console", "file"])
    config_file.save()
    assert run_cli("-c", "config.yaml", "-g", cwd=tmp_path).returncode == 0
    as_token = str(ConfigFile.load(tmp_path / "config.yaml").get("appservice.as_token"))

    missing = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.startswith("Config error: config.yaml: logging: "), missing.stderr
    assert "cannot open" in missing.stderr and "logs/bridge.log" in missing.stderr
    assert "Traceback" not in missing.stderr

    (tmp_path / "logs").mkdir()
    result = run_cli("-c", "config.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "Cannot reach the homeserver" in result.stderr
    lines = [json.loads(line) for line in (tmp_path / "logs/bridge.log").read_text().splitlines()]
    assert any("Cannot reach the homeserver" in line["message"] for line in lines), lines
    assert all(as_token not in json.dumps(line) for line in lines)


def test_relative_paths_are_taken_from_the_config_s_directory(tmp_path: Path) -> None:
    # The config lives in conf/; the admin starts the bridge from another directory.
    conf, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    conf.mkdir()
    elsewhere.mkdir()
    run_cli("-c", "../conf/config.yaml", cwd=elsewhere)
    config_file = ConfigFile.load(conf / "config.yaml")
    config_file.set("homeserver.address", f"http://127.0.0.1:{free_port()}")
    config_file.set("homeserver.domain", "example.org")
    config_file.set("telegram.bot_token", "6000000001:AAF-never-used-because-no-homeserver-answers")
    config_file.set(
        "logging.handlers.file",
        {"class": "logging.FileHandler", "formatter": "normal", "filename": "bridge.log"},
    )
    config_file.set("logging.root.handlers", ["console", "file"])
    config_file.save()

    # Without -r, the registration is written beside the config.
    assert run_cli("-c", "../conf/config.yaml", "-g", cwd=elsewhere).returncode == 0
    assert (conf / "registration.yaml").exists()

    # The example's sqlite:///matrix-telegram-bridge.db and the log file: beside the config.
    result = run_cli("-c", "../conf/config.yaml", cwd=elsewhere)
    assert result.returncode == 1 and "Cannot reach the homeserver" in result.stderr
    assert (conf / "matrix-telegram-bridge.db").exists()
    assert "Cannot reach the homeserver" in (conf / "bridge.log").read_text()
    assert not list(elsewhere.iterdir()), "nothing was made where the bridge was started"
