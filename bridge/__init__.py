"""A Matrix application-service bridge; Telegram is its first network."""

import sys

__version__ = "0.1.0"


def _mautrix_without_prometheus() -> None:
    """mautrix counts its requests with prometheus_client whenever it can import it, into the
    library's global registry, which this bridge never serves (its own metrics have a registry
    of their own, bridge/prometheus_metrics.py). Loaded before any other part of mautrix, its
    no-op stand-ins are used instead: prometheus_client (about 1.5 MB with what it loads) stays
    out of a bridge whose metrics are off, and no request pays for counting nobody reads."""
    if "mautrix.util.opt_prometheus" in sys.modules:
        return  # mautrix was imported first (by a test, say): too late, and harmless
    saved = sys.modules.get("prometheus_client")
    # None in sys.modules is how the import system says "not installed".
    sys.modules["prometheus_client"] = None  # type: ignore[assignment]
    try:
        import mautrix.util.opt_prometheus  # noqa: F401
    finally:
        if saved is None:
            del sys.modules["prometheus_client"]
        else:
            sys.modules["prometheus_client"] = saved


_mautrix_without_prometheus()
