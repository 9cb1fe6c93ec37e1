"""Who may do what: ``bridge.permissions`` resolved for one Matrix user."""

from __future__ import annotations

from collections.abc import Mapping

from .config.model import PermissionLevel


def permission_level(mxid: str, permissions: Mapping[str, PermissionLevel]) -> PermissionLevel:
    """The most specific entry wins: the full Matrix ID, then its server name, then ``*``."""
    if mxid in permissions:
        return permissions[mxid]
    _, _, server = mxid.partition(":")
    if server and server in permissions:
        return permissions[server]
    return permissions.get("*", PermissionLevel.NONE)
