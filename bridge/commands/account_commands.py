"""Commands for a Matrix user's own remote account: login (link it), logout (unlink it)."""

from __future__ import annotations

import html

from ..accounts import TOKEN_LIFETIME, AccountLinks
from ..config.model import PermissionLevel
from ..double_puppet import DoublePuppets, PuppetLoginFailed
from ..network.capabilities import LinksAccounts
from ..network.interface import NetworkConnector
from .types import Command, CommandEvent


def account_commands(
    accounts: AccountLinks, puppets: DoublePuppets, connector: NetworkConnector
) -> list[Command]:
    network = connector.display_name

    async def login_command(event: CommandEvent) -> None:
        if not isinstance(connector, LinksAccounts):
            await event.reply(f"This bridge cannot link {network} accounts.")
            return
        if not event.is_management_room:
            # The link is for whoever opens it first: it belongs in a room of the user's own.
            await event.reply(
                "Send login in your management room (a private chat with the bridge bot): "
                "the link it gives is for the first account that opens it."
            )
            return
        link = connector.login_link(await accounts.new_token(event.sender))
        minutes = int(TOKEN_LIFETIME.total_seconds() // 60)
        await event.reply(
            f"Open {link}, press Start, then Link to link your {network} account. The link "
            f"works once, for {minutes} minutes, and only for you: do not share it.",
            f'Open <a href="{html.escape(link)}">{html.escape(link)}</a>, press Start, then '
            f"Link to link your {network} account. The link works once, for {minutes} "
            "minutes, and only for you: do not share it.",
        )

    async def logout_command(event: CommandEvent) -> None:
        remote = await accounts.unlink(event.sender)
        if remote is None:
            await event.reply(f"You have no linked {network} account.")
        else:
            await event.reply(f"Your {network} account {remote} is no longer linked.")

    async def login_matrix_command(event: CommandEvent) -> None:
        if len(event.args) != 1:
            await event.reply(f"Usage: {event.processor.usage('login-matrix', False)} <token>")
            return
        warning = (
            " Delete your message with the token now: anyone who can read this room could use it."
        )
        if not event.is_management_room:
            await event.reply("Send login-matrix in your management room, never here." + warning)
            return
        try:
            await puppets.login(event.sender, event.args[0])
        except PuppetLoginFailed as failure:
            await event.reply(f"The bridge cannot act as you with that token: {failure}.")
            return
        await event.reply(
            f"What you send from your linked {network} account will appear as your Matrix "
            "account." + warning
        )

    async def logout_matrix_command(event: CommandEvent) -> None:
        if await puppets.logout(event.sender):
            await event.reply("The bridge forgot your access token.")
        else:
            await event.reply("You gave the bridge no access token.")

    async def ping_matrix_command(event: CommandEvent) -> None:
        await event.reply(await puppets.check(event.sender))

    return [
        Command(
            "login-matrix",
            login_matrix_command,
            "Give the bridge an access token to appear as your Matrix account",
            PermissionLevel.USER,
            args="<access token>",
            section="Account",
        ),
        Command(
            "ping-matrix",
            ping_matrix_command,
            "Check that the bridge can act as your Matrix account",
            PermissionLevel.USER,
            section="Account",
        ),
        Command(
            "logout-matrix",
            logout_matrix_command,
            "Make the bridge forget your access token",
            PermissionLevel.USER,
            section="Account",
        ),
        Command(
            "login",
            login_command,
            f"Link your {network} account (in your management room)",
            PermissionLevel.USER,
            section="Account",
        ),
        Command(
            "logout",
            logout_command,
            f"Unlink your {network} account",
            PermissionLevel.USER,
            section="Account",
        ),
    ]


async def link_status(accounts: AccountLinks, network: str, mxid: str) -> str:
    """One line for ``ping``: the user's linked account."""
    found = await accounts.link_of(mxid)
    if found is None:
        return f"You have no linked {network} account (login links one)."
    remote, name = found
    return f"Your linked {network} account: {name or remote} ({remote})."
