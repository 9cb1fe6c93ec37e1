"""Methods about the bot itself: getMe, getUpdates, webhooks, commands, close and logOut."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import bad_request
from .events import Simulation
from .objects import user_object
from .updates import CONFLICT_SET_WEBHOOK, Poll
from .webhook import check_secret_token, check_webhook_url

Params = dict[str, Any]
LONG_POLL_MAX_TIMEOUT = 50  # the official server's cap
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


async def get_me(sim: Simulation, p: Params) -> Any:
    me = user_object(sim.bot)
    me.update(
        can_join_groups=sim.can_join_groups,
        can_read_all_group_messages=sim.can_read_all_group_messages,
        supports_inline_queries=sim.supports_inline_queries,
        can_connect_to_business=sim.can_connect_to_business,
        has_main_web_app=False,
    )
    return me


async def get_updates(sim: Simulation, p: Params) -> Any:
    # Out-of-range limits and timeouts are clamped, not refused, as the official server does.
    poll = Poll(
        offset=p.get("offset"),
        limit=min(max(p.get("limit", 100), 1), 100),
        timeout=min(max(p.get("timeout", 0), 0), LONG_POLL_MAX_TIMEOUT),
        allowed_updates=p.get("allowed_updates"),
    )
    return await sim.updates.get_updates(poll)


async def set_webhook(sim: Simulation, p: Params) -> Any:
    url = p["url"]
    if url:
        check_webhook_url(url)
    secret = p.get("secret_token", "")
    check_secret_token(secret)
    sim.updates.set_allowed(p.get("allowed_updates"))
    if p.get("drop_pending_updates"):
        sim.updates.drop_pending()
    if url:
        sim.updates.abort_poll(CONFLICT_SET_WEBHOOK)
        sim.updates.set_webhook(
            {
                "url": url,
                # Clamped, not refused, as the official server does (Client.cpp).
                "max_connections": min(max(int(p.get("max_connections", 40)), 1), 100),
                "secret_token": secret,
            }
        )
    else:
        sim.updates.set_webhook({})
    return True


async def delete_webhook(sim: Simulation, p: Params) -> Any:
    if p.get("drop_pending_updates"):
        sim.updates.drop_pending()
    sim.updates.set_webhook({})
    return True


async def get_webhook_info(sim: Simulation, p: Params) -> Any:
    queue = sim.updates
    info: dict[str, Any] = {
        "url": queue.webhook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(queue.pending),
    }
    if queue.webhook:
        info["max_connections"] = queue.webhook["max_connections"]
        info["ip_address"] = "127.0.0.1"
        for key in ("last_error_date", "last_error_message"):
            if key in queue.webhook:
                info[key] = queue.webhook[key]
    if not queue.allowed_is_default:
        info["allowed_updates"] = sorted(queue.allowed)
    return info


def _scope_key(p: Params) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), p.get("language_code", "")


async def set_my_commands(sim: Simulation, p: Params) -> Any:
    commands = p["commands"]
    for command in commands:
        if not _COMMAND_RE.fullmatch(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"]) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    sim.commands[_scope_key(p)] = [dict(c) for c in commands]
    return True


async def get_my_commands(sim: Simulation, p: Params) -> Any:
    return sim.commands.get(_scope_key(p), [])


async def delete_my_commands(sim: Simulation, p: Params) -> Any:
    sim.commands.pop(_scope_key(p), None)
    return True


async def close(sim: Simulation, p: Params) -> Any:
    sim.closed = True
    return True


async def log_out(sim: Simulation, p: Params) -> Any:
    sim.logged_out = True
    return True
