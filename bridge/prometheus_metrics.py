"""The bridge's metrics counted for Prometheus: imported only with ``metrics.enabled`` on
(bridge/metrics.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from .metrics import BridgeMetrics, Direction, MessageKind, method_label

# Seconds; API calls are mostly quick, a long poll or an upload is not.
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Seconds an event waits in its queue: none at all to a backlog of minutes.
_WAIT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class PrometheusMetrics(BridgeMetrics):
    """The metrics counted, in a registry of this bridge's own (not prometheus_client's global
    one), which keeps several bridges in one process (the tests) apart."""

    def __init__(self, version: str, network: str) -> None:
        registry = self.registry = CollectorRegistry()
        Info("bridge_build", "The bridge's version and network.", registry=registry).info(
            {"version": version, "network": network}
        )
        self._bridged = Counter(
            "bridge_messages_bridged",
            "Messages (and edits, reactions, redactions) carried across, by direction and kind.",
            ["direction", "kind"],
            registry=registry,
        )
        self._failed = Counter(
            "bridge_messages_failed",
            "Events that did not cross, by direction and reason.",
            ["direction", "reason"],
            registry=registry,
        )
        self._retried = Counter(
            "bridge_delivery_retries",
            "Waits before trying an event again (it keeps its place), by direction and reason.",
            ["direction", "reason"],
            registry=registry,
        )
        self._queue_depth = Gauge(
            "bridge_queue_depth",
            "Events stored and not yet handled, by direction.",
            ["direction"],
            registry=registry,
        )
        self._queue_wait = Histogram(
            "bridge_queue_wait_seconds",
            "Time from an event's arrival until its portal starts handling it, by direction.",
            ["direction"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self._transactions = Counter(
            "bridge_transactions_received",
            "Appservice transactions from the homeserver (one it sends again counts again).",
            registry=registry,
        )
        self._transaction_events = Counter(
            "bridge_transaction_events_received",
            "Events in the appservice transactions received.",
            registry=registry,
        )
        self._matrix_calls = Histogram(
            "bridge_matrix_api_call_seconds",
            "Homeserver API calls and their latency, by HTTP method and path template.",
            ["method", "endpoint"],
            buckets=_CALL_BUCKETS,
            registry=registry,
        )
        self._matrix_errors = Counter(
            "bridge_matrix_api_errors",
            "Homeserver API calls that failed, by HTTP method, path template and status "
            "(connection: no answer).",
            ["method", "endpoint", "status"],
            registry=registry,
        )
        self._remote_calls = Histogram(
            "bridge_remote_api_call_seconds",
            "The network's API calls (Telegram's Bot API) and their latency, by method.",
            ["method"],
            buckets=_CALL_BUCKETS,
            registry=registry,
        )
        self._remote_errors = Counter(
            "bridge_remote_api_errors",
            "The network's API calls that failed, by method and error (an HTTP status, timeout "
            "or connection); flood limits are counted apart.",
            ["method", "error"],
            registry=registry,
        )
        self._remote_rate_limited = Counter(
            "bridge_remote_api_rate_limited",
            "The network's API calls refused by its flood limit (HTTP 429), by method.",
            ["method"],
            registry=registry,
        )
        self._portals = Gauge(
            "bridge_portals", "Portals (remote chats with a Matrix room).", registry=registry
        )
        self._ghosts = Gauge(
            "bridge_ghosts", "Ghosts (Matrix users standing for remote users).", registry=registry
        )
        self._linked_users = Gauge(
            "bridge_linked_users",
            "Matrix users with a linked remote account.",
            registry=registry,
        )

    # Messages.

    def bridged(self, direction: Direction, kind: MessageKind) -> None:
        self._bridged.labels(direction, kind).inc()

    def failed(self, direction: Direction, reason: str) -> None:
        """``reason``: one of a few words (see portals/delivery.py, failure_reason)."""
        self._failed.labels(direction, reason).inc()

    def retried(self, direction: Direction, reason: str) -> None:
        self._retried.labels(direction, reason).inc()

    def waited(self, direction: Direction, seconds: float) -> None:
        self._queue_wait.labels(direction).observe(max(0.0, seconds))

    def transaction(self, events: int) -> None:
        self._transactions.inc()
        self._transaction_events.inc(events)

    # API calls.

    def matrix_call(self, method: str, endpoint: str, seconds: float, status: int | None) -> None:
        """``endpoint``: a path template (see matrix_endpoint); ``status`` None: no answer."""
        self._matrix_calls.labels(method, endpoint).observe(seconds)
        if status is None or status >= 400:
            error = "connection" if status is None else str(status)
            self._matrix_errors.labels(method, endpoint, error).inc()

    def remote_call(self, method: str, seconds: float, error: str | None = None) -> None:
        """``error``: an HTTP status ("429" counts as a flood limit), timeout or connection."""
        method = method_label(method)
        self._remote_calls.labels(method).observe(seconds)
        if error == "429":
            self._remote_rate_limited.labels(method).inc()
        elif error is not None:
            self._remote_errors.labels(method, error).inc()

    # The gauges.

    def counts(self, portals: int, ghosts: int, linked_users: int) -> None:
        self._portals.set(portals)
        self._ghosts.set(ghosts)
        self._linked_users.set(linked_users)

    def queue_depth(self, direction: Direction, events: int) -> None:
        self._queue_depth.labels(direction).set(events)
