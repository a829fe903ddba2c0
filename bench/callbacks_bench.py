"""Callback delivery (issue 5): throughput and enqueue-to-delivered latency of the outbox with a real
Celery worker against a local receiver, beside a bare Celery task making the same signed POST.

- Throughput: a burst of N callbacks over C conversations is enqueued with the worker stopped (the outbox
  rows and their delivery tasks wait), then the worker starts; the figure is arrivals per second from the
  first to the N-th distinct webhook-id at the receiver.
- Latency: with the worker running, callbacks are enqueued at R per second for the timed window; the
  figure is the p95 (and p50) of receiver arrival minus the moment the enqueue was called.

Baseline, same run, same worker (prefork, 2 processes), same receiver: ``bench.callback_tasks.post``, a
plain Celery task that signs and POSTs the same body, with no outbox row, lease, per-conversation order or
attempt record. The ratio is what the outbox's guarantees cost. The outbox runs are checked: each
conversation's callbacks arrived in order, none twice, and every row is recorded delivered.

``WARMLINE_BENCH_CALLBACKS`` (default 2000) is the burst size, ``WARMLINE_BENCH_CALLBACK_RATE`` (default
10, well under the burst's rate on a 2-core machine, so the p95 is a callback's own latency rather than a
queue's) the paced rate; the producer is ``bench.callback_enqueue`` in its own process.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.load import percentile
from bench.registry import Context, register
from bench.report import Row
from bench.simulation import celery_backlog
from bench.stack import ROOT

CONVERSATIONS = 50
ARRIVAL_TIMEOUT = 300.0


@dataclass
class Arrival:
    at: float
    webhook_id: str
    conversation: str
    n: int
    enqueued_at: float


@dataclass
class Receiver:
    url: str = ""
    arrivals: dict[str, list[Arrival]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, run: str) -> list[Arrival]:
        with self.lock:
            return list(self.arrivals[run])

    def wait(self, run: str, count: int, timeout: float) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            arrived = self.of(run)
            if len({a.webhook_id for a in arrived}) >= count:
                return arrived
            time.sleep(0.05)
        return self.of(run)


@contextmanager
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            at = time.time()
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            data = body["data"]
            arrival = Arrival(
                at, self.headers["webhook-id"], body["conversation_id"], data["n"], data["enqueued_at"]
            )
            with found.lock:
                found.arrivals[data["run"]].append(arrival)
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_port}/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def _producer(ctx: Context, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.callback_enqueue", *args],
        cwd=ROOT,
        env=ctx.stack.server_env(settings="console.settings"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"callback_enqueue {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _in_order(arrivals: list[Arrival]) -> tuple[bool, int]:
    """(every conversation's first arrivals came in enqueue order, how many arrivals were repeats)."""
    seen: set[str] = set()
    last: dict[str, int] = {}
    ordered, repeats = True, 0
    for arrival in sorted(arrivals, key=lambda a: a.at):
        if arrival.webhook_id in seen:
            repeats += 1
            continue
        seen.add(arrival.webhook_id)
        if arrival.n <= last.get(arrival.conversation, -1):
            ordered = False
        last[arrival.conversation] = arrival.n
    return ordered, repeats


def _throughput(arrivals: list[Arrival], count: int) -> dict[str, Any]:
    firsts = sorted({a.webhook_id: a.at for a in sorted(arrivals, key=lambda a: -a.at)}.values())
    span = firsts[-1] - firsts[0] if len(firsts) > 1 else float("nan")
    return {
        "arrived": len(firsts),
        "expected": count,
        "span_s": span,
        "per_s": (len(firsts) - 1) / span if span and span == span else float("nan"),
    }


def _latency(arrivals: list[Arrival], count: int) -> dict[str, Any]:
    first: dict[str, Arrival] = {}
    for arrival in sorted(arrivals, key=lambda a: a.at):
        first.setdefault(arrival.webhook_id, arrival)
    latencies = [(a.at - a.enqueued_at) * 1000 for a in first.values()]
    return {
        "arrived": len(latencies),
        "expected": count,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "max_ms": max(latencies) if latencies else float("nan"),
    }


def _delivered_rows(ctx: Context, bot_id: str, label: str) -> int:
    return int(
        ctx.stack.query(
            "SELECT count(*) FROM handoffs_outbounddelivery d JOIN handoffs_bot b ON b.id = d.bot_id "
            "WHERE b.bot_id = %s AND d.status = 'delivered' AND d.payload->'data'->>'run' = %s",
            (bot_id, label),
        )[0][0]
    )


def _wait_recorded(ctx: Context, bot_id: str, label: str, count: int, timeout: float = 30) -> None:
    """Until every row is recorded delivered and the worker has taken every task (the outbox queues one
    per enqueue; most find their line already sent), so stopping the worker cuts nothing off."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (
        _delivered_rows(ctx, bot_id, label) < count or celery_backlog(ctx.stack) > 0
    ):
        time.sleep(0.1)


def _check_outbox(
    ctx: Context, label: str, bot_id: str, arrivals: list[Arrival], count: int
) -> dict[str, Any]:
    ordered, repeats = _in_order(arrivals)
    delivered = _delivered_rows(ctx, bot_id, label)
    verdict = (
        "ok"
        if ordered and delivered == count and len({a.webhook_id for a in arrivals}) == count
        else "FAILED"
    )
    ctx.notes.append(
        f"callbacks {label}: {len({a.webhook_id for a in arrivals})}/{count} arrived, "
        f"{'in order' if ordered else 'OUT OF ORDER'} per conversation, {repeats} repeat(s), "
        f"{delivered} rows delivered: {verdict}"
    )
    return {"ordered": ordered, "repeats": repeats, "rows_delivered": delivered, "verdict": verdict}


@register(
    "callbacks", "callback delivery/s (burst) and p95 enqueue→delivered with a worker, vs a bare Celery POST"
)
def callbacks(ctx: Context) -> list[Row]:
    burst = int(os.environ.get("WARMLINE_BENCH_CALLBACKS") or 2000)
    rate = float(os.environ.get("WARMLINE_BENCH_CALLBACK_RATE") or 10)
    paced = max(1, round(rate * ctx.options.seconds))
    env = ctx.stack.server_env(settings="console.settings")
    details: dict[str, Any] = {"burst": burst, "rate": rate, "paced": paced, "conversations": CONVERSATIONS}
    with receiver() as sink:
        made = _producer(ctx, "setup", "--url", sink.url, "--conversations", str(CONVERSATIONS))
        bot = made["bot_id"]

        def enqueue(mode: str, label: str, count: int, per_second: float) -> None:
            args = ["enqueue", "--bot", bot, "--mode", mode, "--count", str(count), "--url", sink.url]
            _producer(ctx, *args, "--rate", str(per_second), "--run", label)

        def start_worker(label: str):
            return ctx.servers.start_worker(label, env, include=("bench.callback_tasks",))

        # Throughput: the burst waits in the outbox and the broker; then the worker drains it.
        for mode in ("outbox", "bare"):
            label = f"burst-{mode}"
            ctx.stack.quiesce()
            enqueue(mode, label, burst, 0)
            worker = start_worker(f"callbacks-{label}")
            cpu_before = worker.cpu_seconds()
            try:
                arrivals = sink.wait(label, burst, ARRIVAL_TIMEOUT)
                if mode == "outbox":
                    _wait_recorded(ctx, bot, label, burst)  # the last answers are being recorded
            finally:
                cpu = worker.cpu_seconds() - cpu_before
                worker.stop()
                ctx.note_server_log(worker)
            stats = _throughput(arrivals, burst) | {"worker_cpu_s": cpu}
            if mode == "outbox":
                stats["check"] = _check_outbox(ctx, label, bot, arrivals, burst)
            details[label] = stats

        # Latency: paced enqueues with the worker running.
        worker = start_worker("callbacks-paced")
        try:
            for mode in ("outbox", "bare"):
                label = f"paced-{mode}"
                ctx.stack.quiesce()
                enqueue(mode, label, paced, rate)
                arrivals = sink.wait(label, paced, ARRIVAL_TIMEOUT)
                stats = _latency(arrivals, paced)
                if mode == "outbox":
                    _wait_recorded(ctx, bot, label, paced)
                    stats["check"] = _check_outbox(ctx, label, bot, arrivals, paced)
                details[label] = stats
        finally:
            worker.stop()
            ctx.note_server_log(worker)
    ctx.details["callbacks"] = details
    for label in ("burst-outbox", "burst-bare", "paced-outbox", "paced-bare"):
        if details[label]["arrived"] < details[label]["expected"]:
            ctx.notes.append(
                f"callbacks {label}: only {details[label]['arrived']} of {details[label]['expected']} arrived"
            )
    return [
        Row(
            f"callbacks delivered/s, burst of {burst} over {CONVERSATIONS} conversations (vs bare Celery POST)",
            details["burst-outbox"]["per_s"],
            "callbacks/s",
            details["burst-bare"]["per_s"],
        ),
        Row(
            f"callback p95 enqueue→delivered at {rate:g}/s (vs bare Celery POST)",
            details["paced-outbox"]["p95_ms"],
            "ms",
            details["paced-bare"]["p95_ms"],
        ),
        Row(
            f"callback p50 enqueue→delivered at {rate:g}/s (vs bare Celery POST)",
            details["paced-outbox"]["p50_ms"],
            "ms",
            details["paced-bare"]["p50_ms"],
        ),
    ]
