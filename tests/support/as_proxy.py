"""An HTTP/1.1 proxy between the homeserver and the bridge's listener that can make one
transaction fail on the way, as a network or a proxy in between would: its connection is
reset after the bridge got it whole but before the answer reached the homeserver
("answer_lost"), or half-way through its body ("cut"). Everything else passes; what passed
and what was dropped is logged, with the time, so a test can tell what the homeserver sent
next."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from dataclasses import dataclass

from tests.support.ports import free_port

_TRANSACTION = re.compile(rb"^PUT /_matrix/app/v1/transactions/([^ ?]+)")
_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
MODES = ("answer_lost", "cut")


@dataclass(frozen=True)
class Passage:
    """A transaction on its way: passed, or dropped in one of the MODES."""

    txn_id: str
    outcome: str
    time: float


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (RST), as a connection lost on the way looks to its ends."""
    with contextlib.suppress(OSError):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head, body


class AppserviceProxy:
    def __init__(self, listen_port: int, bridge_port: int) -> None:
        self.port = listen_port
        self.bridge_port = bridge_port
        self.passages: list[Passage] = []
        self._armed: list[str] = []
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @classmethod
    def in_front_of_a_new_port(cls, listen_port: int) -> AppserviceProxy:
        return cls(listen_port, free_port())

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._connections):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def drop_next(self, mode: str) -> None:
        """The next transaction fails on the way, as ``mode`` says."""
        assert mode in MODES, mode
        self._armed.append(mode)

    def dropped(self) -> list[Passage]:
        return [p for p in self.passages if p.outcome != "passed"]

    def _dropped_ids(self) -> set[str]:
        return {p.txn_id for p in self.dropped()}

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            bridge_reader, upstream = await asyncio.open_connection("127.0.0.1", self.bridge_port)
            while True:
                head, body = await _message(reader)
                match = _TRANSACTION.match(head)
                mode = None
                if match and self._armed and match.group(1).decode() not in self._dropped_ids():
                    mode = self._armed.pop(0)  # a new transaction, not one sent again
                if mode == "cut":
                    upstream.write(head + body[: len(body) // 2])
                    await upstream.drain()
                    await asyncio.sleep(0.05)
                    self._note(match, mode)
                    return
                upstream.write(head + body)
                await upstream.drain()
                answer_head, answer_body = await _message(bridge_reader)
                if mode == "answer_lost":
                    self._note(match, mode)
                    return
                writer.write(answer_head + answer_body)
                await writer.drain()
                self._note(match, "passed")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            reset(writer)
            if upstream is not None:
                reset(upstream)
            self._connections.discard(task)

    def _note(self, match: re.Match[bytes] | None, outcome: str) -> None:
        if match is not None:
            self.passages.append(Passage(match.group(1).decode(), outcome, time.monotonic()))
