"""Every portal's id, chat and room, kept in memory, so that intake can route an event to its
lane without asking the database (and so without failing after the event was stored)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.network.ids import PortalKey, RemoteChatID


@dataclass
class IndexEntry:
    key: PortalKey
    room_id: str | None = None
    # Other chat ids whose events belong to this portal (a chat that moved to a new id).
    aliases: set[PortalKey] = field(default_factory=set)


class PortalIndex:
    def __init__(self) -> None:
        self._entries: dict[int, IndexEntry] = {}
        self._by_key: dict[PortalKey, int] = {}
        self._by_room: dict[str, int] = {}
        self._receivers: dict[RemoteChatID, dict[str, int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, key: PortalKey) -> int | None:
        return self._by_key.get(key)

    def by_room(self, room_id: str) -> int | None:
        return self._by_room.get(room_id)

    def entry(self, portal_id: int) -> IndexEntry | None:
        return self._entries.get(portal_id)

    def receivers(self, chat: RemoteChatID) -> dict[str, int]:
        """The portals of one remote chat held for particular Matrix users (direct chats
        through the bot), by that user."""
        return dict(self._receivers.get(chat, {}))

    def with_rooms(self) -> list[tuple[int, IndexEntry]]:
        return [(pid, entry) for pid, entry in self._entries.items() if entry.room_id]

    def add(self, portal_id: int, key: PortalKey, room_id: str | None = None) -> None:
        entry = self._entries.get(portal_id)
        if entry is None:
            entry = self._entries[portal_id] = IndexEntry(key)
        else:
            self._by_key.pop(entry.key, None)
            self._forget_receiver(entry.key, portal_id)
            entry.key = key
        self._by_key[key] = portal_id
        if key.receiver:
            self._receivers.setdefault(key.chat_id, {})[key.receiver] = portal_id
        self.set_room(portal_id, room_id)

    def _forget_receiver(self, key: PortalKey, portal_id: int) -> None:
        held = self._receivers.get(key.chat_id)
        if held is not None and held.get(key.receiver) == portal_id:
            del held[key.receiver]
            if not held:
                del self._receivers[key.chat_id]

    def set_room(self, portal_id: int, room_id: str | None) -> None:
        entry = self._entries[portal_id]
        if entry.room_id is not None and self._by_room.get(entry.room_id) == portal_id:
            del self._by_room[entry.room_id]
        entry.room_id = room_id
        if room_id is not None:
            self._by_room[room_id] = portal_id

    def alias(self, portal_id: int, key: PortalKey, override: bool = False) -> None:
        """Events of ``key`` go to this portal too (unless ``key`` has a portal of its own and
        ``override`` is false)."""
        entry = self._entries[portal_id]
        entry.aliases.add(key)
        if override:
            self._by_key[key] = portal_id
        else:
            self._by_key.setdefault(key, portal_id)

    def remove(self, portal_id: int) -> None:
        entry = self._entries.pop(portal_id, None)
        if entry is None:
            return
        for key in (entry.key, *entry.aliases):
            if self._by_key.get(key) == portal_id:
                del self._by_key[key]
        self._forget_receiver(entry.key, portal_id)
        if entry.room_id is not None and self._by_room.get(entry.room_id) == portal_id:
            del self._by_room[entry.room_id]
