"""Self-model: read latency of a customer with 1,000 observations among 1,000,000, and observation writes/s.

Set-up (not timed):

- ``BULK`` observations (1,000,000 in all, less the two customers below) over ~10,000 customers, 100
  each over the same 20 keys, written by PostgreSQL itself (``INSERT ... SELECT generate_series``):
  that loads them in well under a minute where a million HTTP events would take an hour. Their
  beliefs are derived in SQL too (the latest observation per key): they are there so that the belief
  table has its realistic size (~200,000 rows), not to be read.
- the **target** customer: 1,000 observations over the 20 keys (50 each, values that disagree, spread
  over ~80 days) posted as signed ``observation`` events in batches of 100, so its beliefs are computed
  by the real service (``observation_record`` → ``belief_refresh``);
- the **baseline** customer: one observation per key (20), posted the same way: the same beliefs, so
  the same answer shape, from 1/50 of the evidence.

``WARMLINE_BENCH_OBSERVATIONS`` sets the total (default 1,000,000) for quick runs while developing.

Reads: sequential signed ``GET .../customers/{id}/self-model`` on daphne (engines on, as deployed),
target and baseline alternating so that drift hits both alike; two bots read: one granted general,
billing and technical (18 beliefs), one also granted sensitive (20 beliefs, and every read writes an
audit record). A GET of the baseline server (405 from a view that touches no table) gives the
serving stack's floor. Then blocks of one kind give the daphne process's CPU time per read, which
other work on the machine disturbs far less than latency. Queries per read are counted in-process (``CaptureQueriesContext`` around the
same URL through Django's test client) and each SELECT is EXPLAINed.

Writes: signed single ``observation`` events over HTTP from 16 keep-alive clients, the ingest bench's
closed loop, against the ingest baseline (the same bodies to a view that does one INSERT). Two
spreads: every conversation a different existing customer (~100 observations each), and all 16
clients writing the target customer at once (writers of one customer serialise on its row lock).
Before them, one client alternates single writes to the target and the baseline customer (every
write recomputes its key's belief from all of that key's observations). Afterwards stored observations must equal 2xx answers, and every belief of the hot customer must
equal what the rules compute from all its observations in one go (no update lost under concurrency).
"""

import json
import math
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.baseline_urls import BASELINE_TABLE
from bench.load import REQUEST_TIMEOUT, LoadResult, percentile, run_load
from bench.registry import Context, register
from bench.report import Row
from bench.servers import Server
from bench.workload import PreparedRequest, encode, signed_headers

TOTAL_ENV = "WARMLINE_BENCH_OBSERVATIONS"
DEFAULT_TOTAL = 1_000_000
TARGET_OBSERVATIONS = 1_000
PER_BULK_CUSTOMER = 100
BATCH = 100
READS = 300
SEQUENTIAL_WRITES = 100
CPU_READS = 200
WARMUP_READS = 20
AIM_P95_MS = 10.0
PREFIX = "bench-sm"
TARGET_ID = f"{PREFIX}-target"
BASELINE_ID = f"{PREFIX}-baseline"
READER_SCOPES = "general,billing,technical"
ALL_SCOPES = "general,billing,technical,sensitive"

# key, scope, values: a spread of key families (decay) and scopes; values disagree on purpose.
KEYS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("preferred_language", "general", ("en", "de", "fr")),
    ("mood", "general", ("calm", "frustrated", "angry")),
    ("communication_preference", "general", ("email", "chat", "phone")),
    ("preferred_channel", "general", ("chat", "email")),
    ("tone", "general", ("formal", "casual")),
    ("household_size", "general", (1, 2, 4)),
    ("timezone", "general", ("Europe/Berlin", "America/New_York", "Asia/Tokyo")),
    ("loyalty_tier", "general", ("bronze", "silver", "gold")),
    ("recurring_issue", "general", ("late_delivery", "refund", "login")),
    ("shipping_preference", "general", ("standard", "express")),
    ("accessibility.screen_reader", "general", (True, False)),
    ("contact_preference", "general", ("no_calls", "any")),
    ("plan", "billing", ("free", "pro", "business")),
    ("payment_method", "billing", ("card", "paypal", {"type": "invoice", "terms_days": 30})),
    ("expertise", "technical", ("novice", "intermediate", "expert")),
    ("device", "technical", ("ios", "android", "web")),
    ("app_version", "technical", ("5.1", "5.2", "6.0")),
    ("skill_level", "technical", ("beginner", "advanced")),
    ("health_condition", "sensitive", ("none", "mobility")),
    ("financial_hardship", "sensitive", (True, False)),
)


class SelfModelError(RuntimeError):
    pass


def total_observations() -> int:
    raw = os.environ.get(TOTAL_ENV, "").replace("_", "").replace(",", "")
    total = int(raw) if raw else DEFAULT_TOTAL
    if total < TARGET_OBSERVATIONS + len(KEYS) + PER_BULK_CUSTOMER:
        raise SelfModelError(f"{TOTAL_ENV}={total} is too small")
    return total


# --- set-up -----------------------------------------------------------------------------------------


def _create_bot(ctx: Context, name: str, scopes: str) -> tuple[str, str]:
    out = ctx.stack.manage("create_bot", name, "--team", "Bench", "--scopes", scopes, "--json")
    created = json.loads(out.strip().splitlines()[-1])
    return str(created["bot_id"]), str(created["secret"])


def _bulk_load(ctx: Context, observations: int) -> dict[str, Any]:
    """``observations`` rows over customers of PER_BULK_CUSTOMER each, interleaved as they would arrive."""
    customers = math.ceil(observations / PER_BULK_CUSTOMER)
    spec = json.dumps([{"key": key, "scope": scope, "values": list(values)} for key, scope, values in KEYS])
    started = time.perf_counter()
    ctx.stack.execute(
        "INSERT INTO handoffs_customer (external_id, name, email, locale, created_at, updated_at) "
        "SELECT %s || lpad(i::text, 6, '0'), 'Bulk customer ' || i, 'bulk' || i || '@example.com', 'en', "
        "now(), now() FROM generate_series(0, %s - 1) AS i",
        (f"{PREFIX}-bulk-", customers),
    )
    # Observation g goes to customer g % customers (so each customer's rows are scattered over the
    # heap, as arrival order scatters them) and has key number (g / customers) % 20.
    ctx.stack.execute(
        """
        WITH spec AS (
            SELECT ord - 1 AS k, item->>'key' AS key, item->>'scope' AS scope, item->'values' AS vals
            FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(item, ord)
        ), cs AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
            FROM handoffs_customer WHERE external_id LIKE %s
        )
        INSERT INTO handoffs_observation
            (customer_id, conversation_id, key, value, confidence, scope, source, source_ref, observed_at)
        SELECT cs.id, NULL, spec.key, spec.vals -> ((g / 7) %% jsonb_array_length(spec.vals))::int,
               round(0.30 + (g %% 13) * 0.05, 2),
               spec.scope,
               CASE g %% 10 WHEN 0 THEN 'agent' WHEN 1 THEN 'inferred' WHEN 2 THEN 'inferred' ELSE 'bot' END,
               'bench-bulk',
               now() - (g %% 4320) * interval '30 minutes'
        FROM generate_series(0, %s - 1) AS g
        JOIN cs ON cs.n = g %% %s
        JOIN spec ON spec.k = (g / %s) %% 20
        """,
        (spec, f"{PREFIX}-bulk-%", observations, customers, customers),
    )
    loaded = time.perf_counter()
    # Beliefs of bulk customers: the newest observation per key, shaped like the service's rows.
    ctx.stack.execute(
        """
        INSERT INTO handoffs_belief (customer_id, key, value, confidence, scope, updated_at, sources, history)
        SELECT DISTINCT ON (customer_id, key) customer_id, key, value, confidence, scope, observed_at,
               jsonb_build_array(jsonb_build_object('source', source, 'ref', source_ref,
                   'confidence', confidence, 'at', observed_at, 'id', id)),
               '[]'::jsonb
        FROM handoffs_observation WHERE source_ref = 'bench-bulk'
        ORDER BY customer_id, key, observed_at DESC, id DESC
        """
    )
    return {
        "bulk_observations": observations,
        "bulk_customers": customers,
        "observations_s": loaded - started,
        "beliefs_s": time.perf_counter() - loaded,
    }


def _seed_events(customer_id: str, count: int, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """``count`` observations cycling over the 20 keys, oldest first, two hours apart."""
    events = []
    for index in range(count):
        key, scope, values = KEYS[index % len(KEYS)]
        events.append(
            {
                "type": "observation",
                "conversation_id": "",  # set per batch
                "customer": {"id": customer_id, "name": f"Customer {customer_id}", "locale": "en"},
                "occurred_at": (now - timedelta(hours=2 * (count - index))).isoformat(),
                "data": {
                    "key": key,
                    "value": rng.choice(values),
                    "confidence": round(rng.uniform(0.3, 0.95), 2),
                    "scope": scope,
                },
            }
        )
    return events


def _post_seed(
    client: httpx.Client, bots: list[tuple[str, str]], customer_id: str, count: int, seed: int
) -> None:
    """Post through the real path; batches alternate bots, so every bot has talked to the customer."""
    events = _seed_events(customer_id, count, random.Random(seed), datetime.now(tz=UTC))
    size = min(BATCH, math.ceil(count / len(bots)))
    for number, start in enumerate(range(0, count, size)):
        bot_id, secret = bots[number % len(bots)]
        batch = events[start : start + size]
        for event in batch:
            event["conversation_id"] = f"{customer_id}-b{number:02d}"
        body = encode({"events": batch})
        headers = signed_headers(body, secret=secret, webhook_id=f"msg_{customer_id}_{number}")
        response = client.post(f"/api/v1/bots/{bot_id}/events", content=body, headers=headers)
        if response.status_code != 200:
            raise SelfModelError(f"seeding {customer_id}: {response.status_code} {response.text[:400]}")


# --- reads ------------------------------------------------------------------------------------------


def _get(client: httpx.Client, bot: tuple[str, str], customer_id: str, number: int) -> tuple[float, int]:
    bot_id, secret = bot
    headers = signed_headers(b"", secret=secret, webhook_id=f"msg_sm_{bot_id}_{customer_id}_{number}")
    del headers["content-type"]
    started = time.perf_counter()
    response = client.get(f"/api/v1/bots/{bot_id}/customers/{customer_id}/self-model", headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SelfModelError(f"GET self-model {customer_id}: {response.status_code} {response.text[:400]}")
    return elapsed, len(response.content)


def _floor_get(client: httpx.Client) -> float:
    started = time.perf_counter()
    response = client.get("/bench/events")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 405:
        raise SelfModelError(f"baseline GET: {response.status_code} {response.text[:200]}")
    return elapsed


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95), "max_ms": max(values)}


def _reads(
    ctx: Context, server: Server, floor: Server, reader: tuple[str, str], full: tuple[str, str]
) -> dict[str, Any]:
    series = {
        "target": (reader, TARGET_ID),
        "baseline": (reader, BASELINE_ID),
        "target_sensitive": (full, TARGET_ID),
        "baseline_sensitive": (full, BASELINE_ID),
    }
    timings: dict[str, list[float]] = {name: [] for name in [*series, "floor"]}
    sizes: dict[str, int] = {}
    ctx.stack.quiesce()
    with (
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client,
        httpx.Client(base_url=floor.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as bare,
    ):
        for number in range(WARMUP_READS + READS):
            for name, (bot, customer_id) in series.items():
                elapsed, size = _get(client, bot, customer_id, number)
                sizes[name] = size
                if number >= WARMUP_READS:
                    timings[name].append(elapsed)
            elapsed = _floor_get(bare)
            if number >= WARMUP_READS:
                timings["floor"].append(elapsed)
        # CPU time of the daphne process per request, in blocks of one kind: far less sensitive than
        # latency to whatever else runs on the machine (PostgreSQL's own time is not in it).
        cpu: dict[str, float] = {}
        for name in ("target", "baseline"):
            bot, customer_id = series[name]
            before = server.cpu_seconds()
            for number in range(CPU_READS):
                _get(client, bot, customer_id, WARMUP_READS + READS + number)
            cpu[name] = 1000 * (server.cpu_seconds() - before) / CPU_READS
        before = floor.cpu_seconds()
        for _ in range(CPU_READS):
            _floor_get(bare)
        cpu["floor"] = 1000 * (floor.cpu_seconds() - before) / CPU_READS
    return {
        name: _stats(values) | {"bytes": sizes.get(name), "server_cpu_ms": cpu.get(name)}
        for name, values in timings.items()
    }


def _sequential_writes(client: httpx.Client, bot: tuple[str, str], rng: random.Random) -> dict[str, Any]:
    """One client, target and baseline customer alternating: what one write costs with more evidence."""
    bot_id, secret = bot
    timings: dict[str, list[float]] = {"target": [], "baseline": []}
    for number in range(WARMUP_READS + SEQUENTIAL_WRITES):
        key, scope, values = KEYS[number % len(KEYS)]
        for name, customer_id in (("target", TARGET_ID), ("baseline", BASELINE_ID)):
            event = {
                "type": "observation",
                "conversation_id": f"{customer_id}-b00",  # seeded by this bot
                "customer": {"id": customer_id},
                "data": {"key": key, "value": rng.choice(values), "confidence": 0.7, "scope": scope},
            }
            body = encode(event)
            headers = signed_headers(body, secret=secret, webhook_id=f"msg_sm_seq_{name}_{number}")
            started = time.perf_counter()
            response = client.post(f"/api/v1/bots/{bot_id}/events", content=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SelfModelError(f"sequential write: {response.status_code} {response.text[:400]}")
            if number >= WARMUP_READS:
                timings[name].append(elapsed)
    return {name: _stats(values) for name, values in timings.items()}


# The same request as over HTTP, through Django's test client in a manage.py process: every query
# it makes, and the plan of every SELECT (a Seq Scan on observations would be proportional to them).
QUERY_PROBE = """
import json
from datetime import UTC, datetime
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from handoffs.signing import sign

def nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)

cases = json.loads(%(cases)r)
client = Client(HTTP_HOST="127.0.0.1")
label, bot_id, secret, customer = cases[0]  # warm-up: connection set-up is not the request's
client.get(f"/api/v1/bots/{bot_id}/customers/{customer}/self-model",
           headers=sign(b"", secret=secret, webhook_id="msg_probe_warmup", at=datetime.now(tz=UTC)))
out = {}
for label, bot_id, secret, customer in cases:
    url = f"/api/v1/bots/{bot_id}/customers/{customer}/self-model"
    headers = sign(b"", secret=secret, webhook_id=f"msg_probe_{label}", at=datetime.now(tz=UTC))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    queries = []
    for query in captured.captured_queries:
        sql = query["sql"]
        scans = []
        if sql.lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
            scans = sorted({f"{n['Node Type']} on {n['Relation Name']}" + (f" using {n['Index Name']}" if n.get("Index Name") else "") for n in nodes(plan[0]["Plan"]) if "Relation Name" in n})
        queries.append({"sql": sql[:400], "scans": scans})
    out[label] = {"status": response.status_code, "beliefs": len(response.json().get("beliefs", [])), "queries": queries}
print("PROBE " + json.dumps(out))
"""


def _query_probe(ctx: Context, cases: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    out = ctx.stack.manage("shell", "-c", QUERY_PROBE % {"cases": json.dumps(cases)})
    line = next(line for line in reversed(out.splitlines()) if line.startswith("PROBE "))
    result: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return result


# --- writes -----------------------------------------------------------------------------------------


def _observation_stream(
    rng: random.Random, conversations: list[tuple[str, str]], per_conversation: int
) -> list[dict[str, Any]]:
    events = []
    for conversation_id, customer_id in conversations:
        for index in range(per_conversation):
            key, scope, values = KEYS[index % len(KEYS)]
            events.append(
                {
                    "type": "observation",
                    "conversation_id": conversation_id,
                    "customer": {"id": customer_id},
                    "data": {
                        "key": key,
                        "value": rng.choice(values),
                        "confidence": round(rng.uniform(0.3, 0.95), 2),
                        "scope": scope,
                    },
                }
            )
    return events


def _prepare_writes(
    ctx: Context, *, label: str, secret: str | None, hot: bool, bulk_customers: int
) -> list[list[PreparedRequest]]:
    options = ctx.options
    per_worker = math.ceil(options.max_rate * (options.warmup + options.seconds) / options.concurrency)
    at = datetime.now(tz=UTC)
    queues = []
    for worker in range(options.concurrency):
        rng = random.Random(options.seed * 1000 + worker)
        if hot:  # every worker its own conversation, all with the same customer
            conversations = [(f"{PREFIX}-{label}-w{worker:02d}", TARGET_ID)]
            per_conversation = per_worker
        else:  # a new conversation, with a different existing customer, every 20 observations
            per_conversation = len(KEYS)
            conversations = [
                (
                    f"{PREFIX}-{label}-w{worker:02d}-c{number:05d}",
                    f"{PREFIX}-bulk-{(number * options.concurrency + worker) % bulk_customers:06d}",
                )
                for number in range(math.ceil(per_worker / per_conversation))
            ]
        events = _observation_stream(rng, conversations, per_conversation)[:per_worker]
        queue = []
        for index, event in enumerate(events):
            body = encode(event)
            if secret is None:
                headers = {"content-type": "application/json"}
            else:
                webhook_id = f"msg_{PREFIX}_{label}_{worker:02d}_{index:07d}"
                headers = signed_headers(body, secret=secret, webhook_id=webhook_id, at=at)
            queue.append(PreparedRequest(event["conversation_id"], body, headers))
        queues.append(queue)
    return queues


def _write_run(
    ctx: Context, server: Server, *, label: str, path: str, queues: list[list[PreparedRequest]]
) -> tuple[LoadResult, dict[str, Any]]:
    options = ctx.options
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
    }
    failures = {status: n for status, n in stats["statuses"].items() if not status.startswith("2")}
    if failures or stats["transport_errors"]:
        ctx.notes.append(
            f"selfmodel {label}: non-2xx {failures}, transport errors {stats['transport_errors']}; "
            f"first bodies: {stats['error_bodies'][:2]}"
        )
    if stats["exhausted_workers"]:
        ctx.notes.append(
            f"selfmodel {label}: {stats['exhausted_workers']} worker(s) ran out of pre-signed requests; "
            "raise --max-rate (the figure is a lower bound)"
        )
    return result, stats


def _verify_writes(ctx: Context, result: LoadResult, label: str, bot_id: str) -> dict[str, int]:
    """Stored observations per conversation must equal the 2xx responses for it."""
    rows = ctx.stack.query(
        "SELECT c.external_id, count(o.id) FROM handoffs_conversation c "
        "JOIN handoffs_bot b ON b.id = c.bot_id "
        "JOIN handoffs_observation o ON o.conversation_id = c.id "
        "WHERE b.bot_id = %s AND c.external_id LIKE %s GROUP BY c.external_id",
        (bot_id, f"{PREFIX}-{label}-%"),
    )
    stored = {str(external_id): int(count) for external_id, count in rows}
    ok = result.ok_total()
    mismatched = sum(1 for key in stored.keys() | ok.keys() if stored.get(key, 0) != ok.get(key, 0))
    return {"stored": sum(stored.values()), "ok": sum(ok.values()), "mismatched_conversations": mismatched}


# Every stored belief of a customer against the rules applied to all its observations at once.
BELIEF_CHECK = """
import json
from handoffs.models import Belief, Customer, Observation
from handoffs.selfmodel import rules
from handoffs.services.selfmodel import as_rule_observation

customer = Customer.objects.get(external_id=%(customer)r)
by_key = {}
for row in Observation.objects.filter(customer=customer):
    by_key.setdefault(row.key, []).append(as_rule_observation(row))
differ = []
for key, observations in sorted(by_key.items()):
    expected = rules.aggregate(observations, now=max(o.observed_at for o in observations))
    stored = Belief.objects.filter(customer=customer, key=key).first()
    got = None if stored is None else (stored.value, stored.confidence, stored.scope, stored.updated_at, stored.sources, stored.history)
    want = (expected.value, expected.confidence, expected.scope, expected.updated_at,
            json.loads(json.dumps(expected.sources)), json.loads(json.dumps(expected.history)))
    if got != want:
        differ.append(key)
print("CHECK " + json.dumps({"observations": sum(map(len, by_key.values())), "keys": len(by_key), "differ": differ}))
"""


def _belief_check(ctx: Context, customer_id: str) -> dict[str, Any]:
    out = ctx.stack.manage("shell", "-c", BELIEF_CHECK % {"customer": customer_id})
    line = next(line for line in reversed(out.splitlines()) if line.startswith("CHECK "))
    result: dict[str, Any] = json.loads(line.removeprefix("CHECK "))
    return result


# --- the benchmark ----------------------------------------------------------------------------------


@register(
    "selfmodel",
    "self-model GET of a customer with 1,000 of 1,000,000 observations vs 20; observation events/s",
)
def selfmodel(ctx: Context) -> list[Row]:
    total = total_observations()
    bulk = total - TARGET_OBSERVATIONS - len(KEYS)
    reader = _create_bot(ctx, "SelfModelReader", READER_SCOPES)
    full = _create_bot(ctx, "SelfModelSensitiveReader", ALL_SCOPES)
    load = _bulk_load(ctx, bulk)
    details: dict[str, Any] = {"total_observations": total, "load": load}
    ctx.details["selfmodel"] = details

    server = ctx.start_target("selfmodel", engines=True)
    floor = ctx.start_baseline("selfmodel-baseline")
    try:
        started = time.perf_counter()
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            _post_seed(client, [reader, full], TARGET_ID, TARGET_OBSERVATIONS, seed=ctx.options.seed)
            _post_seed(client, [reader, full], BASELINE_ID, len(KEYS), seed=ctx.options.seed + 1)
        load["seed_over_http_s"] = time.perf_counter() - started
        started = time.perf_counter()
        ctx.stack.execute("VACUUM ANALYZE handoffs_observation")
        ctx.stack.execute("VACUUM ANALYZE handoffs_belief")
        ctx.stack.execute("VACUUM ANALYZE handoffs_customer")
        load["vacuum_analyze_s"] = time.perf_counter() - started
        counts = ctx.stack.query(
            "SELECT (SELECT count(*) FROM handoffs_observation), "
            "(SELECT count(*) FROM handoffs_observation o JOIN handoffs_customer c ON c.id = o.customer_id "
            " WHERE c.external_id = %s), (SELECT count(*) FROM handoffs_belief)",
            (TARGET_ID,),
        )[0]
        details["at_read"] = {
            "observations": counts[0],
            "target_observations": counts[1],
            "beliefs": counts[2],
        }

        details["queries"] = _query_probe(
            ctx,
            [
                ("target", *reader, TARGET_ID),
                ("baseline", *reader, BASELINE_ID),
                ("target_sensitive", *full, TARGET_ID),
            ],
        )
        details["load_average_before_reads"] = os.getloadavg()
        details["reads"] = reads = _reads(ctx, server, floor, reader, full)
        details["load_average_after_reads"] = os.getloadavg()
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            details["sequential_writes"] = _sequential_writes(
                client, reader, random.Random(ctx.options.seed + 2)
            )

        # Writes: the ingest baseline (one INSERT per event, same bodies), then the real path.
        ctx.stack.execute(f"TRUNCATE {BASELINE_TABLE}")
        queues = _prepare_writes(
            ctx, label="base", secret=None, hot=False, bulk_customers=load["bulk_customers"]
        )
        base_result, base = _write_run(ctx, floor, label="baseline", path="/bench/events", queues=queues)
        stored = int(ctx.stack.query(f"SELECT count(*) FROM {BASELINE_TABLE}")[0][0])  # noqa: S608
        base["verification"] = {"stored": stored, "ok": sum(base_result.ok_total().values())}
        floor.stop()  # its work is done: leave both cores to the target

        events_path = f"/api/v1/bots/{reader[0]}/events"
        writes: dict[str, Any] = {"baseline": base}
        for label, hot in (("spread", False), ("hot", True)):
            queues = _prepare_writes(
                ctx, label=label, secret=reader[1], hot=hot, bulk_customers=load["bulk_customers"]
            )
            result, stats = _write_run(ctx, server, label=label, path=events_path, queues=queues)
            stats["verification"] = _verify_writes(ctx, result, label, reader[0])
            writes[label] = stats
        details["writes"] = writes
    finally:
        server.stop()
        floor.stop()
        ctx.note_server_log(server)  # also when a request failed: the traceback is in there
        ctx.note_server_log(floor)
    details["hot_belief_check"] = check = _belief_check(ctx, TARGET_ID)
    details["server_log"] = str(server.log_path)
    return _rows_and_notes(ctx, details, reads, writes, check)


def _rows_and_notes(
    ctx: Context,
    details: dict[str, Any],
    reads: dict[str, Any],
    writes: dict[str, Any],
    check: dict[str, Any],
) -> list[Row]:
    target_n = details["at_read"]["target_observations"]
    total_n = details["at_read"]["observations"]
    queries = {label: len(probe["queries"]) for label, probe in details["queries"].items()}
    base, spread, hot = writes["baseline"], writes["spread"], writes["hot"]
    sequential = details["sequential_writes"]
    rows = [
        Row(
            "self-model GET p50: 1,000 obs (vs 20 obs, 18 beliefs each)",
            reads["target"]["p50_ms"],
            "ms",
            reads["baseline"]["p50_ms"],
        ),
        Row(
            f"self-model GET p95: 1,000 obs (aim < {AIM_P95_MS:.0f} ms; vs 20 obs)",
            reads["target"]["p95_ms"],
            "ms",
            reads["baseline"]["p95_ms"],
        ),
        Row(
            "self-model GET p95: 1,000 obs vs bare stack GET (405, no DB)",
            reads["target"]["p95_ms"],
            "ms",
            reads["floor"]["p95_ms"],
        ),
        Row(
            "self-model GET p95 with sensitive (20 beliefs, audited; vs 20 obs)",
            reads["target_sensitive"]["p95_ms"],
            "ms",
            reads["baseline_sensitive"]["p95_ms"],
        ),
        Row(
            "self-model GET daphne CPU per read: 1,000 obs (vs 20 obs)",
            reads["target"]["server_cpu_ms"],
            "ms",
            reads["baseline"]["server_cpu_ms"],
        ),
        Row(
            "self-model GET daphne CPU per read: 1,000 obs (vs bare 405)",
            reads["target"]["server_cpu_ms"],
            "ms",
            reads["floor"]["server_cpu_ms"],
        ),
        Row(
            "self-model GET queries: 1,000 obs (vs 20 obs)", queries["target"], "queries", queries["baseline"]
        ),
        Row(
            "observation write p50, 1 client: 1,000-obs customer (vs 20-obs)",
            sequential["target"]["p50_ms"],
            "ms",
            sequential["baseline"]["p50_ms"],
        ),
        Row("observation writes: baseline (1 INSERT)", base["events_per_s"], "events/s"),
        Row(
            "observation writes: spread over customers",
            spread["events_per_s"],
            "events/s",
            base["events_per_s"],
        ),
        Row(
            "observation writes: 16 clients, one customer",
            hot["events_per_s"],
            "events/s",
            base["events_per_s"],
        ),
        Row("observation write p95: spread over customers", spread["p95_ms"], "ms", base["p95_ms"]),
        Row("observation write p95: 16 clients, one customer", hot["p95_ms"], "ms", base["p95_ms"]),
    ]
    for name in ("spread", "hot"):
        verification = writes[name]["verification"]
        rows.append(
            Row(f"observation stored rows vs 2xx: {name}", verification["stored"], "rows", verification["ok"])
        )
    ingest = ctx.details.get("ingest", {}).get("engines_on")
    if ingest:
        rows.append(
            Row(
                "observation writes (spread) vs ingest turns, engines on",
                spread["events_per_s"],
                "events/s",
                ingest["events_per_s"],
            )
        )

    verdict = "met" if reads["target"]["p95_ms"] < AIM_P95_MS else "NOT met"
    before, after = details["load_average_before_reads"][0], details["load_average_after_reads"][0]
    ctx.notes.append(
        f"aim self-model GET p95 < {AIM_P95_MS:.0f} ms with {target_n:,} of {total_n:,} observations: "
        f"{reads['target']['p95_ms']:.1f} ms ({verdict}); sequential, client-side on loopback; "
        f"bytes {reads['target']['bytes']} vs {reads['baseline']['bytes']}; "
        f"1-min load average {before:.1f} before the reads, {after:.1f} after (other work competes above ~1)"
    )
    scans = sorted(
        {scan for probe in details["queries"].values() for q in probe["queries"] for scan in q["scans"]}
    )
    observation_scans = [scan for scan in scans if "handoffs_observation" in scan]
    ctx.notes.append(
        f"self-model GET queries {queries} (constant if equal); tables read: {'; '.join(scans)}"
        + (f"; READS OBSERVATIONS: {observation_scans}" if observation_scans else "")
    )
    load = details["load"]
    ctx.notes.append(
        f"selfmodel set-up: {load['bulk_observations']:,} bulk observations over {load['bulk_customers']:,} "
        f"customers in {load['observations_s']:.0f} s (SQL), beliefs {load['beliefs_s']:.0f} s, "
        f"target+baseline over HTTP {load['seed_over_http_s']:.1f} s, VACUUM ANALYZE {load['vacuum_analyze_s']:.0f} s"
    )
    verdict = "ok" if not check["differ"] else f"DIFFER: {check['differ']}"
    ctx.notes.append(
        f"hot customer after concurrent writes: {check['observations']:,} observations over {check['keys']} keys, "
        f"stored beliefs vs rules over all observations: {verdict}"
    )
    stored, ok = base["verification"]["stored"], base["verification"]["ok"]
    ctx.notes.append(
        f"selfmodel baseline: stored {stored} rows for {ok} 2xx: {'ok' if stored == ok else 'MISMATCH'}; "
        f"server CPU {base['server_cpu_pct']:.0f}%, client CPU {base['client_cpu_pct']:.0f}%"
    )
    for name in ("spread", "hot"):
        verification = writes[name]["verification"]
        good = verification["stored"] == verification["ok"] and not verification["mismatched_conversations"]
        ctx.notes.append(
            f"selfmodel {name}: stored {verification['stored']} observations for {verification['ok']} 2xx "
            f"({verification['mismatched_conversations']} conversation(s) differ): {'ok' if good else 'MISMATCH'}; "
            f"server CPU {writes[name]['server_cpu_pct']:.0f}%, client CPU {writes[name]['client_cpu_pct']:.0f}%"
        )
    return rows
