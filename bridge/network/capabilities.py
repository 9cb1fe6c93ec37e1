"""What a network may do beyond sending messages, each an optional protocol of its own.

The core checks for one with ``isinstance`` where it needs it, and tells the Matrix sender in
words when the network lacks it: a connector declares what it supports by what it implements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aiohttp import web

from ..health import HealthCheck
from .events import AvatarRef, MediaFile
from .ids import PortalKey, RemoteMessageID, RemoteUserID
from .outgoing import FileKind, MatrixEdit, PartRemoved, SendingPart, SendProgress, SentMessage


class MediaUnavailable(Exception):
    """A file the network will not hand over (too large for it, say); the text says why."""


@runtime_checkable
class EditsMessages(Protocol):
    def edit_message(
        self, portal: PortalKey, edit: MatrixEdit, progress: SendProgress
    ) -> AsyncIterator[SendingPart | SentMessage | PartRemoved]:
        """Change a message the bridge sent to the new content, part by part.

        Yields SentMessage for each part edited in place, and for a part the new content
        adds (after SendingPart, as ``send_message`` does; ``progress`` names such parts
        already sent or in doubt); PartRemoved for a part it no longer needs. Editing a part
        to what it already says is success. Raise DeliveryError when the network refuses for
        good, TemporaryFailure when it cannot take the edit now.
        """


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """A downloaded file. The connector may have made it into something Matrix clients show
    (an animated sticker into an animated image): then ``mimetype`` and the size say what it
    is now. ``problem``: it is delivered as it came, because converting it failed."""

    data: bytes = field(repr=False)
    mimetype: str | None = None
    width: int | None = None
    height: int | None = None
    problem: str | None = None


@runtime_checkable
class FetchesMedia(Protocol):
    async def fetch_media(self, media: MediaFile, sticker: bool = False) -> FetchedMedia:
        """Download a file a remote event named. ``sticker``: the network said the file is a
        sticker (MediaRef.sticker); only then may the connector convert it, never because of
        its type alone (a video sent as a file stays that file). Raise MediaUnavailable when
        the network will not hand it over, TemporaryFailure when it cannot now."""


@runtime_checkable
class LooksUpAvatars(Protocol):
    async def user_avatar(self, user: RemoteUserID) -> AvatarRef | None:
        """The remote user's picture now (AvatarRef("") when they have none), for a RemoteUser
        with ``avatar_lookup``; None when the network cannot tell now (the ghost's avatar is
        left as it is). Cheap when asked again soon: the connector remembers."""


@runtime_checkable
class DeletesMessages(Protocol):
    async def delete_messages(
        self, portal: PortalKey, message_ids: Sequence[RemoteMessageID]
    ) -> None:
        """Delete messages the bridge sent (all parts of one Matrix message). One already gone
        counts as deleted. Raise DeliveryError when the network refuses (with the reason),
        TemporaryFailure when it cannot now."""


@runtime_checkable
class SendsFiles(Protocol):
    """``send_message`` takes a MatrixMessage with a file of these kinds, up to this size."""

    @property
    def file_kinds(self) -> frozenset[FileKind]: ...

    @property
    def max_file_size(self) -> int:
        """Bytes; a larger file gets its sender a notice instead of a download."""


@runtime_checkable
class SendsLocations(Protocol):
    @property
    def sends_locations(self) -> bool:
        """``send_message`` takes a MatrixMessage with ``geo`` (latitude, longitude)."""


@runtime_checkable
class ReactsToMessages(Protocol):
    """The bridge holds one reaction per remote message, on behalf of whichever Matrix user
    reacted last."""

    def reaction_key(self, key: str) -> str | None:
        """The network's form of a Matrix reaction key; None if the network has no such
        reaction."""

    async def set_reaction(
        self, portal: PortalKey, message_id: RemoteMessageID, emoji: str | None
    ) -> None:
        """Make ``emoji`` the bridge's reaction on the message (None: take it away). Raise
        DeliveryError when the network refuses, TemporaryFailure when it cannot now."""


@runtime_checkable
class ShowsTyping(Protocol):
    async def show_typing(self, portal: PortalKey) -> None:
        """Show the bridge as typing in the remote chat for a few seconds (the core renews it
        while a Matrix user types). Best effort: failures are only logged."""


@runtime_checkable
class SendsReadMarkers(Protocol):
    async def mark_read(self, portal: PortalKey, reader: str, up_to: RemoteMessageID) -> None:
        """The Matrix user ``reader`` has read the chat up to this message (one the bridge
        carried either way). Best effort: failures are only logged."""


@runtime_checkable
class LinksAccounts(Protocol):
    def login_link(self, token: str) -> str:
        """Where a Matrix user takes this single-use login token to link their remote account
        (the connector hands it back with BridgeContext.link_account)."""

    async def administers(self, portal: PortalKey, user: RemoteUserID) -> bool:
        """Whether the remote user is an administrator of the chat (then the Matrix user
        linked to them may bridge it)."""


@dataclass(frozen=True, slots=True)
class BotContact:
    """How a remote user finds the bridge's bot on the network and opens a chat with it (a
    network may let a bot write only to users who did)."""

    handle: str  # as the network's users name it: "@example_bot"
    link: str  # opens the chat with the bot: "https://t.me/example_bot"
    first_step: str  # what they do there first: "press Start"

    def instructions(self) -> str:
        """What to ask of a remote user: "open @example_bot (https://...) and press Start"."""
        return f"open {self.handle} ({self.link}) and {self.first_step}"


@runtime_checkable
class HasBot(Protocol):
    @property
    def bot_contact(self) -> BotContact | None:
        """How remote users reach the bridge's bot; None while the connector is not
        connected."""


@runtime_checkable
class SendsAsUser(Protocol):
    def sends_as(self, portal: PortalKey, mxid: str) -> bool | None:
        """How a Matrix user's message in this portal goes out: True as their own remote
        account (no relay name), False not at all (the portal is someone else's), None
        relayed by the bot as everywhere else."""


@runtime_checkable
class TellsLimits(Protocol):
    def limits(self) -> str:
        """One or two sentences for ``help``: what the network never tells the bridge."""


@runtime_checkable
class ServesHttp(Protocol):
    def http_routes(self) -> Sequence[web.RouteDef]:
        """Routes the network serves on the bridge's own listener (a webhook, say), added
        before it starts. They are not behind the homeserver's token: each checks its own."""


@runtime_checkable
class ReportsHealth(Protocol):
    def health(self) -> Sequence[HealthCheck]:
        """The network connection as last seen and the connector's background tasks, for
        /_matrix/mau/ready and the status command; any check down makes the bridge not ready."""
        ...
