"""``make loadtest`` (``python -m bench.loadtest``; issue 10, not in CI): the simulator at a sustained rate
for ``LOADTEST_MINUTES`` (default 10) with agents connected, on the real stack.

Set-up, on the benchmark stack (``warmline_bench``, recreated; the Redis db of REDIS_URL, flushed): daphne
with the context engines on and a Celery worker (prefork, 2 processes), as deployed; a team ``Load`` with
its bot and six agents logged in (sessions as ``login()`` makes them), every one with its queue socket
open (``/ws/console/queue/``, session cookie and the console's ``Origin``), two of them also working
through the agent API: take the first handoff in their queue, connect, write to the customer, resolve a
few seconds later (a 409 when a colleague or the customer was quicker is expected, not an error).

Load: ``manage.py simulate --conversations R*60*M --rate R --bot <Load's bot>`` (``LOADTEST_RATE``,
default 1 per second) in its own process, typing at 0.3x the demo's pauses; a queued customer leaves
after 30 s, one whom an agent connects to answers them and rates the chat.

Reported (printed as a table and written to ``bench/results/loadtest-<time>.json``):
- throughput: events accepted per second, conversations and escalations per second;
- latency: the simulator's event POSTs p50/p95/p99, from an escalation's POST until its row reached
  each agent's socket p50/p95/p99 (rows not received are counted), agents' API calls p95;
- errors: conversations the simulator stopped on an error, failed request attempts (retried ones too),
  agents' failed calls (not 2xx, not 409), sockets the server closed, error lines in the server logs;
- memory: resident memory of daphne and of the worker (its pool children included) right before the load
  and after it, with a sample every 10 s in the JSON;
- events sent vs stored: every event the console accepted is one stored request of this run (webhook-ids
  ``msg_<run>_…``), and its turns, steps, escalations and ratings are rows of the run's conversations
  (``sim-<run>-…``), exactly as many as accepted: nothing lost, nothing duplicated.
The exit status is 1 when a check fails (a count differs, or any error).
"""

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.console_fanout import Listener, Setup, close_sockets, open_queue_socket, read_rows, team_setup
from bench.load import REQUEST_TIMEOUT, percentile
from bench.report import Row, machine, machine_line, table, write_json
from bench.runner import terminate
from bench.servers import Process, Server, Servers, Worker
from bench.simulation import celery_backlog, start_simulation
from bench.stack import Stack, StackError

AGENTS = 6
ACTIVE_AGENTS = 2  # of them, the ones who claim, write and resolve
PACE = 0.3
PATIENCE = 30.0
SAMPLE_EVERY = 10.0
DRAIN_LIMIT = 120.0
ROW_WAIT = 5.0  # after the load: how long rows still in flight may take to reach the sockets
SKILLS = ("orders", "returns", "refunds", "cards", "connectivity", "licensing", "claims")
MEBI = 1024 * 1024
OPENING = "Hi, I'm here and I've read your conversation with our assistant. Let me sort this out."
RESOLUTION = "Explained the next steps; nothing else was needed."


@dataclass
class AgentStats:
    statuses: Counter[str] = field(default_factory=Counter)  # "<route> <status>"
    latencies_ms: list[float] = field(default_factory=list)
    claimed: int = 0
    resolved: int = 0
    messages: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(
            count for key, count in self.statuses.items() if not key.split()[-1].startswith(("2", "409"))
        )


@dataclass
class Sample:
    at: float
    daphne_rss: int
    worker_rss: int
    backlog: int


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=_env_number("LOADTEST_MINUTES", 10.0),
        help="default LOADTEST_MINUTES or 10",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=_env_number("LOADTEST_RATE", 1.0),
        help="new conversations per second (default LOADTEST_RATE or 1)",
    )
    args = parser.parse_args(argv)
    if not (args.minutes > 0 and args.rate > 0):
        parser.error("need minutes > 0 and rate > 0")
    return args


async def _call(
    client: httpx.AsyncClient, stats: AgentStats, method: str, route: str, path: str, body: Any = None
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        stats.statuses[f"{route} 0"] += 1
        if len(stats.error_samples) < 5:
            stats.error_samples.append(f"{route}: {type(exc).__name__}")
        return None
    stats.latencies_ms.append((time.perf_counter() - started) * 1000)
    stats.statuses[f"{route} {response.status_code}"] += 1
    if not (response.is_success or response.status_code == 409) and len(stats.error_samples) < 5:
        stats.error_samples.append(f"{route}: {response.status_code} {response.text[:300]}")
    return response


async def _agent(
    base_url: str, token: str, stop: asyncio.Event, stats: AgentStats, rng: random.Random
) -> None:
    """One person at the console, through the agent API: take, connect, answer, resolve, next."""
    headers = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT, trust_env=False
    ) as client:
        while not stop.is_set():
            queue = await _call(client, stats, "GET", "queue", "/api/v1/agent/queue")
            items = queue.json().get("handoffs", []) if queue is not None and queue.is_success else []
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            handoff = rng.choice(items[:3])["id"]  # not always the first: colleagues race less
            base = f"/api/v1/agent/handoffs/{handoff}"
            claim = await _call(client, stats, "POST", "claim", f"{base}/claim")
            if claim is None or not claim.is_success:
                continue
            stats.claimed += 1
            connect = await _call(client, stats, "POST", "connect", f"{base}/connect")
            if connect is None or not connect.is_success:
                continue
            message = await _call(client, stats, "POST", "message", f"{base}/messages", {"text": OPENING})
            stats.messages += message is not None and message.is_success
            await asyncio.sleep(rng.uniform(4.0, 8.0))  # the customer answers meanwhile
            resolve = await _call(
                client, stats, "POST", "resolve", f"{base}/resolve", {"resolution": RESOLUTION}
            )
            stats.resolved += resolve is not None and resolve.is_success


async def _sampler(
    server: Server, worker: Worker, stack: Stack, samples: list[Sample], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        samples.append(_sample(server, worker, stack))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=SAMPLE_EVERY)


def _sample(server: Server, worker: Worker, stack: Stack) -> Sample:
    return Sample(time.time(), server.rss_bytes(), worker.rss_bytes(), celery_backlog(stack))


async def _drain(stack: Stack) -> int:
    deadline = time.monotonic() + DRAIN_LIMIT
    backlog = celery_backlog(stack)
    while backlog and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        backlog = celery_backlog(stack)
    return backlog


@dataclass
class Outcome:
    run_id: str
    summary: dict[str, Any]
    agents: AgentStats
    listeners: list[Listener]
    wall_offset: float  # time.time() - time.perf_counter(), to put socket arrivals on the simulator's clock
    samples: list[Sample]
    start: Sample
    end: Sample
    backlog_after_drain: int
    server_cpu_s: float
    worker_cpu_s: float
    load_seconds: float


async def _run(
    stack: Stack, server: Server, worker: Worker, setup: Setup, args: argparse.Namespace
) -> Outcome:
    listeners = [
        await open_queue_socket(server, setup, number, key) for number, key in enumerate(setup.sessions)
    ]
    readers = [asyncio.create_task(read_rows(listener)) for listener in listeners]
    wall_offset = time.time() - time.perf_counter()
    run_id = f"load{secrets.token_hex(3)}"
    conversations = max(1, round(args.rate * args.minutes * 60))
    stop_agents, stop_sampler = asyncio.Event(), asyncio.Event()
    stats = AgentStats()
    samples: list[Sample] = []
    stack.quiesce()
    start = _sample(server, worker, stack)
    cpu_before = (server.cpu_seconds(), worker.cpu_seconds())
    began = time.monotonic()
    simulation = start_simulation(
        stack,
        url=server.base_url,
        bot_id=setup.bot_id,
        conversations=conversations,
        rate=args.rate,
        run_id=run_id,
        pace=PACE,
        patience=PATIENCE,
    )
    print(
        f"simulate run {run_id}: {conversations} conversations at {args.rate:g}/s (log {simulation.log_path})"
    )
    rng = random.Random(1)
    agents = [
        asyncio.create_task(_agent(server.base_url, token, stop_agents, stats, random.Random(rng.random())))
        for token in setup.tokens
    ]
    sampler = asyncio.create_task(_sampler(server, worker, stack, samples, stop_sampler))
    try:
        summary = await asyncio.to_thread(simulation.wait, args.minutes * 60 * 2 + 600)
        load_seconds = time.monotonic() - began
        stop_agents.set()
        await asyncio.gather(*agents)
        backlog = await _drain(stack)
        await asyncio.sleep(ROW_WAIT)
        stop_sampler.set()
        await sampler
        end = _sample(server, worker, stack)
        cpu = (server.cpu_seconds() - cpu_before[0], worker.cpu_seconds() - cpu_before[1])
    finally:
        simulation.stop()
        stop_agents.set()
        stop_sampler.set()
        await close_sockets(listeners, readers)
    return Outcome(
        run_id=run_id,
        summary=summary,
        agents=stats,
        listeners=listeners,
        wall_offset=wall_offset,
        samples=samples,
        start=start,
        end=end,
        backlog_after_drain=backlog,
        server_cpu_s=cpu[0],
        worker_cpu_s=cpu[1],
        load_seconds=load_seconds,
    )


def _rows_on_sockets(outcome: Outcome) -> dict[str, Any]:
    """Escalation POST sent → its row on each agent's socket, on one clock (time.time())."""
    latencies: list[float] = []
    missing = 0
    for handoff_id, sent_at in outcome.summary["escalations_sent"]:
        for listener in outcome.listeners:
            arrived = listener.arrivals.get(handoff_id)
            if arrived is None:
                missing += 1
            else:
                latencies.append((arrived + outcome.wall_offset - sent_at) * 1000)
    return {
        "expected": len(outcome.summary["escalations_sent"]) * len(outcome.listeners),
        "received": len(latencies),
        "missing": missing,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }


def stored_counts(stack: Stack, run_id: str) -> dict[str, int]:
    """This run's rows in the database: its applied requests and what its events became."""
    of_run = (
        "FROM {table} x JOIN handoffs_conversation c ON c.id = x.conversation_id "
        "WHERE left(c.external_id, %s) = %s{extra}"
    )
    prefix = f"sim-{run_id}-"

    def count(table: str, extra: str = "") -> int:
        sql = "SELECT count(*) " + of_run.format(table=table, extra=extra)
        return int(stack.query(sql, (len(prefix), prefix))[0][0])

    webhook_prefix = f"msg_{run_id}_"
    requests = stack.query(
        "SELECT count(*), count(DISTINCT webhook_id) FROM handoffs_inboundrequest WHERE left(webhook_id, %s) = %s",
        (len(webhook_prefix), webhook_prefix),
    )[0]
    return {
        "requests": int(requests[0]),
        "distinct_webhook_ids": int(requests[1]),
        "conversations": int(
            stack.query(
                "SELECT count(*) FROM handoffs_conversation WHERE left(external_id, %s) = %s",
                (len(prefix), prefix),
            )[0][0]
        ),
        "turn": count("handoffs_turn", " AND x.role IN ('customer', 'bot')"),
        "agent_turns": count("handoffs_turn", " AND x.role = 'agent'"),
        "step": count("handoffs_step"),
        "escalation": count("handoffs_handoff"),
        "csat": count("handoffs_csatrating"),
    }


def _mib(value: int) -> float:
    return value / MEBI


def report(
    outcome: Outcome, stored: dict[str, int], processes: list[Process]
) -> tuple[list[Row], list[str], bool]:
    summary, agents = outcome.summary, outcome.agents
    rows_on_sockets = _rows_on_sockets(outcome)
    seconds = max(outcome.load_seconds, 1e-9)
    # Conversations start over (N - 1) / R seconds; the last ones then run their course (the tail).
    schedule = max((summary["conversations"] - 1) / summary["rate"], 1.0)
    accepted = summary["accepted"]
    by_type = summary["accepted_by_type"]
    checks = {
        "stored requests = accepted events": stored["requests"] == accepted,
        "no webhook-id stored twice": stored["distinct_webhook_ids"] == stored["requests"],
        "conversations stored = started": stored["conversations"] == summary["conversations"],
        **{
            f"stored {kind} = accepted {kind} events": stored[kind] == by_type.get(kind, 0)
            for kind in ("turn", "step", "escalation", "csat")
        },
        "agent turns stored = agents' messages": stored["agent_turns"] == agents.messages,
        # An event neither accepted nor refused stopped its conversation: at most one per reported error.
        "every event sent was accepted, refused or reported": 0
        <= summary["events_sent"] - accepted - summary["refused"]
        <= summary["errors"],
    }
    log_problems = {process.label: len(process.log_problems()) for process in processes}
    closed = [listener.number for listener in outcome.listeners if listener.closed]
    errors = (
        summary["errors"]
        + summary["failed_attempts"]
        + agents.errors
        + len(closed)
        + sum(log_problems.values())
    )
    rows = [
        Row("events accepted per second (whole load, tail included)", accepted / seconds, "events/s"),
        Row("escalations per second (over the schedule)", summary["escalations"] / schedule, "esc/s"),
        Row("simulator event POST p50", summary["post_p50_ms"] or float("nan"), "ms"),
        Row("simulator event POST p95", summary["post_p95_ms"] or float("nan"), "ms"),
        Row("simulator event POST p99", summary["post_p99_ms"] or float("nan"), "ms"),
        Row(
            f"escalation POST → row on {len(outcome.listeners)} agents' sockets p50",
            rows_on_sockets["p50_ms"],
            "ms",
        ),
        Row("escalation POST → row on agents' sockets p95", rows_on_sockets["p95_ms"], "ms"),
        Row("escalation POST → row on agents' sockets p99", rows_on_sockets["p99_ms"], "ms"),
        Row("agents' API calls p95", percentile(agents.latencies_ms, 95), "ms"),
        Row("errors (all kinds, see notes)", errors, "errors"),
        Row("events stored (vs accepted)", stored["requests"], "events", accepted),
        Row(
            "daphne RSS after the load (vs before)",
            _mib(outcome.end.daphne_rss),
            "MiB",
            _mib(outcome.start.daphne_rss),
        ),
        Row(
            "worker RSS after the load, pool included (vs before)",
            _mib(outcome.end.worker_rss),
            "MiB",
            _mib(outcome.start.worker_rss),
        ),
    ]
    notes = [
        f"run {outcome.run_id}: {summary['conversations']} conversations started over {schedule:.0f} s, all "
        f"done after {seconds:.0f} s, "
        f"{summary['escalations']} escalated; events sent {summary['events_sent']}, accepted {accepted}, "
        f"refused {summary['refused']} (a person had the conversation), replays {summary['replayed']}",
        f"stored: {stored}; accepted by type: {by_type}",
        f"agents: {agents.claimed} claimed, {agents.messages} messages, {agents.resolved} resolved; "
        f"calls {dict(agents.statuses)}",
        f"rows on sockets: {rows_on_sockets['received']} of {rows_on_sockets['expected']} "
        f"({rows_on_sockets['missing']} missing, max {rows_on_sockets['max_ms']:.0f} ms)",
        f"errors: simulator conversations {summary['errors']}, failed attempts {summary['failed_attempts']} "
        f"{summary['statuses']}, agents {agents.errors}, sockets closed by the server {closed}, "
        f"error lines in logs {log_problems}",
        f"CPU over the load: daphne {100 * outcome.server_cpu_s / seconds:.0f}%, worker "
        f"{100 * outcome.worker_cpu_s / seconds:.0f}% of one core; worker backlog left after draining "
        f"{outcome.backlog_after_drain}; schedule up to {summary['start_late_max_s']:.2f} s late",
    ]
    notes += [f"check {name}: {'ok' if ok else 'FAILED'}" for name, ok in checks.items()]
    notes += summary["error_samples"] + agents.error_samples
    return rows, notes, all(checks.values()) and errors == 0


def run(args: argparse.Namespace) -> int:
    stack = Stack.from_environment()
    servers = Servers()
    started = time.time()
    try:
        print("setting up warmline_bench, Redis, the team, its agents and the servers ...", flush=True)
        stack.acquire()
        stack.prepare()
        info = machine(stack)
        setup = team_setup(
            stack,
            team="Load",
            agents=AGENTS,
            prefix="load",
            tokens=ACTIVE_AGENTS,
            skills=SKILLS,
            languages=("en", "es"),
        )
        env = stack.server_env(settings="console.settings", extra={"WARMLINE_CONTEXT_ENGINES": "1"})
        server = servers.start("loadtest", env)
        worker = servers.start_worker("loadtest-worker", env)
        outcome = asyncio.run(_run(stack, server, worker, setup, args))
    finally:
        servers.stop_all()
        stack.release()
    stored = stored_counts(stack, outcome.run_id)
    rows, notes, passed = report(outcome, stored, [server, worker])
    print()
    print(machine_line(info) + f" | load average {os.getloadavg()[0]:.2f}")
    print(f"load: {args.rate:g} new conversations/s for {args.minutes:g} min, {AGENTS} agents connected")
    print(table(rows))
    for note in notes:
        print(f"  - {note}")
    payload: dict[str, Any] = {
        "kind": "loadtest",
        "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(),
        "duration_s": time.time() - started,
        "machine": info,
        "options": vars(args)
        | {"agents": AGENTS, "active_agents": ACTIVE_AGENTS, "pace": PACE, "patience_s": PATIENCE},
        "rows": [row.as_json() for row in rows],
        "notes": notes,
        "passed": passed,
        "details": {
            "simulator": outcome.summary | {"escalations_sent": len(outcome.summary["escalations_sent"])},
            "stored": stored,
            "rows_on_sockets": _rows_on_sockets(outcome),
            "agents": {
                "statuses": dict(outcome.agents.statuses),
                "claimed": outcome.agents.claimed,
                "resolved": outcome.agents.resolved,
                "messages": outcome.agents.messages,
            },
            "samples": [vars(sample) for sample in [outcome.start, *outcome.samples, outcome.end]],
            "server_log": str(server.log_path),
            "worker_log": str(worker.log_path),
        },
    }
    path = write_json(payload, prefix="loadtest-")
    print(f"results: {path}")
    print("PASSED" if passed else "FAILED: see the checks and errors above")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except StackError as error:
        print(f"loadtest: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
