"""The Matrix side of the driver: a reader that notes when benchmark messages become visible,
and helpers for users and rooms (on the project's test client)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

from tests.support.matrix_client import MatrixError, MatrixTestClient

from .proxies import token_of

CLIENT = "/_matrix/client/v3"
_FILTER = json.dumps(
    {
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "room": {
            "timeline": {"limit": 200, "types": ["m.room.message"]},
            "state": {"lazy_load_members": True, "types": []},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    },
    separators=(",", ":"),
)


def quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class Reader:
    """A Matrix user in every benchmark room, long-polling /sync: ``seen`` maps each benchmark
    token to when the sync that showed it returned (``time.monotonic()``)."""

    def __init__(self, client: MatrixTestClient) -> None:
        self.client = client
        self.seen: dict[str, float] = {}
        self.per_room: dict[str, int] = {}
        self.syncs = 0  # answered /sync requests
        self._event_ids: set[str] = set()
        self._since: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        await self._sync(0)  # skip what happened before
        self.seen.clear()
        self.per_room.clear()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(self, tokens: Iterable[str], timeout: float) -> float:
        """When the last of ``tokens`` became visible; raises if not all did in time."""
        wanted = set(tokens)
        deadline = time.monotonic() + timeout
        while True:
            missing = [t for t in wanted if t not in self.seen]
            if not missing:
                return max(self.seen[t] for t in wanted)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{len(missing)} of {len(wanted)} messages not visible in Matrix after "
                    f"{timeout:.0f} s (e.g. {sorted(missing)[:3]})"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))

    async def _loop(self) -> None:
        while True:
            try:
                await self._sync(10)
            except (MatrixError, OSError, TimeoutError):
                await asyncio.sleep(0.2)

    async def _sync(self, long_poll: float) -> None:
        params = {"timeout": str(int(long_poll * 1000)), "filter": _FILTER}
        if self._since is not None:
            params["since"] = self._since
        result = await self.client.request(
            "GET", f"{CLIENT}/sync", params=params, http_timeout=long_poll + 60
        )
        now = time.monotonic()
        self.syncs += 1
        for room_id, room in result.get("rooms", {}).get("join", {}).items():
            timeline = room.get("timeline", {})
            events: list[dict[str, Any]] = timeline.get("events", [])
            if timeline.get("limited") and timeline.get("prev_batch"):
                events = await self._backfill(room_id, timeline["prev_batch"]) + events
            for event in events:
                self._note(room_id, event, now)
        self._since = result["next_batch"]
        self._changed.set()

    def _note(self, room_id: str, event: dict[str, Any], now: float) -> None:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or event_id in self._event_ids:
            return
        self._event_ids.add(event_id)
        token = token_of(event.get("content", {}).get("body"))
        if token is not None and token not in self.seen:
            self.seen[token] = now
            self.per_room[room_id] = self.per_room.get(room_id, 0) + 1

    async def _backfill(self, room_id: str, token: str) -> list[dict[str, Any]]:
        newest_first: list[dict[str, Any]] = []
        path = f"{CLIENT}/rooms/{quote(room_id)}/messages"
        for _ in range(100):
            params = {"dir": "b", "from": token, "limit": "100"}
            page = await self.client.request("GET", path, params=params)
            chunk: list[dict[str, Any]] = page.get("chunk", [])
            for event in chunk:
                if event.get("event_id") in self._event_ids:
                    return newest_first[::-1]
                newest_first.append(event)
            if not chunk or "end" not in page:
                break
            token = page["end"]
        return newest_first[::-1]


async def send_text(client: MatrixTestClient, room_id: str, body: str, txn: str) -> None:
    """One m.text, trying again (same transaction id) on passing trouble."""
    path = f"{CLIENT}/rooms/{quote(room_id)}/send/m.room.message/{quote(txn)}"
    for attempt in range(20):
        try:
            await client.request("PUT", path, {"msgtype": "m.text", "body": body})
            return
        except MatrixError as error:
            if error.status < 500 and error.status != 429:
                raise
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"could not send {body!r} to {room_id}")
