"""status: for admins, in words, the checks /_matrix/mau/ready names (the homeserver, the
network, the background tasks) with why each is up or down, which /ready tells nobody, and how
full the queues are."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config.model import PermissionLevel
from ..health import HealthCheck, all_ok
from .types import Command, CommandEvent


def status_command(
    network_name: str,
    health: Callable[[], Sequence[HealthCheck]],
    queues: Callable[[], str],
) -> Command:
    async def status(event: CommandEvent) -> None:
        if not event.is_management_room:
            await event.reply(
                "Send status in your management room (a private chat with the bridge bot)."
            )
            return
        checks = health()
        lines = ["The bridge is ready." if all_ok(checks) else "The bridge is NOT ready."]
        lines += [
            f"{'OK' if check.ok else 'DOWN'} - {_label(check.name, network_name)}: {check.detail}"
            for check in checks
        ]
        lines.append(f"Queues: {queues()}")
        await event.reply("\n".join(lines))

    return Command(
        "status",
        status,
        "Show the bridge's health: homeserver, network, background tasks, queues",
        PermissionLevel.ADMIN,
        section="Administration",
    )


def _label(name: str, network_name: str) -> str:
    if name.startswith("task:"):
        return f"background task {name.removeprefix('task:')}"
    if name == network_name.lower():
        return network_name
    return name.capitalize() if name in ("homeserver", "bridge") else name
