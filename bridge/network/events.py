"""Events a connector hands to the core. Frozen dataclasses, dispatched with ``match``.

They are stored in the remote inbox before the network is told they arrived, so they must be
plain data: the codec below turns them into JSON and back (``kind`` names the type there only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from .ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID


@dataclass(frozen=True, slots=True)
class AvatarRef:
    """A remote picture: ``id`` changes exactly when the picture does (an empty id means the
    picture was removed); ``key`` is what the connector needs to download it."""

    id: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """A remote user as the network describes them at the time of an event."""

    id: RemoteUserID
    displayname: str
    # Extra fields for ``bridge.displayname_template`` (Telegram: first_name, last_name, username).
    name_fields: dict[str, str] = field(default_factory=dict)
    # None when the event did not say (the ghost's avatar is then left as it is).
    avatar: AvatarRef | None = None
    is_bot: bool = False
    # The event did not say, but the connector tells on request (LooksUpAvatars): asked when
    # the event is handled, in its portal's lane, never while the network's update is taken.
    avatar_lookup: bool = False


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A remote file: ``key`` is what the connector needs to download it; the rest is what
    Matrix shows about it (each None when the network did not say)."""

    key: str
    mimetype: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class MediaRef:
    """The file a message part carries, and how Matrix should show it. Only a reference: the
    portal downloads it when it handles the event, never on arrival."""

    file: MediaFile
    msgtype: Literal["m.image", "m.file", "m.video", "m.audio"]
    # "m.sticker" is an event type of its own in Matrix.
    sticker: bool = False
    file_name: str | None = None
    duration_ms: int | None = None
    # A voice message (MSC3245), a looping silent animation (a GIF sent as MP4).
    voice: bool = False
    looping: bool = False
    thumbnail: MediaFile | None = None


@dataclass(frozen=True, slots=True)
class PollStart:
    """A poll as Matrix shows it (MSC3381)."""

    question: str
    answers: tuple[str, ...]
    max_selections: int = 1
    # Whether who voted for what is shown (Telegram: a poll that is not anonymous).
    disclosed: bool = True


@dataclass(frozen=True, slots=True)
class MessageContent:
    """One Matrix-ready part of a message: text, a file with its caption as the body, a
    location (``geo_uri``) or a poll; ``body`` is always readable on its own."""

    body: str
    html: str | None = None
    msgtype: Literal["m.text", "m.notice", "m.emote", "m.location"] = "m.text"
    media: MediaRef | None = None
    geo_uri: str | None = None
    poll: PollStart | None = None


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """What the network says about a chat, used to create and update its room."""

    name: str | None = None
    topic: str | None = None
    avatar: AvatarRef | None = None
    is_direct: bool = False
    # Anybody may join the chat on the network (a Telegram chat with a public @username): it
    # may be opened from Matrix by its alias without one of its admins asking.
    public: bool = False


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    portal: PortalKey
    message_id: RemoteMessageID
    sender: RemoteUser
    parts: tuple[MessageContent, ...]
    timestamp: datetime
    reply_to: RemoteMessageID | None = None
    # The message that started the topic (a Matrix thread) this message belongs to.
    thread_id: RemoteMessageID | None = None
    kind: Literal["message"] = "message"


@dataclass(frozen=True, slots=True)
class RemoteEdit:
    """A remote message's new content, part for part. ``edit_id`` tells this edit apart from
    other edits of the same message (Telegram: the update that carried it)."""

    portal: PortalKey
    message_id: RemoteMessageID
    sender: RemoteUser
    parts: tuple[MessageContent, ...]
    edit_id: str
    timestamp: datetime
    kind: Literal["edit"] = "edit"


@dataclass(frozen=True, slots=True)
class RemoteDeletion:
    """A remote message was deleted (on networks that say so: Telegram tells bots only in
    Business chats)."""

    portal: PortalKey
    message_id: RemoteMessageID
    kind: Literal["deletion"] = "deletion"


@dataclass(frozen=True, slots=True)
class RemoteReaction:
    """A remote user's reactions to a message changed: ``added`` and ``removed`` emojis.
    ``reaction_id`` tells this change apart from later ones (Telegram: its update)."""

    portal: PortalKey
    message_id: RemoteMessageID
    sender: RemoteUser
    added: tuple[str, ...]
    removed: tuple[str, ...]
    reaction_id: str
    timestamp: datetime
    kind: Literal["reaction"] = "reaction"


@dataclass(frozen=True, slots=True)
class RemoteChatCreate:
    """Create the portal's room (if it has none) with ``info``, inviting ``invite`` (Matrix
    users) to it; ``request_id`` identifies what asked for it (for example the /bridge
    message), for the connector's answer. Stored and handled in the portal's order like any
    event, so a chat's first messages may follow it at once, before the room exists."""

    portal: PortalKey
    info: ChatInfo
    requested_by: RemoteUser | None = None
    request_id: RemoteMessageID | None = None
    invite: tuple[str, ...] = ()
    kind: Literal["chat_create"] = "chat_create"


@dataclass(frozen=True, slots=True)
class RemoteChatUpdate:
    """The chat's name, topic or picture changed; None fields did not change."""

    portal: PortalKey
    sender: RemoteUser | None
    name: str | None = None
    topic: str | None = None
    avatar: AvatarRef | None = None
    timestamp: datetime | None = None
    kind: Literal["chat_update"] = "chat_update"


@dataclass(frozen=True, slots=True)
class RemoteMembership:
    """A remote user joined or left the chat (``by`` is who added or removed them, if another)."""

    portal: PortalKey
    user: RemoteUser
    membership: Literal["join", "leave"]
    by: RemoteUser | None = None
    kind: Literal["membership"] = "membership"


@dataclass(frozen=True, slots=True)
class RemoteChatMigrate:
    """The chat moved to a new id (a Telegram group upgraded to a supergroup); the portal
    follows it."""

    portal: PortalKey
    new_chat_id: RemoteChatID
    kind: Literal["chat_migrate"] = "chat_migrate"


RemoteEvent = (
    RemoteMessage
    | RemoteEdit
    | RemoteDeletion
    | RemoteReaction
    | RemoteChatCreate
    | RemoteChatUpdate
    | RemoteMembership
    | RemoteChatMigrate
)

_CODEC: TypeAdapter[RemoteEvent] = TypeAdapter(Annotated[RemoteEvent, Field(discriminator="kind")])


def encode_event(event: RemoteEvent) -> dict[str, Any]:
    encoded: dict[str, Any] = _CODEC.dump_python(event, mode="json")
    return encoded


def decode_event(data: dict[str, Any]) -> RemoteEvent:
    return _CODEC.validate_python(data)
