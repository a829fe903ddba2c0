"""Result rows, the printed table, the machine line and the JSON file."""

import json
import math
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench.stack import ROOT, Stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    benchmark: str
    figure: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.baseline) or math.isnan(self.figure):
            return None
        return self.figure / self.baseline

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "figure", "baseline", "ratio", "unit")
    cells = [header] + [
        (
            row.benchmark,
            _number(row.figure),
            _number(row.baseline),
            "-" if row.ratio is None else f"{row.ratio:.2f}",
            row.unit,
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header))]
    lines = []
    for index, line in enumerate(cells):
        lines.append(
            " | ".join(
                cell.ljust(width) if column in (0, 4) else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
        )
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


# --- machine ----------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )

    head = git("rev-parse", "--short", "HEAD")
    commit = head.stdout.strip() if head.returncode == 0 else "no-commit"
    dirty = git("status", "--porcelain").stdout.strip()
    return f"{commit}+dirty" if dirty else commit


def machine(stack: Stack) -> dict[str, str]:
    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        postgres = str(row[0]) if row else "unknown"
    client = redis.Redis.from_url(stack.redis_url, socket_timeout=10)
    try:
        redis_version = str(client.info("server").get("redis_version", "unknown"))
    finally:
        client.close()
    return {
        "cpu": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "memory": _memory(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": redis_version,
        "git": _git_commit(),
    }


def machine_line(info: dict[str, str]) -> str:
    return (
        f"machine: {info['cpu']} x{info['nproc']}, {info['memory']} RAM | Python {info['python']} | "
        f"PostgreSQL {info['postgresql']} | Redis {info['redis']} | git {info['git']}"
    )


def write_json(payload: dict[str, Any], *, prefix: str = "") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{prefix}{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
