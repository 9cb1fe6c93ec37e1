"""A TCP proxy that can play a PostgreSQL server restarting, as its clients see it: open
connections are cut, new ones are refused while it is down, and then, while it starts up, new
connections are answered with FATAL 57P03 "the database system is starting up"."""

from __future__ import annotations

import asyncio
import contextlib
import struct

from tests.support.ports import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused = 0
        self.cut = 0
        self.starting_up_answers = 0
        self._starting_up = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        await self._close_listener()
        self._cut_all()
        for task in list(self._pipes):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def outage(self, seconds: float, starting_up: float = 0.0) -> None:
        """Cut every connection and refuse new ones for ``seconds``; then, for
        ``starting_up`` seconds, answer new ones as a server that is starting up."""
        await self._close_listener()
        self._cut_all()
        await asyncio.sleep(seconds)
        self._starting_up = starting_up > 0
        await self.start()
        if starting_up > 0:
            await asyncio.sleep(starting_up)
            self._starting_up = False

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            self.cut += 1
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._starting_up:
            await _answer_starting_up(reader, writer)
            self.starting_up_answers += 1
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.refused += 1
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.transport.abort()


_SSL_REQUEST = 80877103


async def _answer_starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Speak just enough of PostgreSQL's protocol to refuse a client as a starting server does."""
    try:
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        if length == 8 and struct.unpack("!I", body)[0] == _SSL_REQUEST:
            writer.write(b"N")  # no TLS; the startup message follows
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            await reader.readexactly(length - 4)
        fields = b"".join(
            code + text.encode() + b"\0"
            for code, text in (
                (b"S", "FATAL"),
                (b"V", "FATAL"),
                (b"C", "57P03"),
                (b"M", "the database system is starting up"),
            )
        )
        payload = fields + b"\0"
        writer.write(b"E" + struct.pack("!I", len(payload) + 4) + payload)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        writer.close()
