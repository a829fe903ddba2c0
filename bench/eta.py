"""How wrong is the estimated wait? The ETA a customer is told, against the wait they then had.

A realistic queue is played on the real product with a scripted clock: a few simulated hours run in
about a minute. Customers arrive as a Poisson stream whose rate changes every half hour (quiet spells
and rushes beyond what the team can take), each one a scripted conversation of ``handoffs.demo.scenarios``
posted by the simulator's ``BotAPI`` through the public signed API (``POST /api/v1/bots/{id}/events``,
served in-process by Django's WSGI handler: signatures, idempotency, ingest, context engines, priority,
routing). Simulated agents (capacity 2; one takes a 20-minute break) watch the queue, claim the top of
what they may take after a reaction time, go through the team's preparation window (the product's own
timer connects them) and resolve after a log-normal handling time. The product's timers (``run_later``:
ETA refreshes, auto-connect, offers) run at their due simulated moment; callbacks are recorded in the
outbox (that is where the ``handoff.eta`` estimates are read back) but not delivered.

For each handoff it records the estimate given at queue time (the escalation's answer, which is also the
``handoff.queued`` callback) and each refreshed one (``handoff.eta``), and the actual wait from that
moment to the claim. Beside the product's estimator, two naive predictors are evaluated at the same
moments on the same history: *position × the team's mean handling time* (ignoring how many agents there
are) and *the mean wait so far* (a constant). The first half hour is warm-up (no history yet) and is not
scored. Run alone: ``python -m bench.eta`` (Django settings from the environment, as ``make bench``
sets them).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.registry import Context, register
from bench.report import Row

# --- the workload ---------------------------------------------------------------------------------
BLOCK_MINUTES = 30
# Arrivals per minute in each half hour: quiet, building, a rush beyond capacity, draining, a second peak.
RATES_PER_MINUTE = (0.6, 0.9, 1.3, 1.5, 1.0, 0.7, 1.3, 0.8)
AGENTS = 4
CAPACITY = 2
PREPARE_SECONDS = 30
HANDLING_MEDIAN_SECONDS = 300.0
HANDLING_SIGMA = 0.5  # log-normal: mean ≈ 340 s, p90 ≈ 570 s
REACTION_SECONDS = (5.0, 30.0)  # from a free slot and a waiting customer to the claim
WRAP_UP_SECONDS = (10.0, 40.0)  # after a resolve, before looking at the queue again
HEARTBEAT_SECONDS = 45.0
BREAK = (95 * 60, 115 * 60)  # one agent is away for these 20 minutes
WARM_UP_SECONDS = 30 * 60
TEAM = "ETA bench"
ACCEPT_SECONDS = 30.0  # "within ±30 s"
ACCEPT_SHARE = 0.5  # "within ±50 %"


@dataclass
class Estimate:
    """One estimate told to a customer, the two naive ones at the same moment, and what happened."""

    handoff_id: str
    at: float  # simulated seconds
    position: int
    product: float
    naive_handling: float
    naive_mean_wait: float
    at_queue: bool
    actual: float | None = None


@dataclass(order=True)
class Event:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Simulation:
    """The discrete-event loop: a heap of due actions, the clock moved to each before it runs."""

    def __init__(self, *, seed: int) -> None:
        import time_machine
        from django.core.wsgi import get_wsgi_application

        self.rng = random.Random(seed)
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.traveller = time_machine.travel(self.start, tick=False)
        self.clock = self.traveller.start()
        self.now = 0.0
        self.heap: list[Event] = []
        self.seq = itertools.count()
        self.wsgi = get_wsgi_application()
        self.estimates: list[Estimate] = []
        self.queued_at: dict[str, float] = {}
        self.claimed_at: dict[str, float] = {}
        self.outbox_seen = 0
        self.requests = 0

    # --- the clock and the heap -----------------------------------------------------------------

    def at(self, seconds: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.heap, Event(max(seconds, self.now), next(self.seq), action))

    def run(self) -> None:
        while self.heap:
            event = heapq.heappop(self.heap)
            self.now = event.at
            self.clock.move_to(self.start + timedelta(seconds=self.now))
            event.action()

    def close(self) -> None:
        self.traveller.stop()


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def simulate(*, seed: int, records: bool = False) -> dict[str, Any]:
    import httpx
    from django.db import connections
    from django.db.models import Avg, F

    from handoffs import scheduling
    from handoffs.demo.scenarios import SCENARIOS
    from handoffs.demo.simulator import BotAPI, Credentials
    from handoffs.models import AgentProfile, Handoff, OutboundDelivery, Team
    from handoffs.selectors import queue_for_agent
    from handoffs.services.agents import agent_create, agent_presence_set, agent_seen
    from handoffs.services.bots import bot_create
    from handoffs.services.handoffs import handoff_claim, handoff_resolve
    from handoffs.services.wait import estimate_wait_seconds, team_load
    from handoffs.tasks import deliver_callbacks

    sim = Simulation(seed=seed)
    rng = sim.rng
    run_tag = f"{int(time.time())}{rng.getrandbits(16):04x}"

    # The product's timers run at their due simulated moment; callbacks stay in the outbox.
    def schedule(task: Any, args: tuple[Any, ...], delay: float) -> None:
        if task is deliver_callbacks:
            return
        sim.at(sim.now + delay, lambda: (task.apply(args=args), read_outbox()))

    scheduling._schedule = schedule  # type: ignore[assignment]
    scheduling._enqueue = lambda task, args: None  # type: ignore[assignment]  # self-model inference

    team_name = f"{TEAM} {run_tag}"
    bot, secret = bot_create(
        name="ETA bench bot", team_name=team_name, callback_url="http://127.0.0.1:9/eta-bench"
    )
    team = Team.objects.get(name=team_name)
    team.prepare_seconds = PREPARE_SECONDS
    # The agents' messages are not simulated, so the reply deadlines (which would requeue) are off.
    team.first_reply_seconds = team.answer_seconds = 0
    team.save(update_fields=["prepare_seconds", "first_reply_seconds", "answer_seconds"])
    client = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi), base_url="http://127.0.0.1")
    api = BotAPI("http://127.0.0.1", Credentials(bot.bot_id, secret), client=client, startup_timeout=5)

    agents: list[AgentProfile] = []
    for number in range(AGENTS):
        languages = ["en", "es"] if number % 2 == 0 else ["en"]
        profile, _ = agent_create(
            username=f"eta-{run_tag}-{number}",
            team_name=team_name,
            skills=["orders", "returns", "refunds", "cards", "connectivity"],
            languages=languages,
            display_name=f"Agent {number}",
        )
        profile.capacity = CAPACITY
        profile.save(update_fields=["capacity"])
        agent_presence_set(agent=profile, presence=AgentProfile.Presence.AVAILABLE)
        agents.append(profile)
    active: dict[int, set[str]] = {agent.pk: set() for agent in agents}
    looking: set[int] = set()
    away: set[int] = set()

    # --- the naive predictors, on the same history the product sees -------------------------------

    def naive(position: int) -> tuple[float, float]:
        rows = Handoff.objects.filter(team=team)
        handled = rows.filter(status="resolved").aggregate(mean=Avg(F("ended_at") - F("connected_at")))
        waited = rows.filter(claimed_at__isnull=False).aggregate(mean=Avg(F("claimed_at") - F("queued_at")))
        mean_handling = handled["mean"].total_seconds() if handled["mean"] else HANDLING_MEDIAN_SECONDS
        return position * mean_handling, (waited["mean"].total_seconds() if waited["mean"] else 60.0)

    loads: list[dict[str, Any]] = []

    def record(handoff_id: str, position: int, estimate: float, *, at_queue: bool) -> None:
        if records:
            load = team_load(team)
            loads.append(vars(load) | {"at": sim.now, "free": load.free})
        by_handling, by_mean = naive(position)
        sim.estimates.append(
            Estimate(handoff_id, sim.now, position, float(estimate), by_handling, by_mean, at_queue)
        )

    def read_outbox() -> None:
        rows = OutboundDelivery.objects.filter(bot=bot, type="handoff.eta", pk__gt=sim.outbox_seen).order_by(
            "pk"
        )
        for row in rows:
            sim.outbox_seen = row.pk
            data = row.payload["data"]
            record(
                row.payload["handoff_id"],
                data["queue_position"],
                data["estimated_wait_seconds"],
                at_queue=False,
            )

    # --- customers ----------------------------------------------------------------------------------

    conversations = itertools.count(1)
    bag: list[Any] = []

    def arrive() -> None:
        if not bag:
            bag.extend(rng.sample(SCENARIOS, len(SCENARIOS)))
        scenario = bag.pop()
        number = next(conversations)
        conversation_id = f"eta-{run_tag}-{number}"
        events = scenario.script_events(conversation_id, f"cust-{run_tag}-{number}")
        response = api.post_event({"events": events})
        escalated = api.post_event(scenario.escalation_event(conversation_id))
        sim.requests += 2
        if response.status_code not in (200, 201) or escalated.status_code not in (200, 201):
            refused = escalated if response.is_success else response
            raise RuntimeError(
                f"the API refused a simulated conversation: {refused.status_code} {refused.text[:300]}"
            )
        handoff = escalated.json()["handoff"]
        sim.queued_at[handoff["id"]] = sim.now
        record(handoff["id"], handoff["queue_position"], handoff["estimated_wait_seconds"], at_queue=True)
        read_outbox()
        for agent in agents:
            wake(agent, REACTION_SECONDS)

    def schedule_arrivals() -> None:
        moment = 0.0
        for block, rate in enumerate(RATES_PER_MINUTE):
            end = (block + 1) * BLOCK_MINUTES * 60
            while True:
                moment += rng.expovariate(rate / 60.0)
                if moment >= end:
                    moment = end
                    break
                sim.at(moment, arrive)

    # --- agents -------------------------------------------------------------------------------------

    def wake(agent: AgentProfile, delay: tuple[float, float]) -> None:
        if agent.pk in looking or agent.pk in away or len(active[agent.pk]) >= CAPACITY:
            return
        looking.add(agent.pk)
        sim.at(sim.now + rng.uniform(*delay), lambda: look(agent))

    def look(agent: AgentProfile) -> None:
        looking.discard(agent.pk)
        if agent.pk in away or len(active[agent.pk]) >= CAPACITY:
            return
        for handoff in queue_for_agent(agent=agent, limit=5):
            try:
                handoff_claim(handoff_id=str(handoff.id), agent=agent)
            except Exception:  # noqa: S112 - taken a moment ago by someone else: try the next one
                continue
            handoff_id = str(handoff.id)
            sim.claimed_at[handoff_id] = sim.now
            active[agent.pk].add(handoff_id)
            handling = _lognormal(rng, HANDLING_MEDIAN_SECONDS, HANDLING_SIGMA)
            sim.at(sim.now + PREPARE_SECONDS + 1 + handling, lambda h=handoff_id: resolve(agent, h))
            read_outbox()
            wake(agent, REACTION_SECONDS)
            return

    def resolve(agent: AgentProfile, handoff_id: str) -> None:
        handoff_resolve(handoff_id=handoff_id, agent=agent, resolution="Sorted out (simulated).")
        active[agent.pk].discard(handoff_id)
        read_outbox()
        wake(agent, WRAP_UP_SECONDS)

    last_arrival = len(RATES_PER_MINUTE) * BLOCK_MINUTES * 60

    def heartbeat(agent: AgentProfile) -> None:
        """The console's presence ping; a person also glances at the queue now and then."""
        agent_seen(agent_id=agent.pk)
        wake(agent, REACTION_SECONDS)
        busy = any(active.values()) or len(sim.claimed_at) < len(sim.queued_at)
        if sim.now < last_arrival or busy:
            sim.at(sim.now + HEARTBEAT_SECONDS, lambda: heartbeat(agent))

    def take_break(agent: AgentProfile) -> None:
        away.add(agent.pk)
        agent_presence_set(agent=agent, presence=AgentProfile.Presence.AWAY)

    def come_back(agent: AgentProfile) -> None:
        away.discard(agent.pk)
        agent_presence_set(agent=agent, presence=AgentProfile.Presence.AVAILABLE)
        wake(agent, REACTION_SECONDS)

    schedule_arrivals()
    for agent in agents:
        sim.at(rng.uniform(0, HEARTBEAT_SECONDS), lambda a=agent: heartbeat(a))
    sim.at(BREAK[0], lambda: take_break(agents[1]))
    sim.at(BREAK[1], lambda: come_back(agents[1]))

    started = time.perf_counter()
    try:
        sim.run()
    finally:
        sim.close()
        connections.close_all()
    elapsed = time.perf_counter() - started

    unclaimed = [handoff_id for handoff_id in sim.queued_at if handoff_id not in sim.claimed_at]
    for estimate in sim.estimates:
        claimed = sim.claimed_at.get(estimate.handoff_id)
        if claimed is not None:
            estimate.actual = claimed - estimate.at
    waits = [sim.claimed_at[h] - sim.queued_at[h] for h in sim.claimed_at if h in sim.queued_at]
    scored = [
        e for e in sim.estimates if e.actual is not None and sim.queued_at[e.handoff_id] >= WARM_UP_SECONDS
    ]
    at_queue = [e for e in scored if e.at_queue]
    refreshed = [e for e in scored if not e.at_queue]
    # What the estimator would say now, for the record (it reads the whole simulated history).
    final_estimate = estimate_wait_seconds(team=team, position=1)
    return {
        "simulated_hours": sim.now / 3600,
        "wall_seconds": elapsed,
        "requests": sim.requests,
        "handoffs": len(sim.queued_at),
        "unclaimed": len(unclaimed),
        "scored_handoffs": len(at_queue),
        "actual_wait": _distribution(waits),
        "final_estimate_position_1": final_estimate,
        "at_queue": _errors(at_queue),
        "refreshed": _errors(refreshed),
        "all": _errors(scored),
        "estimates": [vars(e) for e in scored] if records else [],
        "queued_at": sim.queued_at if records else {},
        "claimed_at": sim.claimed_at if records else {},
        "loads": loads if records else [],
        "workload": {
            "rates_per_minute": RATES_PER_MINUTE,
            "block_minutes": BLOCK_MINUTES,
            "agents": AGENTS,
            "capacity": CAPACITY,
            "prepare_seconds": PREPARE_SECONDS,
            "handling_median_seconds": HANDLING_MEDIAN_SECONDS,
            "handling_sigma": HANDLING_SIGMA,
            "warm_up_seconds": WARM_UP_SECONDS,
        },
    }


def _distribution(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "mean": statistics.fmean(ordered),
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)],
        "max": ordered[-1],
    }


def _errors(estimates: list[Estimate]) -> dict[str, Any]:
    """Absolute-error figures of each predictor over the same estimates."""
    result: dict[str, Any] = {"count": len(estimates)}
    for name in ("product", "naive_handling", "naive_mean_wait"):
        pairs = [(getattr(e, name), e.actual) for e in estimates if e.actual is not None]
        errors = [abs(predicted - actual) for predicted, actual in pairs]
        if not errors:
            continue
        spread = _distribution(errors)
        result[name] = {
            "mae": spread["mean"],
            "median": spread["median"],
            "p90": spread["p90"],
            "bias": statistics.fmean(predicted - actual for predicted, actual in pairs),
            "within_30s": sum(error <= ACCEPT_SECONDS for error in errors) / len(errors),
            "within_50pct": sum(
                abs(predicted - actual) <= ACCEPT_SHARE * actual for predicted, actual in pairs
            )
            / len(errors),
        }
    return result


# --- the benchmark: run the simulation in a Django process of its own ------------------------------


def _run_simulation(ctx: Context) -> dict[str, Any]:
    out = ctx.stack.python("-m", "bench.eta", "--seed", str(ctx.options.seed), timeout=900)
    return json.loads(out.strip().splitlines()[-1])


@register("eta_accuracy", "ETA against actual waits: a simulated queue on a scripted clock")
def eta_accuracy(ctx: Context) -> list[Row]:
    data = _run_simulation(ctx)
    ctx.details["eta_accuracy"] = data
    rows: list[Row] = []
    for label, part in (("at queue", data["at_queue"]), ("refreshed", data["refreshed"])):
        product, naive = part.get("product"), part.get("naive_handling")
        if not product or not naive:
            continue
        constant = part["naive_mean_wait"]
        rows += [
            Row(f"eta {label}: mean abs error (vs position×handling)", product["mae"], "s", naive["mae"]),
            Row(f"eta {label}: mean abs error (vs mean wait)", product["mae"], "s", constant["mae"]),
            Row(f"eta {label}: median abs error", product["median"], "s", naive["median"]),
            Row(f"eta {label}: p90 abs error", product["p90"], "s", naive["p90"]),
            Row(f"eta {label}: within ±30 s", 100 * product["within_30s"], "%", 100 * naive["within_30s"]),
            Row(
                f"eta {label}: within ±50 %", 100 * product["within_50pct"], "%", 100 * naive["within_50pct"]
            ),
        ]
    wait = data["actual_wait"]
    ctx.notes.append(
        f"eta_accuracy: {data['handoffs']} handoffs over {data['simulated_hours']:.1f} simulated h in "
        f"{data['wall_seconds']:.0f} s ({data['scored_handoffs']} scored after the warm-up; "
        f"{data['refreshed'].get('count', 0)} refreshed estimates); actual wait mean {wait.get('mean', 0):.0f} s, "
        f"median {wait.get('median', 0):.0f} s, p90 {wait.get('p90', 0):.0f} s; bias (estimate − actual) at "
        f"queue {data['at_queue'].get('product', {}).get('bias', float('nan')):+.0f} s. Baseline column: "
        "position × the team's mean handling time (agent count ignored); the mean-wait row uses the "
        "constant mean wait so far. Lower error / higher share is better."
    )
    if data["unclaimed"]:
        ctx.notes.append(f"eta_accuracy: {data['unclaimed']} handoffs were never claimed (not scored)")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eta", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", action="store_true", help="include every scored estimate in the JSON")
    args = parser.parse_args(argv)
    import django

    django.setup()
    print(json.dumps(simulate(seed=args.seed, records=args.records)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
