"""Ingest throughput: signed single ``turn`` events from 16 keep-alive clients, against a baseline.

The baseline is the same stack (daphne, Django's ASGI handler, middleware, psycopg pool) with a view
that does one INSERT: the ratio says how much of the stack's capacity the app's own work leaves.
"""

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.baseline_urls import BASELINE_TABLE
from bench.load import LoadResult, percentile, run_load
from bench.registry import Context, register
from bench.report import Row
from bench.servers import Server
from bench.stack import ROOT
from bench.workload import prepare_turns

TURNS_PER_CONVERSATION = 20
AIM_VS_BASELINE = 0.5
AIM_ENGINE_COST = 0.2


def engines_switch_present() -> bool:
    # The switch is read by the app; if no module mentions it yet, both target runs are identical.
    return any("WARMLINE_CONTEXT_ENGINES" in path.read_text() for path in (ROOT / "handoffs").rglob("*.py"))


def _run(
    ctx: Context, server: Server, *, label: str, path: str, signed: bool
) -> tuple[LoadResult, dict[str, Any]]:
    options = ctx.options
    # Enough requests for max_rate over the whole run; a worker that runs out is flagged, not hidden.
    per_worker = math.ceil(options.max_rate * (options.warmup + options.seconds) / options.concurrency)
    queues = [
        prepare_turns(
            seed=options.seed * 1000 + worker,
            prefix=f"bench-{label}-w{worker:02d}",
            count=per_worker,
            turns_per_conversation=TURNS_PER_CONVERSATION,
            secret=ctx.secret if signed else None,
        )
        for worker in range(options.concurrency)
    ]
    ctx.stack.quiesce()
    cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
    result = run_load(server.base_url + path, queues, warmup=options.warmup, seconds=options.seconds)
    wall = time.perf_counter() - wall_before
    latencies = [(sample.finished - sample.started) * 1000 for sample in result.ok_in_window()]
    stats: dict[str, Any] = {
        "events_per_s": len(latencies) / options.seconds,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "ok_in_window": len(latencies),
        "requests_total": len(result.samples),
        "statuses": {str(status): count for status, count in sorted(result.statuses().items())},
        "transport_errors": dict(result.transport_errors),
        "error_bodies": result.error_bodies,
        "exhausted_workers": result.exhausted_workers,
        "server_cpu_pct": 100 * (server.cpu_seconds() - cpu_before) / wall,
        "client_cpu_pct": 100 * result.client_cpu_seconds / wall,
        "server_log": str(server.log_path),
    }
    _note_errors(ctx, label, stats)
    return result, stats


def _note_errors(ctx: Context, label: str, stats: dict[str, Any]) -> None:
    failures = {status: count for status, count in stats["statuses"].items() if not status.startswith("2")}
    if failures or stats["transport_errors"]:
        ctx.notes.append(
            f"{label}: non-2xx {failures}, transport errors {stats['transport_errors']}; "
            f"first bodies: {stats['error_bodies'][:2]}"
        )
    if stats["exhausted_workers"]:
        ctx.notes.append(
            f"{label}: {stats['exhausted_workers']} worker(s) ran out of pre-signed requests; "
            "raise --max-rate (the figure is a lower bound)"
        )


def _verify_baseline(ctx: Context, result: LoadResult) -> dict[str, int]:
    stored = int(ctx.stack.query(f"SELECT count(*) FROM {BASELINE_TABLE}")[0][0])  # noqa: S608
    return {"stored": stored, "ok": sum(result.ok_total().values()), "mismatched_conversations": 0}


def _verify_turns(ctx: Context, result: LoadResult, label: str) -> dict[str, int]:
    """Stored turns per conversation must equal the 2xx responses for it: no loss, no duplicate."""
    rows = ctx.stack.query(
        "SELECT c.external_id, count(t.id) FROM handoffs_conversation c "
        "JOIN handoffs_turn t ON t.conversation_id = c.id WHERE c.external_id LIKE %s GROUP BY c.external_id",
        (f"bench-{label}-%",),
    )
    stored = Counter({str(external_id): int(count) for external_id, count in rows})
    ok = result.ok_total()
    mismatched = sum(1 for key in stored.keys() | ok.keys() if stored[key] != ok[key])
    return {"stored": sum(stored.values()), "ok": sum(ok.values()), "mismatched_conversations": mismatched}


def _note_verification(ctx: Context, label: str, check: dict[str, int]) -> None:
    verdict = "ok" if check["stored"] == check["ok"] and not check["mismatched_conversations"] else "MISMATCH"
    ctx.notes.append(
        f"{label}: stored {check['stored']} rows for {check['ok']} 2xx responses "
        f"({check['mismatched_conversations']} conversation(s) differ): {verdict}"
    )


def _baseline(ctx: Context) -> dict[str, Any]:
    server = ctx.start_baseline()
    try:
        ctx.stack.execute(f"TRUNCATE {BASELINE_TABLE}")
        result, stats = _run(ctx, server, label="baseline", path="/bench/events", signed=False)
    finally:
        server.stop()
        ctx.note_server_log(server)
    stats["verification"] = _verify_baseline(ctx, result)
    _note_verification(ctx, "baseline", stats["verification"])
    return stats


def _target(ctx: Context, *, engines: bool) -> dict[str, Any]:
    label = "engines-on" if engines else "engines-off"
    server = ctx.start_target(label, engines=engines)
    try:
        result, stats = _run(ctx, server, label=label, path=f"/api/v1/bots/{ctx.bot_id}/events", signed=True)
    finally:
        server.stop()
        ctx.note_server_log(server)
    stats["verification"] = _verify_turns(ctx, result, label)
    _note_verification(ctx, label, stats["verification"])
    return stats


@register("ingest", "signed single-turn POSTs/s: baseline INSERT vs engines off vs engines on")
def ingest(ctx: Context) -> list[Row]:
    if not engines_switch_present():
        ctx.notes.append(
            "WARMLINE_CONTEXT_ENGINES is not read anywhere in handoffs/ yet: "
            "engines-off and engines-on ran the same code"
        )
    base = _baseline(ctx)
    off = _target(ctx, engines=False)
    on = _target(ctx, engines=True)
    ctx.details["ingest"] = {
        "baseline": base,
        "engines_off": off,
        "engines_on": on,
        "turns_per_conversation": TURNS_PER_CONVERSATION,
    }
    rows = [
        Row("ingest: baseline (1 INSERT)", base["events_per_s"], "events/s"),
        Row("ingest: engines off", off["events_per_s"], "events/s", base["events_per_s"]),
        Row(
            f"ingest: engines on (aim ratio >= {AIM_VS_BASELINE})",
            on["events_per_s"],
            "events/s",
            base["events_per_s"],
        ),
        Row(
            f"ingest: engines on vs off (aim >= {1 - AIM_ENGINE_COST:.1f})",
            on["events_per_s"],
            "events/s",
            off["events_per_s"],
        ),
    ]
    for name, stats in (("engines off", off), ("engines on", on)):
        rows.append(Row(f"ingest p50 latency: {name}", stats["p50_ms"], "ms", base["p50_ms"]))
        rows.append(Row(f"ingest p95 latency: {name}", stats["p95_ms"], "ms", base["p95_ms"]))
    for name, stats in (("baseline", base), ("engines off", off), ("engines on", on)):
        check = stats["verification"]
        rows.append(Row(f"ingest stored rows vs 2xx: {name}", check["stored"], "rows", check["ok"]))
    _note_aims(ctx, base, off, on)
    return rows


def _note_aims(ctx: Context, base: dict[str, Any], off: dict[str, Any], on: dict[str, Any]) -> None:
    if base["events_per_s"]:
        ratio = on["events_per_s"] / base["events_per_s"]
        verdict = "met" if ratio >= AIM_VS_BASELINE else "NOT met"
        ctx.notes.append(f"aim engines-on/baseline >= {AIM_VS_BASELINE}: {ratio:.2f} ({verdict})")
    if off["events_per_s"]:
        cost = 1 - on["events_per_s"] / off["events_per_s"]
        verdict = "met" if cost <= AIM_ENGINE_COST else "NOT met"
        ctx.notes.append(f"aim engine cost <= {AIM_ENGINE_COST:.0%}: {cost:.0%} ({verdict})")
    for name, stats in (("baseline", base), ("engines-off", off), ("engines-on", on)):
        ctx.notes.append(
            f"{name}: server CPU {stats['server_cpu_pct']:.0f}%, client CPU {stats['client_cpu_pct']:.0f}% "
            f"(of one core; {Path(stats['server_log']).name})"
        )
