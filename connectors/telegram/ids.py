"""How Telegram's ids become the bridge's opaque ids. The one place that knows the encoding."""

from __future__ import annotations

from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID


def portal_key(chat_id: int) -> PortalKey:
    return PortalKey(RemoteChatID(str(chat_id)))


def chat_id_of(portal: PortalKey) -> int:
    """Raise ValueError for anything but a chat id as Telegram writes it (no sign, spaces or
    leading zeros that int() would let through): one chat must have one key."""
    chat_id = int(portal.chat_id)
    if str(chat_id) != portal.chat_id:
        raise ValueError(f"{portal.chat_id!r} is not a Telegram chat id")
    return chat_id


def user_id(telegram_id: int) -> RemoteUserID:
    """Users have positive ids; a chat speaking as itself (a channel) keeps its negative id."""
    return RemoteUserID(str(telegram_id))


def signature_user_id(chat_id: int, signature_digest: str) -> RemoteUserID:
    """A signed channel post's author: the channel plus a digest of the signature."""
    return RemoteUserID(f"{chat_id}.{signature_digest}")


def message_id(telegram_id: int) -> RemoteMessageID:
    return RemoteMessageID(str(telegram_id))


def update_key(update_id: int, index: int = 0) -> str:
    """The inbox key of the ``index``-th event made from one update."""
    return f"update:{update_id}:{index}"


def parse_chat_id(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
