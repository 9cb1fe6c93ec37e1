"""What a benchmark run found: rows of the table (each figure beside its baseline) and notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Row:
    scenario: str
    measure: str
    bridge: float | None
    baseline: float | None = None
    baseline_name: str = ""
    # "ratio": bridge / baseline; "none": no ratio column (counts, which timing noise spares).
    ratio_kind: str = "ratio"
    target: str = ""
    # Whether the target is met, or None when the row has no target.
    met: bool | None = None
    digits: int = 1

    @property
    def ratio(self) -> float | None:
        if self.ratio_kind != "ratio" or self.bridge is None or not self.baseline:
            return None
        return self.bridge / self.baseline


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Longer listings (endpoints, statements) for BENCHMARKS.md, per heading.
    details: dict[str, list[str]] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)

    def detail(self, heading: str, lines: list[str]) -> None:
        self.details.setdefault(heading, []).extend(lines)


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _number(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def table(results: Results) -> list[str]:
    """The rows as a Markdown table (which also reads well in a terminal)."""
    header = ["scenario", "measure", "bridge", "baseline", "baseline is", "ratio", "target", "met"]
    lines = [header]
    for row in results.rows:
        ratio = row.ratio
        met = "" if row.met is None else ("yes" if row.met else "NO")
        lines.append(
            [
                row.scenario,
                row.measure,
                _number(row.bridge, row.digits),
                _number(row.baseline, row.digits),
                row.baseline_name,
                "-" if ratio is None else f"{ratio:.2f}",
                row.target,
                met,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {2, 3, 5}

    def render(cells: list[str]) -> str:
        padded = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    return [render(lines[0]), rule, *(render(line) for line in lines[1:])]
