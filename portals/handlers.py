"""The portal handlers, built once from the services in the portal context: each gets the
services it uses, and every portal hands them its own state (state.py) per event.

Following an event: portal.py takes it from the lane; a remote event goes to to_matrix.py
(and from there to room.py, migrate.py, remote_media.py, remote_reactions.py), a Matrix event
to from_matrix.py (and from there to the matrix_*.py handler of its kind)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .catch_up import UndeliveredEvents
from .context import PortalContext
from .direct_rooms import DirectRooms
from .from_matrix import FromMatrix
from .matrix_edits import MatrixEdits
from .matrix_reactions import MatrixReactions
from .matrix_redactions import MatrixRedactions
from .matrix_room_changes import MatrixRoomChanges
from .migrate import ChatMoves
from .remote_reactions import RemoteReactions
from .remote_senders import RemoteSenders
from .room import PortalRooms
from .senders import MatrixSenders
from .state import PortalState
from .to_matrix import ToMatrix
from .to_matrix_ids import bridge_name


@dataclass(frozen=True, slots=True)
class PortalHandlers:
    rooms: PortalRooms
    to_matrix: ToMatrix
    from_matrix: FromMatrix


def build_handlers(
    ctx: PortalContext, forget: Callable[[PortalState], Awaitable[None]]
) -> PortalHandlers:
    """``forget``: unbinds a portal from its room, in the portal's turn (manager.py)."""
    bot = ctx.matrix.bot
    bridge = bridge_name(ctx.config.appservice.id, ctx.config.homeserver.domain)
    rooms = PortalRooms(ctx.config, ctx.matrix, ctx.portals, ctx.index, ctx.connector)
    remote_senders = RemoteSenders(ctx.matrix, ctx.ghosts, ctx.accounts, ctx.puppets)
    to_matrix = ToMatrix(
        ctx.matrix,
        ctx.ghosts,
        ctx.connector,
        ctx.messages,
        ctx.portals,
        rooms,
        ChatMoves(ctx.config, ctx.matrix, ctx.portals, ctx.index),
        RemoteReactions(remote_senders, ctx.messages, ctx.reactions, ctx.metrics, bridge),
        remote_senders,
        ctx.metrics,
        bridge,
    )
    senders = MatrixSenders(ctx.config, ctx.users, ctx.ghosts, bot, ctx.names)
    reactions = MatrixReactions(ctx.connector, ctx.messages, ctx.reactions, ctx.metrics)
    from_matrix = FromMatrix(
        ctx.config,
        bot,
        senders,
        ctx.commands,
        ctx.connector,
        ctx.messages,
        (ctx.matrix_inbox, ctx.remote_inbox),
        ctx.gaps,
        ctx.activity,
        UndeliveredEvents(bot, ctx.matrix_inbox, ctx.marks, ctx.gaps, senders.is_bridge_user),
        MatrixRoomChanges(ctx.config, senders, ctx.connector, ctx.portals),
        MatrixEdits(ctx.connector, ctx.messages, ctx.metrics),
        reactions,
        MatrixRedactions(ctx.connector, ctx.messages, ctx.reactions, reactions, ctx.metrics),
        DirectRooms(ctx.matrix, ctx.ghosts, ctx.connector.display_name, forget),
        ctx.metrics,
    )
    return PortalHandlers(rooms, to_matrix, from_matrix)
