"""The composition root: builds every part once, starts them in order, stops them cleanly."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from mautrix.errors import MatrixRequestError
from yarl import URL

from portals.bridging import PortalBridging
from portals.commands import portal_commands
from portals.context import PortalContext, StartupIds
from portals.core import BridgeCore
from portals.direct_chats import DirectChats, direct_commands
from portals.ephemeral import EphemeralRelay
from portals.manager import PortalManager
from portals.notices import send_notice
from portals.read_markers import ReadMarkerRelay
from portals.router import Router
from portals.stuck_commands import stuck_commands
from portals.typing import TypingRelay
from portals.user_notices import UserNotices

from . import __version__
from .accounts import AccountLinks
from .commands.account_commands import account_commands, link_status
from .commands.core_commands import core_commands
from .commands.processor import CommandProcessor
from .commands.status_command import status_command
from .config.model import Config, PermissionLevel
from .db.accounts import AccountStore
from .db.counts import bridge_counts
from .db.database import Database
from .db.inbox import MatrixInboxStore, RemoteInboxStore
from .db.marks import HandledMarks
from .db.notices import NoticeStore
from .db.stores import (
    GhostStore,
    KeyValueStore,
    MessageStore,
    PortalStore,
    ReactionStore,
    UserStore,
)
from .double_puppet import DoublePuppets
from .ghosts import GhostManager
from .health import HealthCheck, Probe, Supervisor, all_ok
from .management import ManagementRooms
from .matrix.call_metrics import matrix_call_trace
from .matrix.client import MatrixClient
from .matrix.gaps import DeliveryGaps
from .matrix.listener import AppserviceListener
from .matrix.power import RoomPower
from .matrix.startup_checks import check_as_token, check_homeserver, check_ping
from .metrics import MATRIX_TO_REMOTE, REMOTE_TO_MATRIX, BridgeMetrics
from .network.capabilities import ReportsHealth, ServesHttp, TellsLimits
from .network.interface import NetworkConnector
from .provisioning.api import ProvisioningAPI
from .users import UserManager

if TYPE_CHECKING:
    from .metrics_server import MetricsServer
    from .prometheus_metrics import PrometheusMetrics

log = logging.getLogger("bridge")

# How often recently active portal rooms are checked for events never delivered, and what
# counts as recently.
SWEEP_INTERVAL = 30.0
SWEEP_ACTIVE_WITHIN = 600.0

# Handled events are remembered this long for deduplication, then pruned.
INBOX_RETENTION = timedelta(days=7)
PRUNE_INTERVAL = 3600.0
# Seconds between checks that the homeserver answers (for /_matrix/mau/ready and status).
HEALTH_INTERVAL = 15.0
# Portals that never got a room are forgotten after this long.
ROOMLESS_RETENTION = timedelta(days=1)


class Bridge:
    def __init__(
        self,
        config: Config,
        connector: NetworkConnector,
        queue_size: int = 256,
        idle_after: float = 60.0,
        keep_secret: Callable[[str], None] = lambda _: None,
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        self.config = config
        self.connector = connector
        # Adds a secret learnt while running (a user's access token) to what logs never show.
        self._keep_secret = keep_secret
        self.queue_size = queue_size
        self.idle_after = idle_after
        self.db = Database(config.appservice.database)
        # Counted only when served: prometheus_client is loaded then only.
        self.metrics = BridgeMetrics()
        self._prometheus: PrometheusMetrics | None = None
        if config.metrics.enabled:
            from .prometheus_metrics import PrometheusMetrics

            self.metrics = self._prometheus = PrometheusMetrics(__version__, connector.name)
        self._metrics_server: MetricsServer | None = None
        self._http: aiohttp.ClientSession | None = None
        self._listener: AppserviceListener | None = None
        # Background tasks, restarted if they die and reported by /ready and status.
        self.tasks = Supervisor()
        self.health_interval = health_interval
        self._homeserver: Probe | None = None
        self._homeserver_origin = URL(config.homeserver.address).origin()
        self.core: BridgeCore | None = None
        self.portals: PortalManager | None = None
        self.matrix: MatrixClient | None = None
        self.router: Router | None = None
        self.ephemeral: list[EphemeralRelay] = []
        self.marks: HandledMarks | None = None
        self.accounts: AccountLinks | None = None
        self._stopped = False

    async def _accounts(
        self, matrix: MatrixClient, user_store: UserStore
    ) -> tuple[AccountLinks, DoublePuppets, UserNotices]:
        """Linked accounts and double puppeting, loaded from the database, and the notices
        they (and the network) give users."""
        assert self._http is not None
        notices = UserNotices(
            NoticeStore(self.db),
            user_store,
            lambda room_id, text, txn_id: send_notice(matrix.bot, room_id, text, txn_id=txn_id),
        )
        store = AccountStore(self.db)
        accounts = self.accounts = AccountLinks(store, notices.tell)
        await accounts.load()
        puppets = DoublePuppets(self.config, matrix, store, self._http, self._keep_secret)
        await puppets.load()
        return accounts, puppets, notices

    def _command_processor(
        self, accounts: AccountLinks, puppets: DoublePuppets
    ) -> CommandProcessor:
        """The commands that need no portals: the core's, accounts', status and the network's."""
        display_name = self.connector.display_name
        commands = CommandProcessor(
            self.config.bridge.command_prefix,
            core_commands(
                __version__,
                display_name,
                self.connector.status,
                self.connector.limits() if isinstance(self.connector, TellsLimits) else None,
                lambda mxid: link_status(accounts, display_name, mxid),
            ),
        )
        for command in account_commands(accounts, puppets, self.connector):
            commands.register(command)
        commands.register(
            status_command(
                display_name,
                lambda: self.core.health() if self.core is not None else [],
                self.queue_summary,
            )
        )
        for command in self.connector.commands():
            commands.register(command)
        return commands

    async def start(self) -> None:
        config = self.config
        await self.db.migrate()
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=config.homeserver.verify_ssl),
            trace_configs=[matrix_call_trace(self.metrics, self._homeserver_answered)],
        )
        matrix = self.matrix = MatrixClient(config, self._http)
        await check_homeserver(matrix, config)
        await check_as_token(matrix, config)
        await self._prepare_bot(matrix)

        network = self.connector.name
        user_store = UserStore(self.db)
        users = UserManager(config, user_store)
        ghosts = GhostManager(config, matrix, GhostStore(self.db, network), self.connector)
        matrix_inbox = MatrixInboxStore(self.db)
        remote_inbox = RemoteInboxStore(self.db)
        marks = self.marks = HandledMarks(matrix_inbox, remote_inbox)
        messages = MessageStore(self.db)
        accounts, puppets, notices = await self._accounts(matrix, user_store)
        display_name = self.connector.display_name
        commands = self._command_processor(accounts, puppets)
        startup = StartupIds(await matrix_inbox.max_id(), await remote_inbox.max_id())
        gaps = DeliveryGaps(first_new_id=startup.matrix + 1)
        ctx = PortalContext(
            config=config,
            matrix=matrix,
            ghosts=ghosts,
            users=users,
            portals=PortalStore(self.db, network),
            messages=messages,
            reactions=ReactionStore(self.db),
            matrix_inbox=matrix_inbox,
            remote_inbox=remote_inbox,
            marks=marks,
            connector=self.connector,
            commands=commands,
            gaps=gaps,
            accounts=accounts,
            puppets=puppets,
            metrics=self.metrics,
            healthy=lambda: all_ok(self.health()),
            startup=startup,
            queue_size=self.queue_size,
            idle_after=self.idle_after,
        )
        portals = self.portals = PortalManager(ctx)
        await portals.load_index()
        management = ManagementRooms(config, matrix, users, commands, self.connector.display_name)
        router = self.router = Router(ctx, portals, management.handle)
        bridging = PortalBridging(
            portals, ctx.portals, users, self.connector, accounts, RoomPower(matrix)
        )
        for command in portal_commands(bridging):
            commands.register(command)
        for command in stuck_commands(portals, display_name):
            commands.register(command)
        direct = DirectChats(matrix, ghosts, users, portals, self.connector)
        management.on_invite = direct.invited
        for command in direct_commands(direct, self.connector.display_name):
            commands.register(command)

        def relayed(mxid: str) -> bool:
            return (
                config.bridge.relay.enabled
                and not ghosts.is_ghost(mxid)
                and mxid != config.bot_mxid
                and users.level(mxid) >= PermissionLevel.RELAY
            )

        self.ephemeral = [
            TypingRelay(self.connector, ctx.index, relayed),
            ReadMarkerRelay(self.connector, ctx.index, ctx.messages, relayed),
        ]
        core = self.core = BridgeCore(
            config,
            network,
            matrix_inbox,
            remote_inbox,
            router,
            portals,
            ghosts,
            self.connector,
            gaps,
            accounts,
            messages,
            KeyValueStore(self.db),
            self.metrics,
            self.ephemeral,
        )

        await self.connector.start(core)
        lanes = await router.replay()
        if lanes:
            log.info("Events stored before the last stop wait in %d chats or rooms", lanes)
        await notices.start(router.in_room)
        self.tasks.start("inbox-marks", marks.run)
        await self._listen(
            core, self._provisioning_routes(matrix, users, ghosts, accounts, bridging)
        )
        await self._serve_metrics()
        await check_ping(matrix, config, f"startup-{secrets.token_hex(8)}")
        await self.connector.start_receiving()
        self._start_background_tasks(
            matrix, router, lambda: self._prune_periodically(matrix_inbox, remote_inbox, messages)
        )
        core.health_checks = self.health
        core.is_ready = True
        log.info("Bridge started as %s", config.bot_mxid)

    async def _serve_metrics(self) -> None:
        settings = self.config.metrics
        if self._prometheus is not None:  # settings.enabled
            from .metrics_server import MetricsServer

            server = self._metrics_server = MetricsServer(
                self._prometheus, settings.hostname, settings.listen_port, self._count
            )
            await server.start()

    async def _count(self) -> None:
        """The gauges, read from the database when the metrics are scraped."""
        counts = await bridge_counts(self.db, self.connector.name)
        metrics = self.metrics
        metrics.counts(counts.portals, counts.ghosts, counts.linked_users)
        # Handled events whose marks are held back (bridge/db/marks.py) wait no more.
        held = self.marks
        matrix = counts.matrix_waiting - (held.pending("matrix") if held is not None else 0)
        remote = counts.remote_waiting - (held.pending("remote") if held is not None else 0)
        metrics.queue_depth(MATRIX_TO_REMOTE, max(0, matrix))
        metrics.queue_depth(REMOTE_TO_MATRIX, max(0, remote))

    async def _listen(self, core: BridgeCore, provisioning: list[web.RouteDef]) -> None:
        """The homeserver's listener, with the network's routes and the provisioning API."""
        settings = self.config.appservice
        listener = self._listener = AppserviceListener(
            settings.hs_token, core, settings.hostname, settings.port, settings.max_body_size
        )
        if isinstance(self.connector, ServesHttp):
            listener.add_routes(self.connector.http_routes())
        listener.add_routes(provisioning)
        await listener.start()

    def _provisioning_routes(
        self,
        matrix: MatrixClient,
        users: UserManager,
        ghosts: GhostManager,
        accounts: AccountLinks,
        bridging: PortalBridging,
    ) -> list[web.RouteDef]:
        """The provisioning API's routes, if it is enabled."""
        config = self.config
        if not config.appservice.provisioning.active:
            return []

        def level(mxid: str) -> PermissionLevel:
            # The bridge's own users never act through the API.
            if ghosts.is_ghost(mxid) or mxid == config.bot_mxid:
                return PermissionLevel.NONE
            return users.level(mxid)

        api = ProvisioningAPI(
            config.appservice.provisioning,
            __version__,
            self.connector,
            level,
            accounts,
            bridging,
            matrix,
        )
        return api.routes()

    def _start_background_tasks(
        self, matrix: MatrixClient, router: Router, prune: Callable[[], Awaitable[None]]
    ) -> None:
        assert self.portals is not None
        portals = self.portals
        homeserver = self._homeserver = Probe("homeserver", matrix.versions)
        self.tasks.start("homeserver-check", lambda: homeserver.run(self.health_interval))
        self.tasks.start("prune", prune)
        self.tasks.start(
            "sweep", lambda: portals.sweep_periodically(SWEEP_INTERVAL, SWEEP_ACTIVE_WITHIN)
        )
        self.tasks.start("rescan", lambda: self._rescan_periodically(router))

    def _homeserver_answered(self, url: URL, status: int) -> None:
        # An answer from the homeserver itself (not a 5xx from a proxy before it, nor another
        # server a double puppet lives on) shows it reachable.
        probe = self._homeserver
        if probe is not None and status < 500 and url.origin() == self._homeserver_origin:
            probe.answered()

    def health(self) -> list[HealthCheck]:
        """The homeserver as last probed, the network's connection and every background task."""
        checks = [self._homeserver.check] if self._homeserver is not None else []
        if isinstance(self.connector, ReportsHealth):
            checks += self.connector.health()
        return checks + self.tasks.checks()

    def queue_summary(self) -> str:
        """How much waits in the portals' queues (those with work in memory)."""
        if self.portals is None:
            return "not started"
        lanes = [portal.lane for portal in self.portals.loaded()]
        busy = [lane for lane in lanes if lane.busy or len(lane) or lane.spilled]
        held = sum(len(lane) for lane in lanes)
        spilled = sum(1 for lane in lanes if lane.spilled)
        text = f"{len(busy)} of {len(lanes)} loaded portals have work; {held} events in memory"
        if spilled:
            text += f", and {spilled} portals have more waiting in the database"
        stuck = len(self.portals.stuck())
        if stuck:
            text += f"; {stuck} wait on an event that keeps failing (send stuck)"
        return text

    async def _prepare_bot(self, matrix: MatrixClient) -> None:
        bot = matrix.bot
        await bot.ensure_registered()
        wanted = self.config.appservice.bot_displayname
        if wanted:
            try:
                current = await bot.get_displayname(bot.mxid)
            except MatrixRequestError:
                current = None
            if current != wanted:
                await bot.set_displayname(wanted, check_current=False)
        avatar = self.config.appservice.bot_avatar
        if avatar:
            await bot.set_avatar_url(avatar)  # type: ignore[arg-type]

    async def _prune_periodically(
        self,
        matrix_inbox: MatrixInboxStore,
        remote_inbox: RemoteInboxStore,
        messages: MessageStore,
    ) -> None:
        while True:
            # Not at once: a start has enough to do, and nothing is due yet.
            await asyncio.sleep(PRUNE_INTERVAL)
            try:
                pruned = await matrix_inbox.prune(INBOX_RETENTION)
                pruned += await remote_inbox.prune(INBOX_RETENTION)
                pruned += await messages.prune_intents(INBOX_RETENTION)
                if self.portals is not None:
                    pruned += await self.portals.prune_roomless(ROOMLESS_RETENTION)
                if pruned:
                    log.debug("Pruned %d handled events, old intents and roomless portals", pruned)
            except Exception:
                log.exception("Pruning the inboxes failed")

    async def _rescan_periodically(self, router: Router) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await router.rescan_stranded()
            except Exception as error:
                log.warning("Looking for stranded events failed: %s", error)

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop taking new events, finish those in hand (within ``timeout``), close everything.

        What is not finished stays in the inbox and is handled after the next start.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.core is not None:
            self.core.is_ready = False
        # Intake first (nothing new comes in), then drain the queues while the connection to
        # the network still works, and only then disconnect: a send cut off mid-way would
        # come back in doubt after the next start.
        try:
            await self.connector.stop_receiving()
        except Exception:
            log.exception("Stopping %s intake failed", self.connector.name)
        if self._listener is not None:
            await self._listener.stop()
        for relay in self.ephemeral:
            await relay.stop()
        # Marks are written until the lanes are done (below).
        await self.tasks.stop(keep=("inbox-marks",))
        lanes = []
        if self.router is not None:
            lanes.append(self.router.close(timeout))
        if self.portals is not None:
            lanes.append(self.portals.close(timeout))
        finished = all(await asyncio.gather(*lanes))
        if not finished:
            log.warning("Stopped with events still queued; they are handled after the next start")
        await self.tasks.stop()
        if self.marks is not None:
            try:
                await self.marks.flush()
            except Exception as error:
                # Those events are handled again after the next start, which is harmless.
                log.warning("Could not mark the last handled events: %s", error)
        try:
            await self.connector.stop()
        except Exception:
            log.exception("Stopping the %s connector failed", self.connector.name)
        if self._http is not None:
            await self._http.close()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
        await self.db.close()
        log.info("Bridge stopped")
