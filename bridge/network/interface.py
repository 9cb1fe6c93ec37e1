"""The protocols between the core and a network connector.

The core never imports a network's library: it talks to the connector only through these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .events import AvatarRef, ChatInfo, RemoteChatCreate, RemoteEvent, RemoteUser
from .ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from .outgoing import MatrixMessage, SendingPart, SendProgress, SentMessage

if TYPE_CHECKING:
    from ..commands.types import Command
    from ..config.model import Config
    from ..metrics import BridgeMetrics


NOTHING_SENT = SendProgress()


class BridgeContext(Protocol):
    """What the core offers a connector."""

    @property
    def config(self) -> Config: ...

    @property
    def metrics(self) -> BridgeMetrics:
        """The bridge's metrics, for the network's API calls (``remote_call``)."""

    async def submit(self, event: RemoteEvent, dedup_key: str) -> bool:
        """Store a remote event durably and queue it for its portal.

        Returns once the event is stored (so the network may be told it arrived), False if an
        event with this key was stored before. ``dedup_key`` must be unique per network event.
        """

    async def submit_all(self, events: Sequence[tuple[RemoteEvent, str]]) -> list[bool]:
        """``submit`` for several events (with their keys) in one transaction, in their order:
        all are stored or none (then it raises). For each, whether it was new."""

    async def create_portal_room(
        self, portal: PortalKey, info: ChatInfo, invite: Sequence[str] = ()
    ) -> str:
        """Create (or return) the Matrix room of a portal, in the portal's order of events,
        and wait for it. It waits on the homeserver: intake stores a RemoteChatCreate instead,
        so that an absent homeserver holds up only that chat."""

    async def portal_room_id(self, portal: PortalKey) -> str | None: ...

    async def bridged_chats(self) -> list[PortalKey]:
        """The remote chats that have a portal room."""

    def ghost_user_id(self, user: RemoteUserID) -> str: ...

    def remote_user_of(self, mxid: str) -> RemoteUserID | None:
        """The remote user a ghost stands for; None for anyone else."""

    async def open_login(self, token: str, user: RemoteUser) -> str:
        """The remote user presents a login token (see LinksAccounts): it is theirs alone from
        now on, to confirm (``link_account``) or decline once they saw whom it links them to.
        Returns that Matrix user; raises LinkRefused if the token links nothing or another
        account opened it."""

    async def link_account(self, token: str, user: RemoteUser) -> str:
        """The remote user who opened a login token confirms: link them to the Matrix user it
        was made for, and return that user; raise LinkRefused if it links nothing (or is not
        theirs)."""

    async def decline_login(self, token: str, user: RemoteUser) -> str:
        """The remote user who opened a login token declines: nothing is linked, the token is
        spent and its Matrix user told; returns that user. Raises LinkRefused."""

    def linked_user(self, user: RemoteUserID) -> str | None:
        """The Matrix user linked to a remote account, if any."""

    async def direct_receivers(self, chat: RemoteChatID) -> list[str]:
        """The Matrix users with a direct chat portal for this remote chat (its portals with
        a receiver), the one with the most recent message first."""

    async def receiver_of(self, chat: RemoteChatID, message: RemoteMessageID) -> str | None:
        """The Matrix user whose direct chat portal bridged this message of the chat."""

    async def recent_messages(
        self, portals: Sequence[PortalKey], count: int
    ) -> list[RemoteMessageID] | None:
        """The remote ids of the messages the bridge mapped last in these portals (one per
        part, latest first, at most ``count``); None when none of them has a room."""

    async def tell_user(self, mxid: str, text: str) -> None:
        """A notice to a Matrix user in their management room (if they have one)."""

    async def load_state(self, key: str) -> Any:
        """A value the connector stored under ``key`` (None if none): kept over restarts."""

    async def save_state(self, key: str, value: Any) -> None:
        """Store a JSON-like value under ``key`` for this network."""


class NetworkConnector(Protocol):
    """One per network."""

    @property
    def name(self) -> str:
        """The network's config section and its name in the database (for example telegram)."""

    @property
    def display_name(self) -> str: ...

    def configure(self, section: Mapping[str, Any]) -> None:
        """Validate and take the network's config section; raise ConfigError naming the key."""

    async def start(self, bridge: BridgeContext) -> None:
        """Connect and get ready to send; do not deliver events yet."""

    async def start_receiving(self) -> None:
        """Begin handing remote events to the bridge (after pending ones were replayed)."""

    async def stop_receiving(self) -> None:
        """Stop taking remote events (confirming those stored); sending still works, so the
        queues can drain before ``stop``."""

    async def stop(self) -> None:
        """Disconnect; called once the queues have drained (or the stop timed out)."""

    def commands(self) -> Sequence[Command]: ...

    def send_message(
        self, portal: PortalKey, message: MatrixMessage, progress: SendProgress = NOTHING_SENT
    ) -> AsyncIterator[SendingPart | SentMessage]:
        """Carry a Matrix message to the remote chat.

        Yields SendingPart just before each part leaves and SentMessage once the network took
        it; the core notes and records them before asking for more, so a crash or a retry
        repeats at most the part in flight, and that one only if the connector cannot find it
        (see SendProgress.in_doubt). Raise DeliveryError when the network refuses for good,
        TemporaryFailure when it cannot take the message now.
        """

    async def get_chat_info(self, portal: PortalKey) -> ChatInfo:
        """The chat as the network shows it; raise ChatUnavailable if it cannot be bridged."""

    async def fetch_avatar(self, avatar: AvatarRef) -> tuple[bytes, str]:
        """Download a picture: its bytes and MIME type."""

    async def portal_created(
        self, portal: PortalKey, room_id: str, alias: str | None, request: RemoteChatCreate
    ) -> None:
        """Called after a RemoteChatCreate made a room (for example to answer /bridge)."""

    async def set_chat_name(self, portal: PortalKey, name: str) -> None:
        """Rename the remote chat; raise DeliveryError if the network refuses."""

    async def set_chat_topic(self, portal: PortalKey, topic: str) -> None:
        """Change the remote chat's description; raise DeliveryError if the network refuses."""

    async def status(self) -> str:
        """One line for the ``ping`` command: is the network connection up, as whom."""

    def secrets(self) -> Sequence[str]:
        """Values that must never appear in a log line (tokens)."""


class DeliveryError(Exception):
    """A message the network refused for good; the text says why, for the Matrix sender."""


class TemporaryFailure(Exception):
    """The network cannot take a request now (flood limit, outage); the core waits and tries
    again, ``retry_after`` seconds later when the network says.

    ``in_doubt``: the request may have reached the network all the same (a timeout or a
    connection lost after the request was written). Only then is a part looked for before it
    is sent again; a refusal (a flood limit, a 4xx, a connection never made) is a clear "not
    sent".
    """

    def __init__(
        self, reason: str, retry_after: float | None = None, *, in_doubt: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class LinkRefused(Exception):
    """A login token that links nothing (unknown, used or expired); the text says why, in
    words for the remote user."""


class ChatUnavailable(Exception):
    """A chat that cannot be bridged (unknown, or the bot is not in it); the text says why."""
