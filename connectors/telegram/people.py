"""Telegram users and chats as the core's RemoteUser and ChatInfo, with their pictures."""

from __future__ import annotations

import hashlib
import logging
import time

from telegram import Bot, Chat, ChatFullInfo, ChatMember, User
from telegram.error import TelegramError

from bridge.lru import BoundedDict
from bridge.network.events import AvatarRef, ChatInfo, RemoteUser

from . import ids

log = logging.getLogger("connectors.telegram.people")

# How long a user's profile photo is trusted before it is looked up again.
PHOTO_TTL = 6 * 3600.0
# People whose photo and @username are remembered (the most recently seen).
MAX_PEOPLE = 20_000


def full_name(first: str, last: str | None) -> str:
    return f"{first} {last}".strip() if last else first


class People:
    """Builds RemoteUsers; remembers usernames (for @mentions) and photo look-ups.

    A user's profile photo is not in Telegram's updates: it takes a getUserProfilePhotos call.
    That call is made when the portal's lane handles the user's event (``profile_photo``,
    through the core's LooksUpAvatars), not while the update is taken: intake stores first."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._photos: BoundedDict[int, tuple[float, AvatarRef | None]] = BoundedDict(MAX_PEOPLE)
        self.usernames: BoundedDict[str, tuple[int, str]] = BoundedDict(MAX_PEOPLE)

    def user(self, user: User) -> RemoteUser:
        name = full_name(user.first_name, user.last_name)
        if user.username:
            self.usernames[user.username.lower()] = (user.id, name)
        fields = {
            "first_name": user.first_name,
            "last_name": user.last_name or "",
            "username": user.username or "",
            "userid": str(user.id),
        }
        return RemoteUser(
            id=ids.user_id(user.id),
            displayname=name,
            name_fields=fields,
            avatar_lookup=True,
            is_bot=user.is_bot,
        )

    def chat_as_user(self, chat: Chat, signature: str | None = None) -> RemoteUser:
        """A channel (or a group speaking as itself) as a ghost; a signed channel post gets a
        ghost per signature, named after the author."""
        title = chat.title or str(chat.id)
        if signature:
            digest = hashlib.sha256(signature.encode()).hexdigest()[:10]
            return RemoteUser(
                id=ids.signature_user_id(chat.id, digest),
                displayname=f"{signature} ({title})",
                name_fields={"first_name": signature, "username": chat.username or ""},
            )
        return RemoteUser(
            id=ids.user_id(chat.id),
            displayname=title,
            name_fields={"first_name": title, "username": chat.username or ""},
        )

    async def profile_photo(self, user_id: int) -> AvatarRef | None:
        """The user's current profile photo (AvatarRef("") for none), looked up at most every
        PHOTO_TTL; None when Telegram does not tell now."""
        cached = self._photos.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < PHOTO_TTL:
            return cached[1]
        try:
            photos = await self._bot.get_user_profile_photos(user_id, limit=1)
        except TelegramError as error:
            log.debug("No profile photos for %d: %s", user_id, error)
            return None  # unknown: leave the ghost's avatar alone
        if photos.photos:
            largest = photos.photos[0][-1]
            avatar: AvatarRef | None = AvatarRef(largest.file_unique_id, largest.file_id)
        else:
            avatar = AvatarRef("")
        self._photos[user_id] = (time.monotonic(), avatar)
        return avatar


def chat_info(chat: ChatFullInfo) -> ChatInfo:
    avatar = AvatarRef("")
    if chat.photo is not None:
        avatar = AvatarRef(chat.photo.big_file_unique_id, chat.photo.big_file_id)
    name = chat.title or full_name(chat.first_name or "", chat.last_name) or str(chat.id)
    return ChatInfo(
        name=name,
        topic=chat.description or "",
        avatar=avatar,
        is_direct=chat.type == Chat.PRIVATE,
        public=bool(chat.username) and chat.type != Chat.PRIVATE,
    )


_PRESENT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


def is_present(member: ChatMember) -> bool:
    """In the chat: a member, an admin, the owner, or restricted but still a member."""
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in _PRESENT
