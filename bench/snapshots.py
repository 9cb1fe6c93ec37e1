"""``python -m bench.snapshots DIR``: what grew between two of the bridge's tracemalloc
snapshots (``./bench.sh --only soak --soak-snapshots DIR`` takes them, see bench/soak.py).

By default the first snapshot after the warm-up (the second one written) is compared with the
last, grouped by the line that allocated; ``--by traceback`` shows whole call stacks.
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

KiB = 1024


def numbered(directory: Path) -> list[Path]:
    found = sorted(directory.glob("snapshot-*.pickle"), key=lambda p: int(p.stem.split("-")[1]))
    if len(found) < 2:
        raise SystemExit(f"{directory}: fewer than two snapshots to compare")
    return found


def growth(before: Path, after: Path, by: str, top: int) -> list[str]:
    # Tracemalloc's own bookkeeping and the driver's import machinery are not the bridge's.
    noise = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    )
    first = tracemalloc.Snapshot.load(str(before)).filter_traces(noise)
    last = tracemalloc.Snapshot.load(str(after)).filter_traces(noise)
    stats = last.compare_to(first, by)
    total = sum(stat.size_diff for stat in stats)
    lines = [f"{before.name} -> {after.name}: {total / KiB:+,.0f} KiB traced in all"]
    for stat in stats[:top]:
        lines.append(
            f"{stat.size_diff / KiB:+10,.1f} KiB {stat.count_diff:+8,d} blocks"
            f"  (now {stat.size / KiB:,.0f} KiB)"
        )
        frames = stat.traceback.format(
            limit=None if by == "traceback" else 1, most_recent_first=True
        )
        lines += [f"      {line.strip()}" for line in frames if line.strip()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshots", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--first", type=int, help="snapshot number to start from (default: 2)")
    parser.add_argument("--last", type=int, help="snapshot number to end at (default: the last)")
    parser.add_argument("--by", choices=("lineno", "traceback", "filename"), default="lineno")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    found = numbered(args.directory)
    by_number = {int(p.stem.split("-")[1]): p for p in found}
    before = by_number[args.first] if args.first else found[1 if len(found) > 2 else 0]
    after = by_number[args.last] if args.last else found[-1]
    print("\n".join(growth(before, after, args.by, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
