"""Who shows a remote user's doing in a portal room: their own Matrix account when they linked
it and double puppeting works for them (bridge/double_puppet.py), else their ghost. A linked
user without double puppeting is invited to the rooms their account is seen in, once a run."""

from __future__ import annotations

from mautrix.appservice import IntentAPI
from mautrix.errors import IntentError, MatrixRequestError, MForbidden, MUnknownToken
from mautrix.types import RoomID

from bridge.accounts import AccountLinks
from bridge.double_puppet import DoublePuppets
from bridge.ghosts import GhostManager
from bridge.lru import BoundedDict
from bridge.matrix.client import MatrixClient
from bridge.network.events import RemoteUser

from .state import PortalState

MAX_INVITED = 10_000


class RemoteSenders:
    def __init__(
        self,
        matrix: MatrixClient,
        ghosts: GhostManager,
        accounts: AccountLinks,
        puppets: DoublePuppets,
    ) -> None:
        self._matrix = matrix
        self._ghosts = ghosts
        self._accounts = accounts
        self._puppets = puppets
        self._invited: BoundedDict[tuple[str, str], bool] = BoundedDict(MAX_INVITED)

    async def joined(self, portal: PortalState, room_id: str, user: RemoteUser) -> IntentAPI:
        """The intent that acts for ``user`` in the room, joined to it."""
        owner = self._accounts.matrix_user_of(user.id)
        if owner is not None:
            puppet = await self._puppet_joined(portal, room_id, owner)
            if puppet is not None:
                return puppet
            await self._invite_once(portal, room_id, owner)
        return await self.ghost(portal, room_id, user)

    async def ghost(self, portal: PortalState, room_id: str, user: RemoteUser) -> IntentAPI:
        """The ghost's intent, joined to the room."""
        ghost = await self._ghosts.ensure(user)
        intent = self._matrix.intent(ghost.mxid)
        await intent.ensure_joined(RoomID(room_id))
        return intent

    async def of_sender(
        self, portal: PortalState, room_id: str, sender_mxid: str | None, user: RemoteUser
    ) -> IntentAPI:
        """The intent of whoever sent an earlier event (an edit must come from its sender):
        the Matrix user it was, while the bridge can still act as them, else as ``joined``."""
        if sender_mxid is not None and not self._ghosts.is_ghost(sender_mxid):
            puppet = await self._puppet_joined(portal, room_id, sender_mxid)
            if puppet is not None:
                return puppet
        return await self.joined(portal, room_id, user)

    def senders(self, user: RemoteUser) -> list[str]:
        """Everyone who may have shown ``user``'s events (to look for one sent before)."""
        owner = self._accounts.matrix_user_of(user.id)
        ghost = self._ghosts.mxid_for(user.id)
        return [ghost, owner] if owner is not None else [ghost]

    async def _puppet_joined(
        self, portal: PortalState, room_id: str, mxid: str
    ) -> IntentAPI | None:
        puppet = await self._puppets.intent(mxid)
        if puppet is None:
            return None
        try:
            await puppet.ensure_joined(RoomID(room_id), bot=self._matrix.bot)
        except (IntentError, MUnknownToken, MForbidden) as error:
            # Refused (the token no longer works, say): the ghost shows it instead.
            portal.log.warning("Cannot act as %s here (%s); using the ghost", mxid, error)
            return None
        return puppet

    @staticmethod
    def refused(error: Exception) -> bool:
        """Whether a send as a Matrix user failed because the bridge may not act as them (it
        is then made as the ghost)."""
        return isinstance(error, MUnknownToken | MForbidden)

    async def _invite_once(self, portal: PortalState, room_id: str, mxid: str) -> None:
        if self._invited.touch((room_id, mxid)):
            return
        try:
            await self._matrix.bot.invite_user(RoomID(room_id), mxid)  # type: ignore[arg-type]
        except MatrixRequestError as error:
            # Already in the room or invited (or they left and may not be invited back).
            portal.log.debug("Did not invite %s: %s", mxid, error)
        self._invited[(room_id, mxid)] = True
