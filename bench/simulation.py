"""``manage.py simulate`` as the benchmarks run it: its own process (the bench process stays light), the
bench stack's database for the bot's secret, and its summary read back from ``--json``."""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.stack import ROOT, Stack

# Celery's default queue: a Redis list of that name in the broker's db holds the tasks not yet taken.
CELERY_QUEUE = "celery"


class SimulationError(RuntimeError):
    pass


@dataclass
class Simulation:
    """One running ``simulate``: ``wait()`` for its summary."""

    process: subprocess.Popen[str]
    summary_path: Path
    log_path: Path
    run_id: str

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=30)
            raise SimulationError(f"simulate run {self.run_id} still going after {timeout:.0f} s") from None
        if self.process.returncode != 0 or not self.summary_path.exists():
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise SimulationError(
                f"simulate run {self.run_id} exited with {self.process.returncode}:\n{tail}"
            )
        return dict(json.loads(self.summary_path.read_text()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_simulation(
    stack: Stack,
    *,
    url: str,
    bot_id: str,
    conversations: int,
    rate: float,
    run_id: str,
    pace: float = 0.0,
    patience: float = 2.0,
    log_dir: Path | None = None,
) -> Simulation:
    """Start ``simulate --conversations N --rate R --bot BOT`` against ``url``, quietly (``-v 0``)."""
    folder = Path(log_dir or tempfile.mkdtemp(prefix="warmline-sim-"))
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / f"simulate-{run_id}.json"
    log_path = folder / f"simulate-{run_id}.log"
    args = [
        sys.executable,
        "manage.py",
        "simulate",
        f"--url={url}",
        f"--conversations={conversations}",
        f"--rate={rate}",
        f"--bot={bot_id}",
        "--bot-file=/nonexistent",  # the secret comes from the database, as with any bot id
        f"--pace={pace}",
        f"--patience={patience}",
        f"--run-id={run_id}",
        f"--json={summary_path}",
        "--startup-timeout=10",
        "-v",
        "0",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=stack.server_env(settings="console.settings"),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return Simulation(process=process, summary_path=summary_path, log_path=log_path, run_id=run_id)


def celery_backlog(stack: Stack) -> int:
    """Tasks waiting in the broker for a worker (not those a worker has already taken)."""
    client = redis.Redis.from_url(stack.redis_url, socket_timeout=10)
    try:
        return int(client.llen(CELERY_QUEUE))
    finally:
        client.close()
