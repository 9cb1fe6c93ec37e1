"""Secrets never reach a log line, however a library formats it."""

from __future__ import annotations

import io
import logging

from bridge.logging_setup import SecretFilter


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
    assert "short" not in SecretFilter(["short"])._secrets  # too short to redact safely
