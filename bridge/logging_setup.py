"""Logging from the config's ``logging`` section (a dictConfig), with secrets kept out of every
line and the ids of the portal and event in hand added to each."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .log_context import ContextFilter
from .redaction import REDACTED, Redactor

__all__ = ["REDACTED", "ContextFilter", "JsonFormatter", "SecretFilter", "configure_logging"]


class LoggingConfigError(Exception):
    """The ``logging`` section cannot be applied; the message says what to fix."""


class SecretFilter(logging.Filter):
    """Replaces known secrets (tokens) and URL passwords wherever they appear in a record:
    its message (arguments included), its traceback and its stack.

    Libraries log request URLs, and the Telegram Bot API puts the bot token in every URL.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redact = Redactor(secrets)

    def add(self, secret: str) -> None:
        self._redact.add(secret)

    def redact(self, text: str) -> str:
        return self._redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Arguments that do not fit the format: the handler reports it; hide the raw parts.
            record.msg, record.args = self.redact(str(record.msg)), None
            message = record.msg
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids of what the line is
    about (see log_context.py) and the traceback if any. For log collectors (Loki, Elastic)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = getattr(record, "ids", None)
        if ids:
            line.update(ids)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(config: dict[str, Any], secrets: Iterable[str]) -> SecretFilter:
    """Apply a dictConfig and give every handler it made the secret and context filters."""
    try:
        # The bridge's modules made their loggers at import, before this runs: keep them.
        logging.config.dictConfig({"disable_existing_loggers": False, **config})
    except (ValueError, TypeError, AttributeError, ImportError) as error:
        raise LoggingConfigError(_describe(error)) from None
    secret_filter = SecretFilter(secrets)
    install_filter(secret_filter)
    install_filter(ContextFilter())
    return secret_filter


def _describe(error: BaseException) -> str:
    """dictConfig says "Unable to configure handler 'file'"; the cause says why (a log file's
    directory that does not exist, say)."""
    text = str(error)
    cause = error.__cause__ or error.__context__
    if isinstance(cause, OSError) and cause.filename:
        return (
            f"logging: {text}: cannot open {cause.filename} ({cause.strerror}); its directory "
            "must exist (a relative filename is taken from the config file's directory)"
        )
    if cause is not None:
        return f"logging: {text}: {cause}"
    return f"logging: {text}"


def install_filter(new: logging.Filter) -> None:
    """Add ``new`` to every handler of every logger, once."""
    handlers: set[logging.Handler] = set(logging.getLogger().handlers)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            handlers.update(logger.handlers)
    for handler in handlers:
        if new not in handler.filters:
            handler.addFilter(new)
