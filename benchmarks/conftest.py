"""Collects each benchmark's measurement and writes them to ``benchmarks/RESULTS.md``.

A benchmark calls ``record(name, measured, target)``; rows are keyed by (benchmark, device), so
a run on the CPU and one on a GPU both stay in the table.
"""
from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from timing import bench_device, device_label  # noqa: E402

RESULTS = Path(__file__).parent / "RESULTS.md"
HEADER = ["benchmark", "device", "measured", "target"]
_rows: dict[tuple[str, str], list[str]] = {}


@pytest.fixture
def record():
    """``record(name, measured: str, target: str = "", device=None)``: one row of RESULTS.md."""

    def add(name: str, measured: str, target: str = "", device=None) -> None:
        label = device_label(device if device is not None else bench_device())
        _rows[name, label] = [name, label, measured, target]
        print(f"\n{name} on {label}: {measured}" + (f" (target {target})" if target else ""))

    return add


def _read_table() -> dict[tuple[str, str], list[str]]:
    rows = {}
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == len(HEADER) and cells != HEADER and not re.fullmatch(r"-+", cells[0]):
                rows[cells[0], cells[1]] = cells
    return rows


def pytest_sessionfinish(session, exitstatus):
    if _rows:
        write_results(_rows)


def write_results(new_rows: dict[tuple[str, str], list[str]]) -> None:
    """Put ``new_rows`` (``{(benchmark, device): [benchmark, device, measured, target]}``) into
    RESULTS.md, keeping the other rows (also used by the grading benchmark, run by hand)."""
    rows = _read_table()
    rows.update(new_rows)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/conftest.py`) and, for grading, by",
        "`benchmarks/grading_benchmark.py --record` (`benchmarks/GRADING.md`): one row per benchmark and",
        f"device, the last run of each kept. Last updated {datetime.date.today().isoformat()}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for _, row in sorted(rows.items())]
    RESULTS.write_text("\n".join(lines) + "\n")
