"""The services portal handling needs, built once in the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.commands.processor import CommandProcessor
from bridge.config.model import Config
from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore
from bridge.db.stores import MessageStore, PortalStore
from bridge.ghosts import GhostManager
from bridge.matrix.client import MatrixClient
from bridge.network.interface import NetworkConnector
from bridge.users import UserManager


@dataclass(frozen=True, slots=True)
class PortalContext:
    config: Config
    matrix: MatrixClient
    ghosts: GhostManager
    users: UserManager
    portals: PortalStore
    messages: MessageStore
    matrix_inbox: MatrixInboxStore
    remote_inbox: RemoteInboxStore
    connector: NetworkConnector
    commands: CommandProcessor
    queue_size: int = 256
