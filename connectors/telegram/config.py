"""The ``telegram:`` config section, validated by the connector."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bridge.config.loader import ConfigError, describe_validation_error

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
# Telegram's rule for a webhook's secret is 1-256 of these; the bridge asks for 16 at least,
# since the secret is all that tells Telegram's requests from anyone else's.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
GENERATE = "generate"
OFFICIAL_API = "https://api.telegram.org"
# The only ports the official Bot API posts webhooks to.
WEBHOOK_PORTS = (443, 80, 88, 8443)


class RateLimits(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    overall_per_second: Annotated[float, Field(gt=0)] = 30
    group_per_minute: Annotated[float, Field(gt=0)] = 20
    private_per_second: Annotated[float, Field(gt=0)] = 1


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # The public URL Telegram posts updates to; the bridge serves its path.
    url: str = ""
    secret_token: str = Field(default="", repr=False)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bot_token: str
    api_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
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


def webhook_problems(section: Mapping[str, Any]) -> list[str]:
    """What keeps webhook mode from working, in the admin's terms (never the secret); told
    beside the section's other problems, so it reads the section as loosely as it can."""
    if section.get("mode") != "webhook":
        return []
    try:
        webhook = WebhookConfig.model_validate(section.get("webhook") or {})
    except ValidationError:
        return ["telegram.webhook: must have url and secret_token, both text"]
    official_api = str(section.get("api_url", OFFICIAL_API)).rstrip("/") == OFFICIAL_API
    problems = []
    parts = urlsplit(webhook.url)
    if not webhook.url:
        problems.append(
            "telegram.webhook.url: missing: the public https:// URL Telegram posts updates to"
        )
    elif parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append("telegram.webhook.url: must be an https:// URL with a host")
    elif parts.scheme == "http" and official_api:
        problems.append(
            "telegram.webhook.url: must be https://, Telegram posts only to HTTPS (http:// "
            "works only with a Local Bot API server run with --local, in telegram.api_url)"
        )
    elif official_api and _port(parts.scheme, parts) not in WEBHOOK_PORTS:
        problems.append(
            "telegram.webhook.url: Telegram posts only to the ports 443, 80, 88 and 8443"
        )
    elif parts.path.startswith("/_matrix/"):
        problems.append(
            "telegram.webhook.url: its path must not start with /_matrix/ (the homeserver's "
            "requests use those paths on the same listener)"
        )
    secret = webhook.secret_token
    if secret in ("", GENERATE):
        problems.append(
            "telegram.webhook.secret_token: not set; set it to generate and start the bridge "
            "once (it writes a random one), or choose 16 to 256 letters, digits, _ or -"
        )
    elif not _SECRET.match(secret):
        problems.append(
            "telegram.webhook.secret_token: must be 16 to 256 letters (A-Z, a-z), digits, _ or -"
        )
    return problems


def _port(scheme: str, parts: Any) -> int | None:
    try:
        port: int | None = parts.port
    except ValueError:
        return None
    return port if port is not None else (443 if scheme == "https" else 80)


def load_config(section: Mapping[str, Any]) -> TelegramConfig:
    section = dict(section or {})
    lines: list[str] = []
    config: TelegramConfig | None = None
    try:
        config = TelegramConfig.model_validate(section)
    except ValidationError as error:
        lines = describe_validation_error(error, prefix="telegram.")
    lines += webhook_problems(section)
    if lines or config is None:
        raise ConfigError(*lines)
    return config
