"""The typed configuration the code reads, validated once at start-up.

Defaults live in config.example.yaml (the documented source); these models only say what a valid
value looks like. A network's own section (``telegram:``) is validated by its connector.
"""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .paths import log_files_beside, sqlite_beside

# The validation context's key for the config file's directory.
CONFIG_DIR = "config_dir"

PLACEHOLDER_TOKEN = "This value is generated when generating the registration"

# Matrix user localparts (spec: lowercase letters, digits and ._=-/+).
_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class PermissionLevel(IntEnum):
    """What a Matrix user may do with the bridge; higher levels include the lower ones."""

    NONE = 0
    RELAY = 10
    USER = 50
    ADMIN = 100

    @classmethod
    def parse(cls, name: str) -> PermissionLevel:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"must be one of relay, user or admin, not {name!r}") from None


def _config_dir(info: ValidationInfo) -> Path | None:
    """The config file's directory, which relative paths are taken from (see paths.py)."""
    context = info.context
    directory = context.get(CONFIG_DIR) if isinstance(context, dict) else None
    return directory if isinstance(directory, Path) else None


class _Section(BaseModel):
    # Unknown keys are reported as warnings by the loader, not rejected here.
    model_config = ConfigDict(extra="ignore", frozen=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class HomeserverConfig(_Section):
    address: str
    domain: str
    verify_ssl: bool = True

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _SERVER_NAME.match(value):
            raise ValueError("must be a server name such as example.com, without @ or https://")
        return value


def normalize_database_url(value: str, config_dir: Path | None = None) -> str:
    """Accept the URLs admins write and pick the async driver the bridge uses; a relative
    SQLite path is taken from ``config_dir`` (the config file's directory), if given."""
    if value.startswith("postgres://"):
        value = "postgresql://" + value.removeprefix("postgres://")
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "must be an SQLAlchemy URL such as sqlite:///bridge.db "
            "or postgresql://user:password@host/database"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
        if config_dir is not None:
            url = sqlite_beside(url, config_dir)
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"database {backend!r} is not supported: use sqlite or postgresql")
    return url.render_as_string(hide_password=False)


GENERATE_SECRET = "generate"
DISABLE_SECRET = "disable"
# Prefixes the listener keeps for the homeserver and for health checks.
_RESERVED_PREFIXES = ("/_matrix/app", "/_matrix/mau")


class ProvisioningConfig(_Section):
    enabled: bool = False
    prefix: str = "/_matrix/provision"
    shared_secret: str = DISABLE_SECRET

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.rstrip("/")
        if not re.match(r"^(/[A-Za-z0-9._~\-]+)+$", value):
            raise ValueError("must be a path such as /_matrix/provision")
        if any(value == p or value.startswith(p + "/") for p in _RESERVED_PREFIXES):
            raise ValueError("must not be under /_matrix/app or /_matrix/mau")
        return value

    @field_validator("shared_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value not in (GENERATE_SECRET, DISABLE_SECRET) and len(value) < 16:
            # Shorter secrets are guessable, and too short for the log filter to hide.
            raise ValueError("must be at least 16 characters, generate or disable")
        return value

    @property
    def active(self) -> bool:
        """Served: enabled with a real secret (``generate`` is replaced at start-up)."""
        return self.enabled and self.shared_secret not in (GENERATE_SECRET, DISABLE_SECRET)


class AppserviceConfig(_Section):
    address: str
    hostname: str
    port: Annotated[int, Field(ge=1, le=65535)]
    max_body_size: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    database: str
    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    bot_username: str
    bot_displayname: str = ""
    bot_avatar: str = ""
    as_token: str
    hs_token: str
    ephemeral_events: bool = True
    provisioning: ProvisioningConfig = Field(default_factory=ProvisioningConfig)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str, info: ValidationInfo) -> str:
        return normalize_database_url(value, _config_dir(info))

    @field_validator("bot_username")
    @classmethod
    def _localpart(cls, value: str) -> str:
        if not _LOCALPART.match(value):
            raise ValueError("must be a Matrix localpart: lowercase letters, digits and ._=-/+")
        return value

    @field_validator("bot_avatar")
    @classmethod
    def _mxc(cls, value: str) -> str:
        if value and not value.startswith("mxc://"):
            raise ValueError("must be an mxc:// URI or empty")
        return value

    @property
    def tokens_generated(self) -> bool:
        return PLACEHOLDER_TOKEN not in (self.as_token, self.hs_token)


def _require_placeholder(value: str, placeholder: str) -> str:
    if f"{{{placeholder}}}" not in value:
        raise ValueError(f"must contain {{{placeholder}}}")
    return value


class RelayConfig(_Section):
    enabled: bool = True
    message_formats: dict[str, str]
    announce_membership: bool = False
    membership_formats: dict[str, str]

    @field_validator("message_formats")
    @classmethod
    def _message_formats(cls, value: dict[str, str]) -> dict[str, str]:
        for msgtype in ("m.text", "m.notice", "m.emote"):
            if msgtype not in value:
                raise ValueError(f"needs a format for {msgtype}")
            _require_placeholder(value[msgtype], "message")
        return value

    @field_validator("membership_formats")
    @classmethod
    def _membership_formats(cls, value: dict[str, str]) -> dict[str, str]:
        for membership in ("join", "leave"):
            if membership not in value:
                raise ValueError(f"needs a format for {membership}")
        return value


AS_TOKEN_PREFIX = "as_token:"


class DoublePuppetConfig(_Section):
    # Homeserver URLs by server name, for users of other homeservers (login-matrix).
    servers: dict[str, str] = Field(default_factory=dict)
    # By server name: "as_token:<token>" of an appservice whose namespace covers that server's
    # users, so the bridge may act as any of them without their own token.
    secrets: dict[str, str] = Field(default_factory=dict)

    @field_validator("servers")
    @classmethod
    def _servers(cls, value: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for name, url in value.items():
            if not _SERVER_NAME.match(str(name)):
                raise ValueError(f"{name}: must be a server name such as example.com")
            try:
                checked[str(name)] = _http_url(str(url))
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return checked

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, secret in value.items():
            if not _SERVER_NAME.match(str(name)):
                raise ValueError(f"{name}: must be a server name such as example.com")
            token = str(secret).removeprefix(AS_TOKEN_PREFIX)
            if not str(secret).startswith(AS_TOKEN_PREFIX) or not token.strip():
                # The key is not said: the value is a secret.
                raise ValueError(
                    f"{name}: must be as_token: followed by the as_token of the double "
                    "puppeting appservice (shared-secret login is not supported)"
                )
        return {str(name): str(secret) for name, secret in value.items()}

    def as_token_for(self, server: str) -> str | None:
        secret = self.secrets.get(server)
        return secret.removeprefix(AS_TOKEN_PREFIX) if secret is not None else None


class RetryConfig(_Section):
    """How long an event that keeps failing with passing trouble is tried before its sender is
    told and its chat moves on (portals/retries.py)."""

    # Seconds of failing while the homeserver, the network and the database answer the
    # bridge's other requests: the trouble is the event's own (a file its server keeps failing
    # to hand over), not an outage.
    stuck_after: Annotated[float, Field(gt=0)] = 600.0
    # Seconds of failing whatever the reason, outages included.
    give_up_after: Annotated[float, Field(gt=0)] = 86400.0


class BridgeConfig(_Section):
    username_template: str
    alias_template: str
    displayname_template: str
    command_prefix: Annotated[str, Field(min_length=1)]
    room_version: str = ""
    public_portals: bool = True
    send_room_changes: bool = True
    relay: RelayConfig
    double_puppet: DoublePuppetConfig = Field(default_factory=DoublePuppetConfig)
    # Optional: a config from before it existed gets the defaults.
    retries: RetryConfig = Field(default_factory=RetryConfig)
    permissions: dict[str, PermissionLevel]

    @field_validator("username_template")
    @classmethod
    def _username(cls, value: str) -> str:
        return _require_placeholder(value, "userid")

    @field_validator("alias_template")
    @classmethod
    def _alias(cls, value: str) -> str:
        return _require_placeholder(value, "groupname")

    @field_validator("permissions", mode="before")
    @classmethod
    def _levels(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("must be a map of '*', a server name or a Matrix ID to a level")
        levels: dict[str, PermissionLevel] = {}
        for key, level in value.items():
            if not isinstance(level, str):
                raise ValueError(f"{key}: must be relay, user or admin")
            try:
                levels[str(key)] = PermissionLevel.parse(level)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
        return levels

    def username_for(self, remote_id: str) -> str:
        return self.username_template.format(userid=remote_id)

    def alias_localpart_for(self, remote_id: str) -> str:
        return self.alias_template.format(groupname=remote_id)

    def chat_id_from_alias_localpart(self, localpart: str) -> str | None:
        """The remote chat id an alias localpart names, or None if it is not a portal alias."""
        before, _, after = self.alias_template.partition("{groupname}")
        if len(localpart) <= len(before) + len(after):
            return None
        if not (localpart.startswith(before) and localpart.endswith(after)):
            return None
        return localpart[len(before) : len(localpart) - len(after)]


class MetricsConfig(_Section):
    enabled: bool = False
    listen_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    hostname: Annotated[str, Field(min_length=1)] = "127.0.0.1"


class Config(_Section):
    """The whole bridge config; ``networks`` keeps each network's raw section for its connector."""

    homeserver: HomeserverConfig
    appservice: AppserviceConfig
    bridge: BridgeConfig
    # Optional: a config from before metrics existed has them off.
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logging: dict[str, Any]
    networks: dict[str, Any] = Field(default_factory=dict)

    @field_validator("logging")
    @classmethod
    def _log_files(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        config_dir = _config_dir(info)
        return value if config_dir is None else log_files_beside(value, config_dir)

    @field_validator("metrics")
    @classmethod
    def _metrics_port(cls, value: MetricsConfig, info: ValidationInfo) -> MetricsConfig:
        appservice = info.data.get("appservice")
        if value.enabled and appservice is not None and value.listen_port == appservice.port:
            raise ValueError(
                f"listen_port must differ from appservice.port ({appservice.port}): the metrics "
                "have a port of their own"
            )
        return value

    @property
    def bot_mxid(self) -> str:
        return f"@{self.appservice.bot_username}:{self.homeserver.domain}"
