"""Hostile input at the appservice transaction endpoint, driven by hypothesis against a real
bridge (real Synapse, the in-memory FakeConnector, SQLite and PostgreSQL).

Hypothesis drives synchronous tests best, so the bridge runs in a thread with its own event
loop and the tests talk to it with blocking HTTP, as a homeserver (or anyone else) would. The
bridge must answer bad input with a 4xx and a Matrix error body, never a 5xx, keep taking
transactions after any of it, and handle (not just store) every event it acknowledged.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import logging
import threading
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bridge.app import Bridge
from bridge.db.models import MatrixInbox
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import SERVER_NAME, AppserviceSetup, bridge_config
from tests.support.databases import database_url
from tests.support.synapse import SynapseServer

T = TypeVar("T")

TXN_PATH = "/_matrix/app/v1/transactions/"
# Small enough that an oversized body is quick to send, large enough for "huge" strings.
MAX_BODY_SIZE = 1024 * 1024
HUGE = 60_000  # characters in a huge string (a whole Matrix event is at most 65,536 bytes)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FLOOD = 300


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_matrix_error(self, status: int, errcode: str | None = None) -> None:
        assert self.status == status, (self.status, self.body[:300])
        error = self.json()
        assert isinstance(error, dict), error
        assert isinstance(error.get("errcode"), str), error
        assert isinstance(error.get("error"), str), error
        assert error["error"], error
        if errcode is not None:
            assert error["errcode"] == errcode, error


class ErrorLog(logging.Handler):
    """Collects what the bridge logs at ERROR or above (unhandled failures, refused stores)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self.records.append(record)

    def take(self) -> list[str]:
        with self._lock2:
            taken, self.records = self.records, []
        return [f"{record.name}: {record.getMessage()}" for record in taken]


class BridgeThread:
    """A Bridge running in a thread of its own, with its own event loop."""

    def __init__(self, setup: AppserviceSetup, synapse_url: str, db_kind: str, tmp: Path) -> None:
        self.setup = setup
        self.port = setup.port
        self.hs_token = setup.hs_token
        self._synapse_url = synapse_url
        self._db_kind = db_kind
        self._tmp = tmp
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.bridge: Bridge | None = None
        self._thread = threading.Thread(target=self._run, name="fuzzed-bridge", daemon=True)

    def start(self, timeout: float = 90.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"the bridge did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(30)
            raise self._error

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the bridge did not stop"
        if self._error is not None:
            raise self._error

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` in the bridge's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with database_url(self._db_kind, self._tmp) as database:
                await self._serve(database)
        except BaseException as error:  # includes pytest's Skipped when PostgreSQL is absent
            if self._error is None:
                self._error = error
        finally:
            self._started.set()

    async def _serve(self, database: str) -> None:
        assert self._stop is not None
        connector = FakeConnector()
        config = bridge_config(
            self.setup,
            self._synapse_url,
            database,
            connector.name,
            {"appservice.max_body_size": MAX_BODY_SIZE},
        )
        connector.configure(config.networks[connector.name])
        bridge = self.bridge = Bridge(config, connector)
        try:
            await bridge.start()
        except BaseException:
            await bridge.stop(timeout=2)
            raise
        try:
            self._started.set()
            await self._stop.wait()
        finally:
            await bridge.stop(timeout=10)

    # Blocking HTTP, as the tests send it.

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if token == "default":
            token = self.hs_token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return Reply(response.status, response.read())
        finally:
            connection.close()

    def put_transaction(self, txn_id: str, body: bytes) -> Reply:
        return self.request("PUT", TXN_PATH + urllib.parse.quote(txn_id, safe=""), body)

    def unhandled_events(self) -> int:
        """Events stored in the inbox but not handled yet."""
        bridge = self.bridge
        assert bridge is not None

        async def count() -> int:
            async with bridge.db.session() as session:
                query = select(func.count()).where(MatrixInbox.handled_at.is_(None))
                return int((await session.execute(query)).scalar_one())

        return self.call(count())

    def assert_alive(self, errors: ErrorLog) -> None:
        """The bridge still answers, and has handled everything it acknowledged."""
        ping = self.request("POST", "/_matrix/app/v1/ping", b"{}")
        assert ping.status == 200, (ping.status, ping.body)
        ready = self.request("GET", "/_matrix/mau/ready", token=None)
        assert (ready.status, ready.json()) == (200, {"ok": True})
        # Events are handled in the background: a hostile one must not wedge a queue.
        deadline = time.monotonic() + 60
        while (left := self.unhandled_events()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == 0, f"{left} acknowledged events were never handled"
        logged = [line for line in errors.take() if line.startswith("bridge.listener")]
        assert logged == [], logged


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    synapse: SynapseServer,
    appservice_setup: AppserviceSetup,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BridgeThread]:
    """One bridge per database kind for the whole module (it holds the registered port, so it
    is stopped before the next module's bridges start)."""
    kind: str = request.param
    running = BridgeThread(appservice_setup, synapse.url, kind, tmp_path_factory.mktemp("fuzz"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def fresh_txn() -> str:
    return f"fuzz-{uuid.uuid4().hex}"


# Strategies.

# Every character, lone surrogates included: JSON escapes them and a homeserver bug (or an
# attacker) may send them.
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=30)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=25,
)


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


# Keys the bridge looks at, with the sort of values it expects, and junk of every kind.
_huge_text = st.integers(1, 2).map(lambda n: "x" * (HUGE * n // 2))
_junk = st.one_of(json_values, _huge_text, st.just([[[[[[[[[[[[{}]]]]]]]]]]]]))
_EVENT_TYPES = [
    "m.room.message",
    "m.room.member",
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.redaction",
    "m.reaction",
    "m.room.encrypted",
    "m.sticker",
    "org.example.unknown",
    "",
]
_event_ids = st.one_of(
    st.builds(lambda: f"$fuzz-{uuid.uuid4().hex}"),
    any_text.map(lambda text: f"${text}"),
    _junk,
)
_room_ids = st.one_of(
    st.sampled_from([f"!fuzz:{SERVER_NAME}", f"!nowhere:{SERVER_NAME}", "!a", ""]),
    any_text.map(lambda text: f"!{text}"),
    _junk,
)
_senders = st.one_of(
    st.sampled_from(
        [f"@fuzzer:{SERVER_NAME}", f"@admin:{SERVER_NAME}", "@x:elsewhere.example", "@telegrambot"]
    ),
    any_text,
    _junk,
)
_types = st.one_of(st.sampled_from(_EVENT_TYPES), any_text, _junk)
_contents = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "msgtype": st.one_of(st.sampled_from(["m.text", "m.notice", "m.image"]), _junk),
            "body": st.one_of(st.sampled_from(["!tg help", "help", "ping", "hi"]), _junk),
            "format": st.one_of(st.just("org.matrix.custom.html"), _junk),
            "formatted_body": st.one_of(st.just("<b>x</b><script>y"), _junk),
            "membership": st.one_of(st.sampled_from(["join", "invite", "leave"]), _junk),
            "is_direct": _junk,
            "name": _junk,
            "m.relates_to": _junk,
        },
    ),
    _junk,
)
_state_keys = st.one_of(st.just(""), st.just(f"@telegrambot:{SERVER_NAME}"), any_text, _junk)

events = st.fixed_dictionaries(
    {},
    optional={
        "event_id": _event_ids,
        "room_id": _room_ids,
        "sender": _senders,
        "type": _types,
        "content": _contents,
        "state_key": _state_keys,
        "origin_server_ts": _junk,
        "unsigned": _junk,
        "extra": _junk,
    },
)
_list_items = st.one_of(events, events, json_values)
transactions = st.fixed_dictionaries(
    {"events": st.lists(_list_items, max_size=6)},
    optional={
        "ephemeral": st.lists(st.one_of(json_values, events), max_size=4),
        "de.sorunome.msc2409.ephemeral": st.lists(json_values, max_size=3),
        "de.sorunome.msc3202.device_lists": json_values,
        "device_unused_fallback_key_types": json_values,
    },
)


def expected_status(value: Any) -> int:
    """The listener's contract for a JSON body: an object whose event lists are lists."""
    if not isinstance(value, dict):
        return 400
    if "events" in value and not isinstance(value["events"], list):
        return 400
    for key in ("ephemeral", "de.sorunome.msc2409.ephemeral"):
        if key in value:
            return 200 if isinstance(value[key], list) else 400
    return 200


# The properties.


def test_arbitrary_bytes_get_200_400_or_413(live: BridgeThread, errors: ErrorLog) -> None:
    json_prefixes = st.sampled_from([b"", b"{", b'{"events": [', b"[", b'"', b"\xef\xbb\xbf"])

    @FUZZ
    @given(st.tuples(json_prefixes, st.binary(max_size=300)).map(b"".join))
    def property_(body: bytes) -> None:
        reply = live.put_transaction(fresh_txn(), body)
        assert reply.status in (200, 400, 413), (reply.status, body)
        if reply.status != 200:
            reply.assert_matrix_error(reply.status)

    property_()
    live.assert_alive(errors)


def test_arbitrary_json_gets_200_or_a_matrix_400(live: BridgeThread, errors: ErrorLog) -> None:
    @FUZZ
    @given(st.one_of(json_values, st.dictionaries(st.sampled_from(["events", "ephemeral"]), json_values)))
    def property_(value: Any) -> None:
        reply = live.put_transaction(fresh_txn(), dump(value))
        assert reply.status == expected_status(value), (reply.status, reply.body, value)
        if reply.status == 400:
            reply.assert_matrix_error(400, "M_BAD_JSON")
        else:
            assert reply.json() == {}

    property_()
    live.assert_alive(errors)


def test_transactions_with_junk_events_are_accepted(live: BridgeThread, errors: ErrorLog) -> None:
    @FUZZ
    @given(transactions)
    def property_(transaction: dict[str, Any]) -> None:
        body = dump(transaction)
        assume(len(body) <= MAX_BODY_SIZE)
        reply = live.put_transaction(fresh_txn(), body)
        # One bad event never refuses the transaction: the homeserver would send it forever.
        assert reply.status == 200, (reply.status, reply.body[:300], transaction)
        assert reply.json() == {}

    property_()
    live.assert_alive(errors)


_txn_ids = st.one_of(
    any_text.filter(bool).map(lambda text: urllib.parse.quote(text, safe="")),
    st.binary(min_size=1, max_size=40).map(lambda raw: urllib.parse.quote_from_bytes(raw, safe="")),
    st.text(st.sampled_from("abc%/.!~*'()@:;=+$,"), min_size=1, max_size=20),
    st.integers(1, 6000).map(lambda n: "t" * n),
)


def test_odd_transaction_ids_never_get_5xx(live: BridgeThread, errors: ErrorLog) -> None:
    @FUZZ
    @given(_txn_ids)
    def property_(quoted_txn_id: str) -> None:
        event = {
            "type": "m.room.message",
            "event_id": f"$fuzz-{uuid.uuid4().hex}",
            "room_id": f"!fuzz:{SERVER_NAME}",
            "sender": f"@fuzzer:{SERVER_NAME}",
            "content": {"msgtype": "m.text", "body": "hi"},
        }
        reply = live.request("PUT", TXN_PATH + quoted_txn_id, dump({"events": [event]}))
        assert reply.status < 500, (reply.status, reply.body[:300], quoted_txn_id[:100])
        if quoted_txn_id.isalnum() and len(quoted_txn_id) <= 255:
            assert reply.status == 200, (reply.status, reply.body[:300])

    property_()
    live.assert_alive(errors)


# Floods and sizes.


def test_a_flood_of_concurrent_transactions_is_all_acknowledged(
    live: BridgeThread, errors: ErrorLog
) -> None:
    def transaction(index: int) -> bytes:
        event = {
            "type": "m.room.message",
            "event_id": f"$flood-{uuid.uuid4().hex}",
            "room_id": f"!flood-{index % 7}:{SERVER_NAME}",
            "sender": f"@flooder:{SERVER_NAME}",
            "content": {"msgtype": "m.text", "body": f"flood {index}"},
        }
        return dump({"events": [event], "ephemeral": [{"type": "m.typing"}]})

    async def flood() -> list[int]:
        url = f"http://127.0.0.1:{live.port}{TXN_PATH}"
        headers = {"Authorization": f"Bearer {live.hs_token}"}
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def put(index: int) -> int:
                async with session.put(
                    url + fresh_txn(), data=transaction(index), headers=headers
                ) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(put(index) for index in range(FLOOD)))

    statuses = asyncio.run(flood())
    assert statuses == [200] * FLOOD, sorted(set(statuses))
    live.assert_alive(errors)


def test_an_oversized_body_gets_413_and_the_limit_itself_passes(
    live: BridgeThread, errors: ErrorLog
) -> None:
    def padded(size: int) -> bytes:
        shell = b'{"events": [], "padding": ""}'
        body = shell[:-2] + b"x" * (size - len(shell)) + shell[-2:]
        assert len(body) == size
        return body

    live.put_transaction(fresh_txn(), padded(MAX_BODY_SIZE + 1)).assert_matrix_error(
        413, "M_TOO_LARGE"
    )
    assert live.put_transaction(fresh_txn(), padded(MAX_BODY_SIZE)).status == 200
    # Far larger, and sent without a length (chunked): refused all the same.
    chunks = (b"x" * 65536 for _ in range(3 * MAX_BODY_SIZE // 65536))
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        connection.request(
            "PUT",
            TXN_PATH + fresh_txn(),
            body=chunks,
            headers={"Authorization": f"Bearer {live.hs_token}"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        Reply(response.status, response.read()).assert_matrix_error(413, "M_TOO_LARGE")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the bridge may close the connection as soon as it has answered
    finally:
        connection.close()
    live.assert_alive(errors)


def test_a_compressed_body_counts_after_decompression(
    live: BridgeThread, errors: ErrorLog
) -> None:
    bomb = gzip.compress(b'{"events": [], "padding": "' + b"0" * (8 * MAX_BODY_SIZE) + b'"}')
    assert len(bomb) < MAX_BODY_SIZE // 8
    reply = live.request("PUT", TXN_PATH + fresh_txn(), bomb, headers={"Content-Encoding": "gzip"})
    reply.assert_matrix_error(413, "M_TOO_LARGE")
    small = gzip.compress(b'{"events": []}')
    reply = live.request("PUT", TXN_PATH + fresh_txn(), small, headers={"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body
    live.assert_alive(errors)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"this is not gzip"),
        ("gzip", gzip.compress(b'{"events": [], "padding": "' + b"ab" * 500 + b'"}')[:40]),
        ("deflate", b"\x78\x9c garbage"),
        ("deflate", zlib.compress(b'{"events": []}')[:5]),
    ],
    ids=["gzip-garbage", "gzip-truncated", "deflate-garbage", "deflate-truncated"],
)
def test_a_broken_compressed_body_gets_400(
    live: BridgeThread, errors: ErrorLog, encoding: str, body: bytes
) -> None:
    reply = live.request("PUT", TXN_PATH + fresh_txn(), body, headers={"Content-Encoding": encoding})
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    live.assert_alive(errors)


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "m.room.message",
        "event_id": f"$fuzz-{uuid.uuid4().hex}",
        "room_id": f"!fuzz:{SERVER_NAME}",
        "sender": f"@fuzzer:{SERVER_NAME}",
        "content": {"msgtype": "m.text", "body": "hi"},
    }
    event.update(fields)
    return event


HOSTILE_EVENTS = {
    "long-event-id": lambda: _event(event_id="$" + "e" * 300 + uuid.uuid4().hex),
    "long-room-id": lambda: _event(room_id="!" + "r" * 300),
    "nul-event-id": lambda: _event(event_id=f"$a\x00{uuid.uuid4().hex}"),
    "nul-room-id": lambda: _event(room_id="!a\x00b"),
    "surrogate-event-id": lambda: _event(event_id=f"$a\ud800{uuid.uuid4().hex}"),
    "surrogate-room-id": lambda: _event(room_id="!a\udfff"),
    "nul-in-content": lambda: _event(content={"msgtype": "m.text", "body": "a\x00b"}),
    "surrogate-in-content": lambda: _event(content={"msgtype": "m.text", "body": "a\ud800b"}),
    "nul-in-key": lambda: _event(content={"a\x00b": 1}),
    "surrogate-sender": lambda: _event(sender="@\ud800:x"),
    "huge-int": lambda: _event(content={"body": 10**400}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_EVENTS))
def test_hostile_event_fields_do_not_refuse_the_transaction(
    live: BridgeThread, errors: ErrorLog, case: str
) -> None:
    reply = live.put_transaction(fresh_txn(), dump({"events": [HOSTILE_EVENTS[case]()]}))
    assert reply.status == 200, (reply.status, reply.body)
    live.assert_alive(errors)


HOSTILE_TXN_IDS = {
    "long": "t" * 300,
    "nul": "%00",
    "surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "slash": "a%2Fb",
    "dots": "..",
    "unicode": urllib.parse.quote("\u202etxn😀", safe=""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TXN_IDS))
def test_hostile_transaction_ids(live: BridgeThread, errors: ErrorLog, case: str) -> None:
    reply = live.request("PUT", TXN_PATH + HOSTILE_TXN_IDS[case], dump({"events": [_event()]}))
    assert reply.status == 200, (reply.status, reply.body)
    live.assert_alive(errors)
