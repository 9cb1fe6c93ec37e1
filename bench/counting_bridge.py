"""Runs the bridge's command line with every database statement counted.

``python -m bench.counting_bridge -c config.yaml`` is ``python -m bridge -c config.yaml`` plus a
SQLAlchemy ``before_cursor_execute`` listener on the Engine class, so every engine the bridge
makes is counted without touching its code, and so is every statement the bridge runs on the
driver directly (``bridge.db.direct.observers``). The counts go to the file named by
$BENCH_DB_STATS (JSON, replaced atomically) every half second, at once on SIGUSR1, and at exit.
An executemany counts as one statement (one round trip).

With $BENCH_TRACEMALLOC naming a directory, each SIGUSR2 writes a tracemalloc snapshot there
(``snapshot-<n>.pickle``, after a full collection), for ``python -m bench.snapshots`` to compare:
what holds the memory a run gains. Tracing ($BENCH_TRACEMALLOC_FRAMES frames each, default 12)
starts with the first signal, so the first snapshot is all but empty.

$BENCH_SQLITE_SYNCHRONOUS (NORMAL, say) sets SQLite's synchronous pragma in place of the
bridge's own, so one run can compare the bridge's setting with another (the sync scenario).

$BENCH_CACHE_SCALE (0.01, say) shrinks every bound on what the bridge keeps per person or
message by that factor (bench/cache_bounds.py), so that a soak run fills those caches within
its warm-up.
"""

from __future__ import annotations

import atexit
import gc
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bridge.db import direct, engine

INTERVAL = 0.5
_SPACE = re.compile(r"\s+")
_PARAMS = re.compile(r"\(\s*(?:\?|\$\d+)(?:\s*,\s*(?:\?|\$\d+))*\s*\)")


class StatementCounter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0
        self.by_kind: Counter[str] = Counter()
        self.by_statement: Counter[str] = Counter()
        self.writes = 0
        self._lock = threading.Lock()
        # What each statement text counts as: the counting must cost the bridge next to nothing.
        self._shapes: dict[str, tuple[str, str]] = {}

    def count(self, statement: str) -> None:
        known = self._shapes.get(statement)
        if known is None:
            text = _SPACE.sub(" ", statement).strip()
            kind = text.split(" ", 1)[0].upper() if text else "?"
            # Same statement with a different number of bound values: one entry.
            known = kind, _PARAMS.sub("(...)", text)[:160]
            if len(self._shapes) < 10_000:
                self._shapes[statement] = known
        kind, shape = known
        with self._lock:
            self.total += 1
            self.by_kind[kind] += 1
            self.by_statement[shape] += 1

    def write(self) -> None:
        with self._lock:
            self.writes += 1
            data = {
                "seq": self.writes,
                "time": time.monotonic(),
                "total": self.total,
                "by_kind": dict(self.by_kind),
                "by_statement": dict(self.by_statement),
            }
        temporary = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(self.path)


def install(path: Path) -> StatementCounter:
    counter = StatementCounter(path)

    def before_cursor_execute(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        counter.count(statement)

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    # The statements on every message's path run on the driver directly (bridge/db/direct.py).
    direct.observers.append(counter.count)

    # The handler only wakes the writer thread: writing from the handler could wait forever
    # on the lock that count() holds in the same (main) thread.
    wake = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        wake.set()

    signal.signal(signal.SIGUSR1, on_signal)

    def periodically() -> None:
        while True:
            wake.wait(INTERVAL)
            wake.clear()
            counter.write()

    threading.Thread(target=periodically, name="bench-db-stats", daemon=True).start()
    atexit.register(counter.write)
    counter.write()
    return counter


def trace_allocations(directory: Path, frames: int) -> None:
    """Tracing starts at the first SIGUSR2 (from the start on, the imports and migrations
    would take minutes under it)."""
    wake = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        wake.set()

    def snapshots() -> None:
        for number in itertools.count(1):
            wake.wait()
            wake.clear()
            if not tracemalloc.is_tracing():
                tracemalloc.start(frames)
            gc.collect()
            snapshot = tracemalloc.take_snapshot()
            temporary = directory / f".snapshot-{number}.tmp"
            snapshot.dump(str(temporary))
            temporary.replace(directory / f"snapshot-{number}.pickle")

    signal.signal(signal.SIGUSR2, on_signal)
    threading.Thread(target=snapshots, name="bench-tracemalloc", daemon=True).start()


def main() -> int:
    stats = os.environ.get("BENCH_DB_STATS")
    if stats:
        install(Path(stats))
    traces = os.environ.get("BENCH_TRACEMALLOC")
    if traces:
        trace_allocations(Path(traces), int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "12")))
    synchronous = os.environ.get("BENCH_SQLITE_SYNCHRONOUS")
    if synchronous:
        # Read when each connection opens, so setting it before the bridge starts is enough.
        engine.SQLITE_PRAGMAS["synchronous"] = synchronous
    cache_scale = os.environ.get("BENCH_CACHE_SCALE")
    if cache_scale:
        from bench.cache_bounds import scale

        for name, (before, after) in scale(float(cache_scale)).items():
            print(f"bench: {name} {before} -> {after}", file=sys.stderr)
    from bridge.__main__ import main as bridge_main

    return bridge_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
