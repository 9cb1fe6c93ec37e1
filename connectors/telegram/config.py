"""The ``telegram:`` config section, validated by the connector."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bridge.config.loader import ConfigError, describe_validation_error

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


class RateLimits(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    overall_per_second: Annotated[float, Field(gt=0)] = 30
    group_per_minute: Annotated[float, Field(gt=0)] = 20
    private_per_second: Annotated[float, Field(gt=0)] = 1


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bot_token: str
    api_url: str = "https://api.telegram.org"
    mode: Literal["polling"] = "polling"
    # Seconds a getUpdates long poll waits for updates.
    poll_timeout: Annotated[int, Field(ge=0, le=50)] = 30
    # Seconds between re-reading every portal's chat (descriptions change without an update).
    chat_resync_interval: Annotated[float, Field(ge=0)] = 900
    # Seconds to wait for the Bot API's answer to a request (long polls wait poll_timeout more).
    request_timeout: Annotated[float, Field(gt=0)] = 30
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    # What animated (TGS) and video (WEBM) stickers become in Matrix: an animated WEBP or GIF,
    # or "none" for their still thumbnail.
    animated_stickers: Literal["webp", "gif", "none"] = "webp"

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: str) -> str:
        if not value:
            raise ValueError(
                "missing: create a bot with @BotFather on Telegram and paste its token"
            )
        if not _TOKEN.match(value):
            raise ValueError(
                "does not look like a bot token from @BotFather: digits, a colon, then at least "
                "20 letters, digits, - or _ (123456789:AAH-...)"
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


def load_config(section: Mapping[str, Any]) -> TelegramConfig:
    try:
        return TelegramConfig.model_validate(dict(section or {}))
    except ValidationError as error:
        message = describe_validation_error("the telegram section", error)
        raise ConfigError(message.replace("\n  ", "\n  telegram.")) from None
