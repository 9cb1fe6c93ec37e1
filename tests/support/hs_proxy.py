"""A reverse proxy between the bridge and Synapse that can play a homeserver in trouble: refusing
connections, answering 502 or 503, or rate-limiting with M_LIMIT_EXCEEDED. Media downloads pass
as a stream, their bytes counted as they are written to the bridge, and can come without their
Content-Length (chunked, as from a homeserver that does not know it beforehand)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiohttp import web

from tests.support.ports import free_port

Mode = Literal["pass", "refuse", "502", "503", "rate_limit"]

# Hop-by-hop headers a proxy must not forward.
_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
}


@dataclass
class ProxyStats:
    forwarded: int = 0
    refused_with: dict[str, int] = field(default_factory=dict)
    # Bytes of media downloads written towards the bridge (some may still sit in the sockets'
    # buffers when the bridge hangs up), and downloads the bridge hung up on.
    media_bytes_sent: int = 0
    media_cut_off: int = 0


class HomeserverProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.port = free_port()
        self.mode: Mode = "pass"
        # With "rate_limit", the share of requests that get M_LIMIT_EXCEEDED.
        self.rate_limited_share = 0.5
        # Media downloads without Content-Length (sent chunked).
        self.hide_media_length = False
        self.stats = ProxyStats()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def set_mode(self, mode: Mode) -> None:
        """Switch behaviour; "refuse" closes the port so connections are refused (and drops
        requests on connections kept alive from before)."""
        if mode == "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None
        elif mode != "refuse" and self._site is None:
            await self._listen()
        self.mode = mode

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "refuse":
            # A connection kept alive from before: gone too, as when the server is down.
            self._count("refuse")
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if self.mode in ("502", "503"):
            self._count(self.mode)
            return web.Response(status=int(self.mode), text="upstream trouble")
        if self.mode == "rate_limit" and random.random() < self.rate_limited_share:
            self._count("rate_limit")
            body = {
                "errcode": "M_LIMIT_EXCEEDED",
                "error": "Too many requests",
                "retry_after_ms": 200,
            }
            return web.json_response(body, status=429)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        data = await request.read()
        url = f"{self.target}{request.rel_url}"
        if request.method == "GET" and "/media/" in request.path and "/download/" in request.path:
            return await self._stream(request, url, headers)
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=data, allow_redirects=False
            ) as upstream:
                body_bytes = await upstream.read()
                response = web.Response(status=upstream.status, body=body_bytes)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP:
                        response.headers[key] = value
                self.stats.forwarded += 1
                return response
        except (TimeoutError, aiohttp.ClientError):
            self._count("upstream_error")
            return web.Response(status=502, text=json.dumps({"error": "upstream unreachable"}))

    async def _stream(
        self, request: web.Request, url: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self._session is not None
        async with self._session.get(url, headers=headers, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP:
                    response.headers[key] = value
            if upstream.content_length is not None and not self.hide_media_length:
                response.content_length = upstream.content_length
            await response.prepare(request)
            self.stats.forwarded += 1
            try:
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                    self.stats.media_bytes_sent += len(chunk)
                await response.write_eof()
            except ConnectionError:
                self.stats.media_cut_off += 1
        return response

    def _count(self, what: str) -> None:
        self.stats.refused_with[what] = self.stats.refused_with.get(what, 0) + 1
