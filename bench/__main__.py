"""``python -m bench`` (``./bench.sh``): run the benchmarks, print the table and write it into
BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shlex
import sys
import time
from pathlib import Path

import asyncpg

from . import report
from .bridge_process import ROOT
from .results import Results, table
from .scenarios import FULL, QUICK, Runner
from .soak import Soak, SoakPlan
from .stack import Stack
from .sync_cost import sync_cost

SCENARIOS = ("t2m", "m2t", "latency", "burst", "sync", "startup")
# Runs only when asked for, and alone: an hour by default.
LONG_RUN = "soak"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./bench.sh",
        description="Benchmarks of the bridge against a real Synapse and the fake Bot API.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run of about a minute"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run, of {', '.join(SCENARIOS)} (default: all); or "
        f"{LONG_RUN} alone: the long run with new senders throughout (see the --soak options)",
    )
    parser.add_argument(
        "--record",
        choices=report.SECTIONS,
        help="the BENCHMARKS.md section to write (default: after; --quick writes none)",
    )
    parser.add_argument("--no-write", action="store_true", help="only print the results")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "BENCHMARKS.md", help="default: BENCHMARKS.md"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile the bridge process with py-spy into this file (.svg: flame graph, .txt: "
        "collapsed stacks, otherwise speedscope JSON); the start-up scenario's starts get -2, "
        "-3... files",
    )
    parser.add_argument(
        "--profile-synapse",
        type=Path,
        metavar="DIR",
        help="sample Synapse with py-spy during each many-portal Telegram->Matrix round, the "
        "appservice client's and the bridge's apart (collapsed stacks into DIR), and note "
        "where its time went",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help=f"PostgreSQL server for the start-up scenario (default: {DEFAULT_POSTGRES})",
    )
    parser.add_argument(
        "--burst-messages",
        type=int,
        metavar="N",
        help="messages per chat in the burst (default: 40; 5 with --quick)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="measure each throughput case N times (baseline, bridge, baseline, bridge...) "
        "and report the medians (default: 3; 1 with --quick)",
    )
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs)")
    soak = parser.add_argument_group("the long run (--only soak)")
    defaults = SoakPlan()
    soak.add_argument(
        "--soak-minutes", type=float, default=defaults.minutes, help="default: %(default)s"
    )
    soak.add_argument(
        "--soak-chats", type=int, default=defaults.chats, help="portals (default: %(default)s)"
    )
    soak.add_argument(
        "--soak-warm-up",
        type=float,
        default=defaults.warm_up_minutes,
        metavar="MINUTES",
        help="the figures after the warm-up start here (default: %(default)s)",
    )
    soak.add_argument(
        "--soak-new-every",
        type=int,
        default=defaults.new_every,
        metavar="N",
        help="one Telegram message in N is from someone new (default: %(default)s)",
    )
    soak.add_argument(
        "--soak-csv",
        type=Path,
        default=defaults.csv,
        help="the resident size as sampled, every 10 s (default: %(default)s)",
    )
    soak.add_argument(
        "--soak-cache-scale",
        type=float,
        default=defaults.cache_scale,
        metavar="FACTOR",
        help="every bound on what the bridge keeps per person or message times FACTOR (0.01: "
        "those caches fill within the warm-up; default: %(default)s)",
    )
    soak.add_argument(
        "--soak-snapshots",
        type=Path,
        metavar="DIR",
        help="trace the bridge's allocations and write tracemalloc snapshots into DIR (after "
        "the warm-up, every 10 minutes, at the end) for python -m bench.snapshots DIR; the "
        "resident figures of such a run include the tracing",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in (*SCENARIOS, LONG_RUN)]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {SCENARIOS}")
    if LONG_RUN in chosen and len(chosen) > 1:
        parser.error(f"{LONG_RUN} runs alone")
    args.scenarios = chosen
    if args.no_write:
        args.record = None
    elif args.record is None and not args.quick:
        args.record = LONG_RUN if LONG_RUN in chosen else "after"
    return args


def progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def postgres_version(url: str) -> str | None:
    try:
        connection = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        progress(f"no PostgreSQL at {url} ({error}): its start-up figures are left out")
        return None
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def work_directory(keep: Path | None) -> Path | None:
    """The --keep directory, made (it must be new or empty); None for a temporary one."""
    if keep is None:
        return None
    if keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--keep {keep}: the directory must be new or empty")
    keep.mkdir(parents=True, exist_ok=True)
    return keep.resolve()


async def run_scenarios(
    runner: Runner, chosen: set[str], postgres: str, pg_version: str | None
) -> None:
    progress("null bridge (the latency and memory floor)")
    await runner.null_bridge_phase(paced="latency" in chosen)
    progress("starting the bridge")
    await runner.start_bridge()
    if chosen & {"t2m", "latency", "sync"}:
        progress("portals and baseline rooms")
        await runner.set_up_portals()
    if "t2m" in chosen:
        progress("Telegram -> Matrix throughput")
        await runner.t2m()
    if "m2t" in chosen:
        progress("Matrix -> Telegram throughput")
        await runner.m2t()
    if "latency" in chosen:
        progress("latency, one message at a time")
        await runner.latency()
    if "burst" in chosen:
        progress("burst, with and without a flood-limited chat")
        await runner.burst()
    await runner.memory()
    await runner.stop_sampling_rss()
    if "sync" in chosen:
        progress("SQLite synchronous=FULL against NORMAL (the bridge restarted for each)")
        await sync_cost(runner)
    if "startup" in chosen:
        for kind in ("sqlite", "postgresql"):
            if kind == "postgresql" and pg_version is None:
                runner.results.note("PostgreSQL start-up left out: no server answered")
                continue
            progress(f"start-up with a large database on {kind}")
            await runner.large_database(kind, postgres)


async def run(args: argparse.Namespace) -> tuple[Results, str | None]:
    sizes = QUICK if args.quick else FULL
    if args.burst_messages:
        sizes = dataclasses.replace(sizes, burst_each=args.burst_messages)
    chosen = set(args.scenarios)
    results = Results()
    pg_version = await postgres_version(args.postgres) if "startup" in chosen else None
    stack = Stack(work_directory(args.keep), args.profile)
    runner = Runner(stack, sizes, results, max(1, args.repeat or (1 if args.quick else 3)))
    runner.synapse_profiles = args.profile_synapse.resolve() if args.profile_synapse else None
    try:
        progress(f"starting Synapse, the fake Bot API and the proxies in {stack.directory}")
        await stack.start(f"sqlite:///{stack.directory / 'bridge.db'}")
        if LONG_RUN in chosen:
            await long_run(args, stack, runner, results)
            return results, None
        await run_scenarios(runner, chosen, args.postgres, pg_version)
        failures = stack.hs_proxy.failures
        if failures:
            results.note(
                "homeserver answers >= 400 to the bridge: "
                + ", ".join(f"{k} x{v}" for k, v in failures.most_common())
            )
    finally:
        await runner.stop_sampling_rss()
        await stack.close()
    return results, pg_version


async def long_run(
    args: argparse.Namespace, stack: Stack, runner: Runner, results: Results
) -> None:
    plan = SoakPlan(
        minutes=args.soak_minutes,
        chats=args.soak_chats,
        warm_up_minutes=min(args.soak_warm_up, args.soak_minutes),
        new_every=max(1, args.soak_new_every),
        csv=args.soak_csv.resolve(),
        snapshots=args.soak_snapshots.resolve() if args.soak_snapshots else None,
        cache_scale=args.soak_cache_scale,
    )
    soak = Soak(stack, plan, results)
    progress("starting the bridge")
    await runner.start_bridge(env=soak.bridge_env())
    progress(f"{plan.chats} portals")
    await soak.set_up(sys.stderr)
    progress(
        f"mixed traffic for {plan.minutes:g} minutes, the resident size into {plan.csv}"
        + (f", snapshots into {plan.snapshots}" if plan.snapshots else "")
    )
    await soak.run()
    await runner.memory()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    results, pg_version = asyncio.run(run(args))
    seconds = time.monotonic() - started
    print()
    print("\n".join(table(results)))
    print()
    for note in results.notes:
        print(f"- {note}")
    for heading, lines in results.details.items():
        print(f"\n{heading}:")
        print("\n".join(lines))
    print(f"\nThe run took {seconds:.0f} s.")
    if args.record is not None:
        command = "./bench.sh " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        lines = report.section(results, args.record, ROOT, command.strip(), seconds, pg_version)
        report.write(args.output, args.record, lines)
        print(f"Wrote the {args.record!r} section of {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
