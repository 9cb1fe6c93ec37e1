"""The application-service registration the homeserver loads (``python -m bridge -g``)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from .config.model import Config


def new_token() -> str:
    return secrets.token_urlsafe(48)


def _template_regex(template: str, placeholder: str) -> str:
    """Escape a template's literal parts and let its placeholder match any non-empty text."""
    before, _, after = template.partition("{" + placeholder + "}")
    return re.escape(before) + ".+" + re.escape(after)


def user_namespace(config: Config) -> str:
    localpart = _template_regex(config.bridge.username_template, "userid")
    return f"@{localpart}:{re.escape(config.homeserver.domain)}"


def alias_namespace(config: Config) -> str:
    localpart = _template_regex(config.bridge.alias_template, "groupname")
    return f"#{localpart}:{re.escape(config.homeserver.domain)}"


def build_registration(config: Config, as_token: str, hs_token: str) -> dict[str, Any]:
    appservice = config.appservice
    registration: dict[str, Any] = {
        "id": appservice.id,
        "url": appservice.address,
        "as_token": as_token,
        "hs_token": hs_token,
        "sender_localpart": appservice.bot_username,
        "rate_limited": False,
        "namespaces": {
            "users": [
                {"regex": user_namespace(config), "exclusive": True},
                {
                    "regex": f"@{re.escape(appservice.bot_username)}:"
                    f"{re.escape(config.homeserver.domain)}",
                    "exclusive": True,
                },
            ],
            "aliases": [{"regex": alias_namespace(config), "exclusive": True}],
            "rooms": [],
        },
    }
    if appservice.ephemeral_events:
        # The stable key only: Synapse delivers every event twice if the MSC2409 key is set too.
        registration["receive_ephemeral"] = True
    return registration
