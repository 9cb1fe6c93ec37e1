"""Logging from the config's ``logging`` section, with secrets kept out of every line."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"


class SecretFilter(logging.Filter):
    """Replaces known secrets (tokens) wherever they appear in a formatted log line.

    Libraries log request URLs, and the Telegram Bot API puts the bot token in every URL.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= 8 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def configure_logging(config: dict[str, Any], secrets: Iterable[str]) -> SecretFilter:
    """Apply a dictConfig and guard every handler it made with the secret filter."""
    # The bridge's modules made their loggers at import, before this runs: keep them working.
    logging.config.dictConfig({"disable_existing_loggers": False, **config})
    secret_filter = SecretFilter(secrets)
    install_filter(secret_filter)
    return secret_filter


def install_filter(secret_filter: SecretFilter) -> None:
    handlers: set[logging.Handler] = set(logging.getLogger().handlers)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            handlers.update(logger.handlers)
    for handler in handlers:
        if secret_filter not in handler.filters:
            handler.addFilter(secret_filter)
