"""Simulator sustained escalation rate (issue 5): the most simulated conversations per second, each one
escalating, that Warmline holds with zero errors, against the same steps on bare endpoints.

Each stage runs ``manage.py simulate --conversations R*S --rate R --bot BOT --pace 0 --patience P`` in
its own process (``bench.simulation``) against a real daphne (engines on, as deployed) with a real Celery
worker: every conversation streams its script as fast as the console answers (about ten signed events),
escalates, posts the announcement, says a line while waiting, polls its handoff and, nobody claiming it,
leaves after P seconds. A stage holds when
- every conversation escalated and every request attempt was answered 2xx: zero errors, no retries;
- the simulator kept its schedule (no conversation started more than 1 s late);
- the console kept up: the p95 time from a conversation's first event to its escalation's answer stayed
  under 3x that of the first stage plus 1 s (the load is open loop: a console that falls behind makes
  it grow all through the stage);
- the worker kept up: at most BACKLOG_MAX tasks waited in the broker when the stage ended.
Rates double (1, 2, 4, ... per second) and stop at the first stage that does not hold; the figure is the
last rate that held. When the last step held too, the figure is a floor ("all held"): the client, on the
same machine, may be the limit.

Baseline, same run: the same stages and rules against the baseline server's bot-API-shaped endpoints
(``bench.baseline_urls``: one INSERT per POST, handoffs always queued), so the ratio is what Warmline's own
work (signatures, idempotency, ingest, context engines, escalation, broadcasts, tasks) costs this traffic.
Between stages the worker's backlog is drained so that one stage's tasks are not charged to the next.

``WARMLINE_BENCH_SIM_RATES`` (default ``1,2,4,8,16,32``) and ``WARMLINE_BENCH_SIM_STAGE_SECONDS``
(default 15) change the steps for quick runs.
"""

import os
import secrets
import time
from typing import Any

from bench.registry import Context, register
from bench.report import Row
from bench.servers import Server
from bench.simulation import SimulationError, celery_backlog, start_simulation

RATES_ENV = "WARMLINE_BENCH_SIM_RATES"
STAGE_ENV = "WARMLINE_BENCH_SIM_STAGE_SECONDS"
DEFAULT_RATES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
DEFAULT_STAGE_SECONDS = 15.0
PATIENCE = 2.0
LATE_LIMIT_S = 1.0
BACKLOG_MAX = 50
DRAIN_LIMIT_S = 90.0


def _rates() -> list[float]:
    raw = os.environ.get(RATES_ENV)
    rates = [float(item) for item in raw.split(",")] if raw else list(DEFAULT_RATES)
    if not rates or any(rate <= 0 for rate in rates) or rates != sorted(rates):
        raise ValueError(f"{RATES_ENV} must list positive rates in increasing order")
    return rates


def _stage_seconds() -> float:
    seconds = float(os.environ.get(STAGE_ENV) or DEFAULT_STAGE_SECONDS)
    if seconds <= 0:
        raise ValueError(f"{STAGE_ENV} must be positive")
    return seconds


def _drain(ctx: Context, limit: float) -> int:
    """Wait until the worker took every queued task (or ``limit`` s passed); the backlog left."""
    deadline = time.monotonic() + limit
    backlog = celery_backlog(ctx.stack)
    while backlog and time.monotonic() < deadline:
        time.sleep(0.5)
        backlog = celery_backlog(ctx.stack)
    return backlog


def _verdict(summary: dict[str, Any], backlog: int | None, first: dict[str, Any] | None) -> list[str]:
    """Why a stage did not hold (empty: it held)."""
    reasons = []
    if summary["errors"] or summary["failed_attempts"]:
        reasons.append(
            f"{summary['errors']} conversation error(s), {summary['failed_attempts']} failed attempt(s) "
            f"{summary['statuses']}: {summary['error_samples'][:2]}"
        )
    if summary["escalations"] != summary["conversations"]:
        reasons.append(f"{summary['escalations']} of {summary['conversations']} escalated")
    if summary["start_late_max_s"] > LATE_LIMIT_S:
        reasons.append(f"the schedule ran up to {summary['start_late_max_s']:.1f} s late")
    if first is not None and summary["escalate_p95_s"] is not None and first["escalate_p95_s"] is not None:
        limit = 3 * first["escalate_p95_s"] + 1
        if summary["escalate_p95_s"] > limit:
            reasons.append(f"time to escalate p95 {summary['escalate_p95_s']:.1f} s > {limit:.1f} s")
    if backlog is not None and backlog > BACKLOG_MAX:
        reasons.append(f"{backlog} tasks waiting for the worker at the end")
    return reasons


def _steps(ctx: Context, server: Server, label: str, *, worker: bool) -> list[dict[str, Any]]:
    seconds = _stage_seconds()
    stages: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    for rate in _rates():
        conversations = max(1, round(rate * seconds))
        run_id = f"{label}{rate:g}-{secrets.token_hex(2)}".replace(".", "_")
        ctx.stack.quiesce()
        cpu_before = server.cpu_seconds()
        simulation = start_simulation(
            ctx.stack,
            url=server.base_url,
            bot_id=ctx.bot_id,
            conversations=conversations,
            rate=rate,
            run_id=run_id,
            patience=PATIENCE,
        )
        try:
            summary = simulation.wait(timeout=seconds * 4 + 120)
        except SimulationError as error:
            stages.append({"rate": rate, "held": False, "reasons": [str(error)[:2000]]})
            break
        backlog = celery_backlog(ctx.stack) if worker else None
        reasons = _verdict(summary, backlog, first)
        stage = {
            "rate": rate,
            "conversations": conversations,
            "held": not reasons,
            "reasons": reasons,
            "backlog_at_end": backlog,
            "server_cpu_pct": 100 * (server.cpu_seconds() - cpu_before) / max(summary["seconds"], 1e-9),
            "events_per_s": summary["accepted"] / max(summary["seconds"], 1e-9),
            "summary": summary,
        }
        if worker:
            stage["backlog_after_drain"] = _drain(ctx, DRAIN_LIMIT_S)
        stages.append(stage)
        print(
            f"  {label} {rate:g}/s: {'held' if stage['held'] else 'NOT held'}"
            + (f" ({'; '.join(reasons)})" if reasons else ""),
            flush=True,
        )
        if reasons:
            break
        first = first or summary
    return stages


def _held(stages: list[dict[str, Any]]) -> float:
    held = [stage["rate"] for stage in stages if stage["held"]]
    return max(held) if held else 0.0


def _p95_at(stages: list[dict[str, Any]], rate: float) -> float:
    for stage in stages:
        if stage["rate"] == rate and "summary" in stage:
            return float(stage["summary"]["post_p95_ms"] or float("nan"))
    return float("nan")


@register(
    "simulator_rate",
    "simulate's sustained escalation rate with zero errors (daphne + worker), stepped up, vs bare endpoints",
)
def simulator_rate(ctx: Context) -> list[Row]:
    target = ctx.start_target("simulate", engines=True)
    worker = ctx.servers.start_worker("simulate-worker", target.env)
    try:
        target_stages = _steps(ctx, target, "t", worker=True)
    finally:
        worker.stop()
        target.stop()
        ctx.note_server_log(target)
        ctx.note_server_log(worker)
    baseline = ctx.start_baseline("simulate-baseline")
    try:
        base_stages = _steps(ctx, baseline, "b", worker=False)
    finally:
        baseline.stop()
        ctx.note_server_log(baseline)
    held, held_base = _held(target_stages), _held(base_stages)
    ctx.details["simulator_rate"] = {
        "rates": _rates(),
        "stage_seconds": _stage_seconds(),
        "patience_s": PATIENCE,
        "target": target_stages,
        "baseline": base_stages,
        "server_log": str(target.log_path),
        "worker_log": str(worker.log_path),
    }
    top = _rates()[-1]
    for label, stages, figure in (("Warmline", target_stages, held), ("baseline", base_stages, held_base)):
        failed = [stage for stage in stages if not stage["held"]]
        if failed:
            ctx.notes.append(
                f"simulator_rate {label}: {figure:g}/s held; {failed[0]['rate']:g}/s did not: "
                + "; ".join(failed[0]["reasons"])
            )
        else:
            ctx.notes.append(
                f"simulator_rate {label}: every step up to {top:g}/s held (a floor; the simulator shares the machine)"
            )
    first_rate = _rates()[0]
    return [
        Row(
            "simulator escalations/s held, zero errors (vs bare bot-API endpoints)", held, "conv/s", held_base
        ),
        Row(
            f"simulator request p95 at {held:g}/s (vs baseline at that rate)",
            _p95_at(target_stages, held),
            "ms",
            _p95_at(base_stages, held),
        ),
        Row(
            f"simulator request p95 at {first_rate:g}/s (vs baseline)",
            _p95_at(target_stages, first_rate),
            "ms",
            _p95_at(base_stages, first_rate),
        ),
    ]
