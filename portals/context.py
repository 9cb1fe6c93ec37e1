"""The services portal handling needs, built once in the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.accounts import AccountLinks
from bridge.commands.processor import CommandProcessor
from bridge.config.model import Config
from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore
from bridge.db.marks import HandledMarks
from bridge.db.stores import MessageStore, PortalStore, ReactionStore
from bridge.double_puppet import DoublePuppets
from bridge.ghosts import GhostManager
from bridge.lru import BoundedDict
from bridge.matrix.client import MatrixClient
from bridge.matrix.gaps import DeliveryGaps
from bridge.metrics import BridgeMetrics
from bridge.network.interface import NetworkConnector
from bridge.users import UserManager

from .index import PortalIndex
from .retries import FailingHeads

# Display names of Matrix users per room, as the room's member events say.
MAX_NAMES = 20_000
MAX_ACTIVE_ROOMS = 10_000


@dataclass
class StartupIds:
    """The newest inbox ids when the bridge started: events up to them may have been handled
    partly before it stopped, and are handled with care."""

    matrix: int = 0
    remote: int = 0


@dataclass(frozen=True, slots=True)
class PortalContext:
    config: Config
    matrix: MatrixClient
    ghosts: GhostManager
    users: UserManager
    portals: PortalStore
    messages: MessageStore
    reactions: ReactionStore
    matrix_inbox: MatrixInboxStore
    remote_inbox: RemoteInboxStore
    marks: HandledMarks
    connector: NetworkConnector
    commands: CommandProcessor
    gaps: DeliveryGaps
    accounts: AccountLinks
    puppets: DoublePuppets
    metrics: BridgeMetrics
    # Whether every health check is up (the homeserver, the network, the background tasks):
    # an event that keeps failing meanwhile has trouble of its own (portals/retries.py).
    healthy: Callable[[], bool]
    index: PortalIndex = field(default_factory=PortalIndex)
    startup: StartupIds = field(default_factory=StartupIds)
    names: BoundedDict[tuple[str, str], str] = field(default_factory=lambda: BoundedDict(MAX_NAMES))
    # When a Matrix user last wrote in a portal room (monotonic), for the sweep for events the
    # homeserver never delivered.
    activity: BoundedDict[str, float] = field(default_factory=lambda: BoundedDict(MAX_ACTIVE_ROOMS))
    # Events a lane keeps in memory; more wait in the inbox.
    queue_size: int = 256
    # Seconds without work after which a lane's worker stops (it starts again on demand).
    idle_after: float = 60.0
    # The portals whose head event fails now (see retries.py).
    failing: FailingHeads = field(default_factory=FailingHeads)
