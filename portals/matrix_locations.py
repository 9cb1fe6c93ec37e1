"""A Matrix user's shared location, on its way to the network: its coordinates, read from the
``geo:`` URI (RFC 5870) of m.location or MSC3488."""

from __future__ import annotations

from typing import Any

from bridge.network.capabilities import SendsLocations
from bridge.network.interface import NetworkConnector

from .state import Notify


async def location_of(
    connector: NetworkConnector, content: dict[str, Any], notify: Notify
) -> tuple[float, float] | None:
    """The coordinates of an m.location (None, with a notice, if it cannot go)."""
    if not isinstance(connector, SendsLocations) or not connector.sends_locations:
        await notify(
            f"Your location was not bridged: {connector.display_name} does not take them "
            "from the bridge.",
        )
        return None
    extensible = content.get("org.matrix.msc3488.location")
    uri = content.get("geo_uri")
    if not isinstance(uri, str) and isinstance(extensible, dict):
        uri = extensible.get("uri")
    geo = parse_geo_uri(uri) if isinstance(uri, str) else None
    if geo is None:
        await notify("Your location was not bridged: it has no geo: URI the bridge reads.")
    return geo


def parse_geo_uri(uri: str) -> tuple[float, float] | None:
    """Latitude and longitude of an RFC 5870 ``geo:`` URI (``geo:52.5,13.4;u=20``)."""
    if not uri.lower().startswith("geo:"):
        return None
    coordinates = uri[4:].split(";", 1)[0].split(",")
    try:
        latitude, longitude = float(coordinates[0]), float(coordinates[1])
    except (IndexError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude
