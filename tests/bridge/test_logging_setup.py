"""Logging as the config sets it up: secrets never reach a line, however a library formats
it; lines name the portal and event they are about; text or JSON; a rotating file."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config.loader import ConfigFile, example_config_text
from bridge.log_context import log_context
from bridge.logging_setup import LoggingConfigError, SecretFilter, configure_logging


def capture(secret_filter: SecretFilter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(secret_filter)
    logger = logging.getLogger(f"test.secrets.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_tokens_are_redacted_in_messages_arguments_and_tracebacks() -> None:
    token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logger, stream = capture(SecretFilter([token, "short"]))
    logger.info("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", token)
    logger.info(f"as_token={token}")
    try:
        raise ValueError(f"bad url /bot{token}/x")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    assert token not in output
    assert output.count("<redacted>") == 3
    # Too short to redact safely: it would cut ordinary words.
    assert SecretFilter(["short"]).redact("a short word") == "a short word"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging replaces the root's handlers: give the session's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def example_logging(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "config.yaml"
    path.write_text(example_config_text())
    return ConfigFile.load(path).section("logging")


def with_file_handler(config: dict[str, Any], filename: str, formatter: str) -> dict[str, Any]:
    """The example's commented file handler, switched on as its comment says."""
    config["handlers"]["file"] = {
        "class": "logging.handlers.RotatingFileHandler",
        "formatter": formatter,
        "filename": filename,
        "maxBytes": 2000,
        "backupCount": 2,
    }
    config["root"]["handlers"] = ["file"]
    config["root"]["level"] = "DEBUG"
    return config


def test_a_relative_log_file_rotates_and_lines_name_their_portal_and_event(
    restored_logging: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "42:secret-token-for-the-file-test"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    config = with_file_handler(example_logging(tmp_path), "logs/bridge.log", "normal")
    configure_logging(config, [token])
    log = logging.getLogger("portals.test")
    with log_context(portal="-100123", event="$abc"):
        log.info("handling with %s", token)
    log.info("outside any event")
    for number in range(40):
        log.info("filler line %d to make the file rotate", number)
    first, second = (tmp_path / "logs/bridge.log.1").read_text().splitlines()[:2]
    assert first.endswith(
        "[INFO@portals.test] [portal=-100123 event=$abc] handling with <redacted>"
    )
    assert second.endswith("[INFO@portals.test] outside any event")
    for number in range(200):
        log.info("more filler %d", number)
    kept = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert kept == ["bridge.log", "bridge.log.1", "bridge.log.2"]


def test_json_lines_carry_the_ids_and_the_traceback(restored_logging: None, tmp_path: Path) -> None:
    config = with_file_handler(example_logging(tmp_path), str(tmp_path / "bridge.json"), "json")
    configure_logging(config, ["sk-a-known-secret-value"])
    log = logging.getLogger("portals.test")
    with log_context(portal="-100123", room="!room:test"), log_context(remote="77"):
        try:
            raise RuntimeError("failed with sk-a-known-secret-value")
        except RuntimeError:
            log.exception("could not send %d parts", 2)
    (line,) = [json.loads(text) for text in (tmp_path / "bridge.json").read_text().splitlines()]
    assert line["level"] == "ERROR" and line["logger"] == "portals.test"
    assert line["message"] == "could not send 2 parts"
    assert (line["portal"], line["room"], line["remote"]) == ("-100123", "!room:test", "77")
    assert "RuntimeError: failed with <redacted>" in line["exception"]
    assert "T" in line["time"] and line["time"].endswith("+00:00")


def test_a_log_file_in_a_missing_directory_is_a_clear_error(
    restored_logging: None, tmp_path: Path
) -> None:
    config = with_file_handler(example_logging(tmp_path), "nowhere/bridge.log", "normal")
    with pytest.raises(LoggingConfigError) as raised:
        configure_logging(config, [])
    text = str(raised.value)
    assert "cannot open" in text and "nowhere/bridge.log" in text and "must exist" in text


def test_database_passwords_are_redacted_in_log_lines(restored_logging: None) -> None:
    logger, stream = capture(SecretFilter([]))
    logger.warning("cannot connect to %s", "postgresql+asyncpg://bridge:hunter2pw@db:5432/tg")
    assert (
        stream.getvalue().strip()
        == "cannot connect to postgresql+asyncpg://bridge:<redacted>@db:5432/tg"
    )
