"""Network connectors. Each package here is the only code that imports its network's library;
the core finds them by name, importing one only when it is used."""

from __future__ import annotations

import importlib

from bridge.network.interface import NetworkConnector

# Config section -> "module:class" of its connector.
NETWORKS = {
    "telegram": "connectors.telegram.connector:TelegramConnector",
}


def create_connector(name: str) -> NetworkConnector:
    module_name, _, class_name = NETWORKS[name].partition(":")
    connector_class = getattr(importlib.import_module(module_name), class_name)
    connector: NetworkConnector = connector_class()
    return connector
