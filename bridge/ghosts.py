"""Ghosts: the Matrix users standing for remote users."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import string
from dataclasses import dataclass

from .avatars import upload_avatar
from .config.model import Config
from .db.models import Ghost
from .db.stores import GhostStore
from .lru import BoundedDict
from .matrix.client import MatrixClient
from .network.capabilities import LooksUpAvatars
from .network.events import RemoteUser
from .network.ids import RemoteUserID
from .network.interface import NetworkConnector
from .registration import user_namespace

log = logging.getLogger("bridge.ghosts")

# Ghosts kept (what the bridge needs of their rows, a tenth of a row with SQLAlchemy's state):
# the senders seen lately; another costs one look-up by id.
MAX_CACHED = 5_000


@dataclass(slots=True)
class KnownGhost:
    id: int
    mxid: str
    displayname: str | None
    avatar_id: str | None

    @classmethod
    def of(cls, row: Ghost) -> KnownGhost:
        return cls(row.id, row.mxid, row.displayname, row.avatar_id)


class _Blank(dict[str, str]):
    """Unknown template fields become empty instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


@functools.lru_cache(maxsize=16)
def _plain_fields_only(template: str) -> bool:
    """The template names fields and nothing more: no attribute or index look-ups in them
    ("{first_name.__class__}"), which would show Python's internals as a name."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    except ValueError:
        return False
    return all(name.isidentifier() for name in names)


def render_displayname(template: str, user: RemoteUser) -> str:
    fields = _Blank(user.name_fields)
    fields["displayname"] = user.displayname
    fields.setdefault("userid", str(user.id))
    name = user.displayname
    if _plain_fields_only(template):
        with contextlib.suppress(ValueError):  # a bad conversion or format spec
            name = template.format_map(fields)
    return " ".join(name.split()) or str(user.id)


class GhostManager:
    def __init__(
        self,
        config: Config,
        matrix: MatrixClient,
        store: GhostStore,
        connector: NetworkConnector,
    ) -> None:
        self._config = config
        self._connector = connector
        self._matrix = matrix
        self._store = store
        # Ghosts seen lately, as stored: a steady conversation needs no database look-up.
        self._known: BoundedDict[str, KnownGhost] = BoundedDict(MAX_CACHED)
        self._namespace = re.compile(user_namespace(config))
        localpart = re.escape(config.bridge.username_template).replace(
            re.escape("{userid}"), "(?P<id>.+)"
        )
        self._localpart = re.compile(f"^@{localpart}:{re.escape(config.homeserver.domain)}$")

    def mxid_for(self, remote_id: RemoteUserID | str) -> str:
        localpart = self._config.bridge.username_for(str(remote_id))
        return f"@{localpart}:{self._config.homeserver.domain}"

    def is_ghost(self, mxid: str) -> bool:
        return self._namespace.fullmatch(mxid) is not None

    def remote_id_of(self, mxid: str) -> RemoteUserID | None:
        match = self._localpart.match(mxid)
        return RemoteUserID(match.group("id")) if match else None

    async def ensure(self, user: RemoteUser) -> KnownGhost:
        """Register the ghost and bring its display name and avatar up to date."""
        mxid = self.mxid_for(user.id)
        ghost = self._known.touch(str(user.id))
        if ghost is None:
            row = await self._store.get_or_create(str(user.id), mxid)
            ghost = self._known[str(user.id)] = KnownGhost.of(row)
        intent = self._matrix.intent(mxid)
        await intent.ensure_registered()
        name = render_displayname(self._config.bridge.displayname_template, user)
        if ghost.displayname != name:
            await intent.set_displayname(name, check_current=False)
            await self._store.update(ghost.id, displayname=name)
            ghost.displayname = name
        avatar = user.avatar
        if avatar is None and user.avatar_lookup and isinstance(self._connector, LooksUpAvatars):
            avatar = await self._connector.user_avatar(user.id)
        if avatar is not None and avatar.id != (ghost.avatar_id or ""):
            mxc = await upload_avatar(self._connector, intent, avatar) if avatar.id else ""
            if mxc is not None:
                await intent.set_avatar_url(mxc)  # type: ignore[arg-type]
                await self._store.update(ghost.id, avatar_id=avatar.id, avatar_mxc=mxc or None)
                ghost.avatar_id = avatar.id
        return ghost
