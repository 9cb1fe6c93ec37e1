"""The Prometheus endpoint, scraped over HTTP from a bridge running against a real Synapse and the
fake Bot API: every family is there, and the counters move as messages cross both ways, as a
flood limit (429) is waited out and as an event is refused."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge import __version__
from bridge.errors import StartupError
from bridge.prometheus_metrics import PrometheusMetrics
from connectors.telegram.http import api_method
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.ports import free_port
from tests.support.waiting import eventually

DOMAIN = "synapse.test"
FAMILIES = {
    # name (as the parser gives it) -> type
    "bridge_build_info": "gauge",  # an Info, in the classic text format
    "bridge_messages_bridged": "counter",
    "bridge_messages_failed": "counter",
    "bridge_delivery_retries": "counter",
    "bridge_queue_depth": "gauge",
    "bridge_queue_wait_seconds": "histogram",
    "bridge_transactions_received": "counter",
    "bridge_transaction_events_received": "counter",
    "bridge_matrix_api_call_seconds": "histogram",
    "bridge_matrix_api_errors": "counter",
    "bridge_remote_api_call_seconds": "histogram",
    "bridge_remote_api_errors": "counter",
    "bridge_remote_api_rate_limited": "counter",
    "bridge_portals": "gauge",
    "bridge_ghosts": "gauge",
    "bridge_linked_users": "gauge",
}
SEND_PATH = "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"


class Scrape:
    """One scrape of the endpoint, parsed."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            self.samples += [(s.name, s.labels, s.value) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(
            value
            for sample, found, value in self.samples
            if sample == name and labels.items() <= found.items()
        )

    def labels(self, name: str, key: str) -> set[str]:
        return {found[key] for sample, found, _ in self.samples if sample == name}


async def scrape(port: int) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Scrape(await response.text())


async def scrape_until(port: int, done: Callable[[Scrape], bool], what: str) -> Scrape:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        taken = await scrape(port)
        if done(taken):
            return taken
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_every_family_is_served_and_the_counters_move_as_messages_cross(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    db_url: str,
) -> None:
    """On both databases: the gauges are read from the store."""
    port = free_port()
    await telegram_bridge(
        database=db_url, overrides={**PLAIN, "metrics.enabled": True, "metrics.listen_port": port}
    )
    first = await scrape(port)
    assert {name: first.types.get(name) for name in FAMILIES} == FAMILIES
    assert first.value("bridge_build_info", version=__version__, network="telegram") == 1
    # Started: the bridge has called the homeserver and Telegram, and nothing crossed yet.
    assert first.value("bridge_remote_api_call_seconds_count", method="getMe") >= 1
    assert first.value("bridge_matrix_api_call_seconds_count") >= 1
    assert first.value("bridge_messages_bridged_total") == 0

    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Metered", members=[alice], username="metered")
    user = await make_matrix_user("reader", displayname="Reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")

    # Telegram to Matrix: a text, then its edit.
    message = fake_telegram.inject_text(group, alice, "from telegram")
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "from telegram")
    fake_telegram.inject_edit(group, message["message_id"], "from telegram, edited")
    await user.wait_for_event(room_id, lambda e: e["content"].get("body", "").endswith("edited"))
    # Matrix to Telegram: a text, then its redaction; and a poll, which does not cross.
    event_id = await user.send_message(room_id, "from matrix")
    await eventually(lambda: sent_texts(fake_telegram, group) == ["from matrix"], what="the text")
    await user.redact(room_id, event_id)
    await eventually(lambda: fake_telegram.calls_to("deleteMessage"), what="the deletion")
    poll = {"org.matrix.msc3381.poll.start": {"question": {"body": "?"}, "answers": []}}
    await user.send_event(room_id, "org.matrix.msc3381.poll.start", poll)

    now = await scrape_until(
        port,
        lambda taken: (
            taken.value("bridge_messages_failed_total", reason="unsupported") >= 1
            and taken.value("bridge_queue_depth") == 0
        ),
        "the poll refused and the queues empty",
    )
    bridged = "bridge_messages_bridged_total"
    assert now.value(bridged, direction="remote_to_matrix", kind="text") == 1
    assert now.value(bridged, direction="remote_to_matrix", kind="edit") == 1
    assert now.value(bridged, direction="matrix_to_remote", kind="text") == 1
    assert now.value(bridged, direction="matrix_to_remote", kind="redaction") == 1
    assert now.value("bridge_messages_failed_total", direction="matrix_to_remote") == 1
    for direction in ("matrix_to_remote", "remote_to_matrix"):
        # Each event handled was timed in its queue (the Matrix side also had joins, say).
        waits = now.value("bridge_queue_wait_seconds_count", direction=direction)
        assert waits >= 2, direction
        # Measured from when each was stored: seconds here, not more.
        waited = now.value("bridge_queue_wait_seconds_sum", direction=direction)
        assert 0 <= waited < 30 * waits, direction
    assert now.value("bridge_transactions_received_total") > first.value(
        "bridge_transactions_received_total"
    )
    assert now.value("bridge_transaction_events_received_total") >= 4
    # The ghost's message went out as a send, its template counted and not its ids.
    assert now.value("bridge_matrix_api_call_seconds_count", method="PUT", endpoint=SEND_PATH) >= 2
    assert all(
        "!" not in endpoint and "@" not in endpoint and "$" not in endpoint
        for endpoint in now.labels("bridge_matrix_api_call_seconds_count", "endpoint")
    )
    assert now.value("bridge_remote_api_call_seconds_count", method="sendMessage") == 1
    assert now.value("bridge_remote_api_call_seconds_count", method="deleteMessage") >= 1
    assert now.value("bridge_remote_api_call_seconds_count", method="getUpdates") >= 1
    assert now.value("bridge_portals") == 1
    assert now.value("bridge_ghosts") >= 1
    assert now.value("bridge_linked_users") == 0  # nobody linked an account


async def test_a_429_is_counted_apart_from_errors_and_as_a_retry(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    port = free_port()
    await telegram_bridge(overrides={**PLAIN, "metrics.enabled": True, "metrics.listen_port": port})
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Flooded", members=[alice], username="flooded")
    user = await make_matrix_user("reader", displayname="Reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.faults.retry_after("sendMessage", seconds=1, times=1, chat_id=group.id)
    fake_telegram.faults.server_error("sendMessage", 502, times=1, chat_id=group.id)

    await user.send_message(room_id, "held up")
    await eventually(lambda: sent_texts(fake_telegram, group) == ["held up"], what="the text")
    now = await scrape(port)
    assert now.value("bridge_remote_api_rate_limited_total", method="sendMessage") == 1
    assert now.value("bridge_remote_api_errors_total", method="sendMessage", error="502") == 1
    assert now.value("bridge_remote_api_errors_total", error="429") == 0
    # Three tries, each timed.
    assert now.value("bridge_remote_api_call_seconds_count", method="sendMessage") == 3
    retries = "bridge_delivery_retries_total"
    assert now.value(retries, direction="matrix_to_remote", reason="network_rate_limited") == 1
    assert now.value(retries, direction="matrix_to_remote", reason="network_unavailable") == 1
    assert now.value("bridge_messages_bridged_total", direction="matrix_to_remote") == 1


async def test_disabled_metrics_open_no_port_and_count_nothing(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    port = free_port()
    running = await telegram_bridge(overrides={"metrics.listen_port": port})
    assert not running.config.metrics.enabled  # the example's default
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/metrics")
    # Nothing counted: what is never served costs nothing (prometheus_client is not loaded;
    # tests/bridge/test_idle_imports.py checks that in a process of its own).
    assert not isinstance(running.bridge.metrics, PrometheusMetrics)


async def test_a_metrics_port_in_use_is_a_startup_error_naming_the_keys(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=rf"127.0.0.1:{port} \(metrics.hostname, metrics"):
            await telegram_bridge(overrides={"metrics.enabled": True, "metrics.listen_port": port})


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("http://127.0.0.1:1/bot123:SECRET/sendMessage", "sendMessage"),
        ("https://api.telegram.org/bot123:SECRET/getUpdates", "getUpdates"),
        ("https://api.telegram.org/file/bot123:SECRET/photos/file_1.jpg", "file_download"),
    ],
)
def test_the_bot_api_method_is_read_from_the_url_without_the_token(url: str, method: str) -> None:
    assert api_method(url) == method
