"""The Prometheus endpoint, on a port of its own (``metrics.listen_port``), apart from the
appservice listener: it is for the admin's monitoring, not for the homeserver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from .errors import StartupError
from .prometheus_metrics import PrometheusMetrics

log = logging.getLogger("bridge.metrics")

# A scrape waits this long for the gauges read from the database, then shows the last values.
REFRESH_TIMEOUT = 5.0


class MetricsServer:
    def __init__(
        self,
        metrics: PrometheusMetrics,
        host: str,
        port: int,
        refresh: Callable[[], Awaitable[None]],
    ) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._refresh = refresh
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/metrics", self._scrape), web.get("/", self._scrape)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except OSError as error:
            await self.stop()
            raise StartupError(
                f"Cannot serve metrics on {self._host}:{self._port} (metrics.hostname, "
                f"metrics.listen_port): {error.strerror or error}"
            ) from None
        log.info("Serving metrics on http://%s:%d/metrics", self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _scrape(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):
                await self._refresh()
        except Exception as error:
            # The counters are still worth having; the gauges show their last values.
            log.warning("Could not read the bridge's counts for the metrics: %s", error)
        # The format the scraper asks for (OpenMetrics, or the classic text format).
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encode(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})
