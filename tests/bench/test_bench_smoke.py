"""The benchmark command in its quickest mode, so that it cannot rot: one scenario, then the
table must hold numbers for the bridge and its baseline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"^-?[\d,]+\.\d+$")


@pytest.mark.timeout(180)
def test_quick_telegram_to_matrix_run_prints_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "t2m", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in done.stdout.splitlines()
        if line.startswith("| Telegram->Matrix")
    ]
    throughput = [row for row in rows if "msgs/s" in row[1]]
    assert len(throughput) == 2, done.stdout
    for row in throughput:
        bridge, baseline, ratio = row[2], row[3], row[5]
        assert NUMBER.match(bridge) and float(bridge.replace(",", "")) > 0, row
        assert NUMBER.match(baseline) and float(baseline.replace(",", "")) > 0, row
        assert NUMBER.match(ratio), row
    assert any("CPU" in row[1] and NUMBER.match(row[2]) for row in rows), done.stdout
    assert any(line.startswith("| memory") for line in done.stdout.splitlines()), done.stdout
