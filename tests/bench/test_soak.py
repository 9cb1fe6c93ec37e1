"""The long run in miniature, so that it cannot rot: a short soak with tracemalloc snapshots
writes its CSV and figures, and the snapshot comparison reads what it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import Sample, _slope, curve

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


@pytest.mark.parametrize(
    ("points", "slope"),
    [
        ([(0, 5.0), (10, 5.0), (20, 5.0)], 0.0),
        ([(0, 0.0), (10, 20.0), (20, 40.0)], 2.0),
        ([(0, 1.0), (10, 3.0), (20, 1.0), (30, 3.0)], 0.04),
        ([(5, 1.0), (5, 9.0)], 0.0),  # no spread in x: no slope to tell
    ],
)
def test_the_slope_is_least_squares(points: list[tuple[float, float]], slope: float) -> None:
    assert _slope(points) == pytest.approx(slope)


def test_the_curve_spreads_samples_over_the_run_and_ends_with_the_last() -> None:
    samples = [Sample(60.0 * n, 100 * n, n, (100 + n) * MB) for n in range(50)]
    lines = curve(samples, rows=5, width=10)
    assert lines[0].split() == ["min", "msgs", "new", "MB"]
    assert lines[1].split()[:4] == ["0.0", "0", "0", "100.0"] and lines[1].endswith("|")
    assert lines[-1].split()[:4] == ["49.0", "4900", "49", "149.0"]
    assert lines[-1].endswith("|" + "#" * 10)
    assert 6 <= len(lines) <= 8


@pytest.mark.timeout(240)
def test_a_short_soak_with_snapshots_runs_end_to_end(tmp_path: Path) -> None:
    snapshots, rss = tmp_path / "snapshots", tmp_path / "rss.csv"
    command = [sys.executable, "-m", "bench", "--only", "soak", "--no-write"]
    # Samples come every 10 s: with 6 s of warm-up, the second half (from 15 s at least) starts
    # at a later sample than the time after the warm-up, so it has its own row, however long
    # the last round runs over.
    command += ["--soak-minutes", "0.5", "--soak-warm-up", "0.1", "--soak-chats", "3"]
    command += ["--soak-csv", str(rss), "--soak-snapshots", str(snapshots)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=230, check=False
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    assert "| soak " in done.stdout and "resident MB at the end" in done.stdout, done.stdout
    assert "gained per 10,000 msgs in the second half" in done.stdout, done.stdout
    rows = rss.read_text().splitlines()
    assert rows[0] == "seconds,messages,new_senders,rss_mb" and len(rows) >= 3
    last = rows[-1].split(",")
    assert int(last[1]) > 0 and int(last[2]) > 0 and float(last[3]) > 20, rows[-1]
    assert len(list(snapshots.glob("snapshot-*.pickle"))) >= 3
    compared = subprocess.run(
        [sys.executable, "-m", "bench.snapshots", str(snapshots), "--top", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compared.returncode == 0, compared.stderr
    assert "KiB traced in all" in compared.stdout and "File " in compared.stdout, compared.stdout
