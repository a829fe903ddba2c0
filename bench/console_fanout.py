"""Console fan-out: an escalation POST until its queue row reaches all 50 agents' open queue sockets.

Set-up (not timed), on the real stack: daphne with the Redis channel layer (the engines-on server, as
deployed), a team ``Fanout`` with 50 agents (``agent_create``) and a bot (``bot_create``). Each agent
gets a session the way ``django.contrib.auth.login`` makes one (user id, backend, session auth hash in
the configured session store), so no test-only path is used and 50 password checks are not paid twice.
The 50 sockets connect to ``/ws/console/queue/`` as a browser would (session cookie, ``Origin`` of the
console's host, through ``AllowedHostsOriginValidator`` and ``AuthMiddlewareStack``), and each must first
get the resync frame (``id="queue-list"``). Every conversation gets four turns of history (signed,
realistic text) before the timed part.

Timed: escalations at 10/s, open loop (a slow answer does not delay the next POST). Each POST is what a
bot sends when the customer asks for a person: the customer's last turn and the ``escalation`` event
in one signed batch. A delivery is the time from sending the POST to one socket receiving the frame
that carries the row ``id="h-<handoff id>"`` (the id comes from the POST's answer); a delivery not
received within 5 s is a drop. That is the rendered partial the htmx ws extension swaps into the DOM:
a close proxy for "row present in the DOM" without a browser's parse and layout.

Baseline, same run, same daphne, same 50 sockets: this process does a raw channel-layer ``group_send``
to ``team.<id>.queue`` of the very ``warmline.event`` message the server broadcast for a warm-up
escalation (captured by a listener of the group during warm-up), with a fresh id each time. It measures
group_send → receipt of the rendered frame, so it includes Redis, daphne's channel-layer receive loop,
the consumer's render of the row partial (once per socket) and the websocket write: everything but
the HTTP request, the escalation's transaction and its own broadcast. The ratio is what the escalation
path adds on top of the fan-out itself.

Target and baseline alternate in blocks of 100 so that drift (autovacuum, a checkpoint, the 50
sockets' presence heartbeats) hits both alike. Each block is drained before the next starts: until
every socket has every row, or, past the 5 s, until frames stop coming, so that a block's backlog is
never charged to the next. daphne's CPU time per block gives the CPU per escalation (its 50 frames
included) and per bare fan-out: at 10/s, those milliseconds read as the percentage of one core that
the single daphne process (one GIL) needs, which says more than latencies on a busy 2-core machine.

Afterwards the sockets stay open 15 s without traffic: consoles sit idle between escalations, and a
channel-layer receive that times out ends the consumer (redis-py 8's default 5 s socket timeout
against channels_redis's 5 s blocking pop did exactly that, channels_redis#422).

``WARMLINE_BENCH_FANOUT_ESCALATIONS`` sets the count (default 500) for quick runs while developing.
The Redis db must not be flushed by anyone else meanwhile (``make test`` flushes db 9 and the next
ones, one per xdist worker); the group's size after the run is checked.
"""

import asyncio
import contextlib
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from channels_redis.core import RedisChannelLayer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from bench.load import REQUEST_TIMEOUT, percentile
from bench.registry import Context, register
from bench.report import Row
from bench.servers import Server
from bench.stack import Stack
from bench.workload import ConversationWriter, encode, signed_headers

AGENTS = 50
COUNT_ENV = "WARMLINE_BENCH_FANOUT_ESCALATIONS"
DEFAULT_ESCALATIONS = 500
RATE = 10.0  # escalations (and baseline sends) per second
BLOCK = 100  # target and baseline alternate in blocks of this many
WARMUP = 10
HISTORY_TURNS = 4
DROP_AFTER = 5.0  # seconds: a frame not received by then is a drop
DRAIN_QUIET = 2.0  # after DROP_AFTER, a block is over once no frame came for this long
DRAIN_LIMIT = 120.0
AIM_P95_MS = 250.0
TEAM = "Fanout"
PREFIX = "bench-fanout"
POST_CONNECTIONS = 16
CONNECTS_AT_ONCE = 10  # sockets opening together, as after a deploy when every console reconnects
IDLE_CHECK = 15.0  # seconds of silence the open sockets must survive after the timed part
ROW_ID = re.compile(r'id="h-([0-9a-fA-F-]{36})"')
NEW_ROW = 'hx-swap-oob="beforeend:#queue-list"'  # a row arriving; a row leaving has the same id, deleted
LAST_WORDS = (
    "Can I please talk to a real person? This bot keeps going in circles.",
    "I want to speak to a human, now.",
    "Please put me through to someone who can actually fix this.",
)
REASONS = (
    ("customer_request", "Customer asked for a person"),
    ("frustration", "Customer is frustrated after several attempts"),
    ("authority_required", "Refund above the bot's limit"),
    ("repeated_failure", "The same step failed three times"),
)

SETUP = """
import json
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from handoffs.services.agents import agent_create, api_token_create
from handoffs.services.bots import bot_create

params = json.loads(PARAMS)
bot, secret = bot_create(name=params["team"] + "Bot", team_name=params["team"])
store = import_module(settings.SESSION_ENGINE).SessionStore
sessions = []
tokens = []
for number in range(params["agents"]):
    profile, _ = agent_create(
        username=f"{params['prefix']}-agent-{number:02d}",
        team_name=params["team"],
        skills=params["skills"],
        languages=params["languages"],
        display_name=f"Agent {number:02d}",
    )
    user = profile.user
    if number < params["tokens"]:
        tokens.append(api_token_create(user=user))
    # What django.contrib.auth.login() stores: the browser would get exactly this session.
    session = store()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    sessions.append(session.session_key)
print(json.dumps({
    "bot_id": bot.bot_id,
    "secret": secret,
    "team_id": bot.team_id,
    "cookie": settings.SESSION_COOKIE_NAME,
    "sessions": sessions,
    "tokens": tokens,
}))
"""


class FanoutError(RuntimeError):
    pass


@dataclass
class Listener:
    number: int
    ws: ClientConnection
    arrivals: dict[str, float] = field(default_factory=dict)  # row id -> perf_counter at receipt
    other_frames: int = 0
    closed: str = ""
    closed_at: float = 0.0
    extensions: list[str] = field(
        default_factory=list
    )  # negotiated (a browser offers permessage-deflate too)


@dataclass
class Sent:
    started: float
    answered: float = 0.0
    status: int = 0
    row_id: str = ""


@dataclass
class Setup:
    bot_id: str
    secret: str
    team_id: int
    cookie: str
    sessions: list[str]
    tokens: list[str] = field(default_factory=list)  # API tokens of the first agents, when asked for

    @property
    def group(self) -> str:
        return f"team.{self.team_id}.queue"


def _escalations() -> int:
    count = int(os.environ.get(COUNT_ENV) or DEFAULT_ESCALATIONS)
    if count < 1:
        raise FanoutError(f"{COUNT_ENV} must be at least 1")
    return count


def team_setup(
    stack: Stack,
    *,
    team: str,
    agents: int,
    prefix: str,
    tokens: int = 0,
    skills: tuple[str, ...] = ("billing", "shipping"),
    languages: tuple[str, ...] = ("en",),
) -> Setup:
    """A team with a bot and ``agents`` people logged in (sessions), the first ``tokens`` with API tokens."""
    params = {
        "team": team,
        "agents": agents,
        "prefix": prefix,
        "tokens": tokens,
        "skills": list(skills),
        "languages": list(languages),
    }
    out = stack.manage("shell", "-c", SETUP.replace("PARAMS", repr(json.dumps(params))))
    created = json.loads(out.strip().splitlines()[-1])
    return Setup(**created)


# --- conversations -------------------------------------------------------------------------------


@dataclass
class Conversation:
    writer: ConversationWriter
    number: int

    @property
    def id(self) -> str:
        return self.writer.conversation_id

    def history(self) -> bytes:
        events = [self.writer.next_turn() for _ in range(HISTORY_TURNS)]
        return encode({"events": events})

    def escalation(self) -> bytes:
        rng = self.writer.rng
        last = {
            "type": "turn",
            "conversation_id": self.id,
            "data": {"role": "customer", "text": rng.choice(LAST_WORDS)},
        }
        code, reason = rng.choice(REASONS)
        escalate = {
            "type": "escalation",
            "conversation_id": self.id,
            "data": {
                "reason": reason,
                "reason_code": code,
                "urgency": rng.choice(("normal", "normal", "high")),
                "language": "en",
            },
        }
        return encode({"events": [last, escalate]})


def _conversations(seed: int, count: int) -> list[Conversation]:
    rng = random.Random(seed)
    return [
        Conversation(ConversationWriter(rng, f"{PREFIX}-c{number:04d}", f"{PREFIX}-u{number:04d}"), number)
        for number in range(count)
    ]


async def _post(client: httpx.AsyncClient, setup: Setup, body: bytes, webhook_id: str) -> httpx.Response:
    headers = signed_headers(body, secret=setup.secret, webhook_id=webhook_id)
    return await client.post(f"/api/v1/bots/{setup.bot_id}/events", content=body, headers=headers)


async def _post_histories(client: httpx.AsyncClient, setup: Setup, conversations: list[Conversation]) -> None:
    for conversation in conversations:
        response = await _post(client, setup, conversation.history(), f"msg_{conversation.id}_history")
        if response.status_code != 200:
            raise FanoutError(f"history of {conversation.id}: {response.status_code} {response.text[:400]}")


# --- sockets ---------------------------------------------------------------------------------------


async def open_queue_socket(server: Server, setup: Setup, number: int, session_key: str) -> Listener:
    """An agent's ``/ws/console/queue/`` as a browser opens it, once its resync frame came."""
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/ws/console/queue/",
        origin=Origin(server.base_url),
        additional_headers={"Cookie": f"{setup.cookie}={session_key}"},
        proxy=None,
        max_size=None,
        open_timeout=30,
    )
    try:
        first = await asyncio.wait_for(ws.recv(), timeout=30)
    except ConnectionClosed as closed:
        raise FanoutError(f"socket {number} closed before its resync frame: {closed}") from closed
    text = first if isinstance(first, str) else first.decode()
    if 'id="queue-list"' not in text:
        await ws.close()
        raise FanoutError(f"socket {number}: first frame is not the queue resync: {text[:300]!r}")
    return Listener(number, ws, extensions=[extension.name for extension in ws.protocol.extensions])


async def _open_all(server: Server, setup: Setup) -> list[Listener]:
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def one(number: int, key: str) -> Listener:
        async with gate:
            return await open_queue_socket(server, setup, number, key)

    return list(await asyncio.gather(*(one(number, key) for number, key in enumerate(setup.sessions))))


async def _group_size(layer: RedisChannelLayer, group: str) -> int:
    # The members the server added (group_add on connect); 0 means someone flushed this Redis db.
    connection = layer.connection(layer.consistent_hash(group))
    return int(await connection.zcard(layer._group_key(group)))


async def read_rows(listener: Listener) -> None:
    """Note when each new queue row arrives on this socket, until it closes."""
    try:
        async for message in listener.ws:
            now = time.perf_counter()
            text = message if isinstance(message, str) else message.decode()
            match = ROW_ID.search(text) if NEW_ROW in text else None
            if match:
                listener.arrivals.setdefault(match.group(1), now)
            else:
                listener.other_frames += 1
    except ConnectionClosed as closed:
        listener.closed, listener.closed_at = str(closed), time.perf_counter()


async def close_sockets(listeners: list[Listener], readers: list[asyncio.Task[None]]) -> None:
    """Close the agents' sockets and stop their readers (their arrivals stay for counting)."""
    for listener in listeners:
        await listener.ws.close()
    for reader in readers:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


# --- one paced run ---------------------------------------------------------------------------------


async def _paced(count: int, send: Any) -> float:
    """Call ``send(index)`` at RATE per second, open loop; return the worst lateness of a start (s)."""
    start = time.perf_counter() + 0.05
    tasks = []
    worst = 0.0
    for index in range(count):
        due = start + index / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst = max(worst, time.perf_counter() - due)
        tasks.append(asyncio.create_task(send(index)))
    await asyncio.gather(*tasks)
    return worst


async def _drain(listeners: list[Listener], sent: dict[str, Sent]) -> None:
    """Wait until every socket has every row, or the server has gone quiet after DROP_AFTER.

    Frames later than DROP_AFTER are drops, but the next block must not start while the server is
    still working off this one's backlog: that would charge this block's work to the next.
    """
    last_send = max((item.started for item in sent.values()), default=time.perf_counter())
    wanted = [row_id for row_id in (item.row_id for item in sent.values()) if row_id]
    seen = -1
    quiet_since = time.perf_counter()
    while time.perf_counter() < last_send + DRAIN_LIMIT:
        received = sum(len(listener.arrivals) for listener in listeners)
        if all(row_id in listener.arrivals for listener in listeners for row_id in wanted):
            return
        now = time.perf_counter()
        if received != seen:
            seen, quiet_since = received, now
        elif now > last_send + DROP_AFTER and now - quiet_since > DRAIN_QUIET:
            return
        await asyncio.sleep(0.05)


async def _escalate_block(
    client: httpx.AsyncClient, setup: Setup, conversations: list[Conversation]
) -> tuple[dict[str, Sent], float, list[str]]:
    sent: dict[str, Sent] = {}
    errors: list[str] = []
    bodies = [conversation.escalation() for conversation in conversations]

    async def send(index: int) -> None:
        conversation = conversations[index]
        body = bodies[index]
        # Signed before the clock starts: the figure is the server's path, not the client's HMAC.
        headers = signed_headers(body, secret=setup.secret, webhook_id=f"msg_{conversation.id}_escalation")
        item = Sent(started=time.perf_counter())
        sent[conversation.id] = item
        try:
            response = await client.post(f"/api/v1/bots/{setup.bot_id}/events", content=body, headers=headers)
        except httpx.HTTPError as exc:
            errors.append(f"{conversation.id}: {type(exc).__name__}")
            return
        item.answered, item.status = time.perf_counter(), response.status_code
        if response.status_code == 201:
            item.row_id = response.json()["handoff"]["id"]
        elif len(errors) < 5:
            errors.append(f"{conversation.id}: {response.status_code} {response.text[:300]}")

    lateness = await _paced(len(conversations), send)
    return sent, lateness, errors


async def _group_send_block(
    layer: RedisChannelLayer, group: str, template: dict[str, Any], count: int
) -> tuple[dict[str, Sent], float]:
    sent: dict[str, Sent] = {}

    async def send(index: int) -> None:
        row_id = str(uuid.uuid4())
        event = json.loads(json.dumps(template))  # a deep copy, built before the clock starts
        event["handoff_id"] = row_id
        event["item"]["id"] = row_id
        item = Sent(started=time.perf_counter(), row_id=row_id)
        sent[row_id] = item
        await layer.group_send(group, {"type": "warmline.event", "event": event})
        item.answered, item.status = time.perf_counter(), 200

    lateness = await _paced(count, send)
    return sent, lateness


def _deliveries(sent: dict[str, Sent], listeners: list[Listener]) -> dict[str, Any]:
    latencies: list[float] = []
    # Per send, in sending order: until the first and the last of the sockets had it (a send that
    # missed a socket counts as DROP_AFTER for the last).
    by_send: list[tuple[float, float]] = []
    drops = 0
    for item in sorted(sent.values(), key=lambda sent_item: sent_item.started):
        mine: list[float] = []
        for listener in listeners:
            arrived = listener.arrivals.get(item.row_id) if item.row_id else None
            if arrived is None or arrived - item.started > DROP_AFTER:
                drops += 1
                continue
            mine.append((arrived - item.started) * 1000)
        latencies.extend(mine)
        last = max(mine) if len(mine) == len(listeners) else DROP_AFTER * 1000
        by_send.append((round(min(mine, default=DROP_AFTER * 1000), 1), round(last, 1)))
    slowest = [last for _, last in by_send]
    answers = [(item.answered - item.started) * 1000 for item in sent.values() if item.answered]
    return {
        "sends": len(sent),
        "deliveries_expected": len(sent) * len(listeners),
        "delivered": len(latencies),
        "drops": drops,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "all_sockets_p50_ms": percentile(slowest, 50),
        "all_sockets_p95_ms": percentile(slowest, 95),
        "answer_p50_ms": percentile(answers, 50),
        "answer_p95_ms": percentile(answers, 95),
        "statuses": {
            str(status): count for status, count in sorted(Counter(i.status for i in sent.values()).items())
        },
        "first_and_last_socket_ms_by_send": by_send,
    }


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    target: dict[str, Any]
    baseline: dict[str, Any]
    lateness_s: float
    errors: list[str]
    closed: list[str]  # sockets the server closed before the end of the timed part
    other_frames: int
    server_cpu_pct: float
    client_cpu_pct: float
    captured_event: dict[str, Any]
    extensions: list[str]
    group_size_after: int
    idle_closed: list[str]  # sockets the server closed during the quiet spell after it


async def _capture(layer: RedisChannelLayer, group: str) -> tuple[str, asyncio.Task[dict[str, Any]]]:
    """Join the team group as one more member; the task returns the first message the server sends."""
    channel = await layer.new_channel()
    await layer.group_add(group, channel)

    async def first() -> dict[str, Any]:
        while True:
            message = await layer.receive(channel)
            if message.get("event", {}).get("type") == "handoff.queued":
                return message

    return channel, asyncio.create_task(first())


def _cpu_figures(per_block: list[float], sends: int) -> dict[str, Any]:
    blocks = [min(BLOCK, sends - start) for start in range(0, sends, BLOCK)]
    return {
        "server_cpu_ms_per_send": 1000 * sum(per_block) / max(1, sends),
        "server_cpu_ms_per_send_by_block": [
            round(1000 * seconds / count, 1) for seconds, count in zip(per_block, blocks, strict=True)
        ],
    }


def _closed(listener: Listener) -> str:
    return f"socket {listener.number}: {listener.closed}"


async def _run(ctx: Context, server: Server, setup: Setup, count: int) -> Outcome:
    conversations = _conversations(ctx.options.seed, WARMUP + count)
    warmup, measured = conversations[:WARMUP], conversations[WARMUP:]
    # The server's layer settings (console/settings.py): the same prefix, so the same group keys.
    layer = RedisChannelLayer(
        hosts=[{"address": ctx.stack.redis_url, "socket_timeout": None}], capacity=1000, expiry=30
    )
    limits = httpx.Limits(max_connections=POST_CONNECTIONS, max_keepalive_connections=POST_CONNECTIONS)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=REQUEST_TIMEOUT, limits=limits, trust_env=False
    ) as client:
        await _post_histories(client, setup, conversations)
        listeners = await _open_all(server, setup)
        readers = [asyncio.create_task(read_rows(listener)) for listener in listeners]
        try:
            # Warm-up (not counted): connections, templates, the first row of each socket; and the
            # server's own broadcast message, captured as the baseline's payload.
            probe, captured = await _capture(layer, setup.group)
            warm_sent, _, errors = await _escalate_block(client, setup, warmup)
            await _drain(listeners, warm_sent)
            message = await asyncio.wait_for(captured, timeout=DROP_AFTER)
            await layer.group_discard(setup.group, probe)
            template = message["event"]
            warm_base, _ = await _group_send_block(layer, setup.group, template, WARMUP)
            await _drain(listeners, warm_base)
            ctx.stack.quiesce()

            target: dict[str, Sent] = {}
            baseline: dict[str, Sent] = {}
            lateness = 0.0
            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            wall_before = time.perf_counter()
            cpu: dict[str, list[float]] = {"target": [], "baseline": []}  # daphne CPU s per block
            for start in range(0, count, BLOCK):
                block = measured[start : start + BLOCK]
                before = server.cpu_seconds()
                sent, late, block_errors = await _escalate_block(client, setup, block)
                await _drain(listeners, sent)
                target.update(sent)
                errors.extend(block_errors)
                middle = server.cpu_seconds()
                sent, late_base = await _group_send_block(layer, setup.group, template, len(block))
                await _drain(listeners, sent)
                baseline.update(sent)
                cpu["target"].append(middle - before)
                cpu["baseline"].append(server.cpu_seconds() - middle)
                lateness = max(lateness, late, late_base)
            ended = time.perf_counter()
            wall = ended - wall_before
            server_cpu = 100 * (server.cpu_seconds() - cpu_before) / wall
            client_cpu = 100 * (time.process_time() - client_before) / wall
            group_size = await _group_size(layer, setup.group)
            # Agents' consoles sit idle between escalations: the sockets must outlive a quiet spell.
            await asyncio.sleep(IDLE_CHECK)
        finally:
            await close_sockets(listeners, readers)
    await layer.close_pools()
    return Outcome(
        target=_deliveries(target, listeners) | _cpu_figures(cpu["target"], len(target)),
        baseline=_deliveries(baseline, listeners) | _cpu_figures(cpu["baseline"], len(baseline)),
        lateness_s=lateness,
        errors=errors,
        closed=[
            _closed(listener) for listener in listeners if listener.closed and listener.closed_at <= ended
        ],
        other_frames=sum(listener.other_frames for listener in listeners),
        server_cpu_pct=server_cpu,
        client_cpu_pct=client_cpu,
        captured_event=template,
        extensions=sorted({name for listener in listeners for name in listener.extensions}),
        group_size_after=group_size,
        idle_closed=[_closed(listener) for listener in listeners if listener.closed_at > ended],
    )


def _load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


@register(
    "console_fanout",
    "escalation POST → row frame on 50 agents' queue websockets, 10/s, vs a raw channel-layer group_send",
)
def console_fanout(ctx: Context) -> list[Row]:
    count = _escalations()
    server = ctx.start_target("fanout", engines=True)
    try:
        setup = team_setup(ctx.stack, team=TEAM, agents=AGENTS, prefix=PREFIX)
        load_before = _load_average()
        outcome = asyncio.run(_run(ctx, server, setup, count))
    finally:
        server.stop()
        ctx.note_server_log(server)
    stored = int(
        ctx.stack.query(
            "SELECT count(*) FROM handoffs_handoff WHERE team_id = %s AND status = 'queued'", (setup.team_id,)
        )[0][0]
    )
    target, base = outcome.target, outcome.baseline
    ctx.details["console_fanout"] = {
        "agents": AGENTS,
        "escalations": count,
        "rate_per_s": RATE,
        "block": BLOCK,
        "warmup": WARMUP,
        "drop_after_s": DROP_AFTER,
        "target": target,
        "baseline": base,
        "queued_handoffs_stored": stored,
        "schedule_lateness_max_ms": outcome.lateness_s * 1000,
        "errors": outcome.errors,
        "sockets_closed_by_server_before_end": outcome.closed,
        "sockets_closed_by_server_when_idle": outcome.idle_closed,
        "idle_check_s": IDLE_CHECK,
        "group_members_after": outcome.group_size_after,
        "unmatched_frames": outcome.other_frames,
        "server_cpu_pct": outcome.server_cpu_pct,
        "client_cpu_pct": outcome.client_cpu_pct,
        "baseline_event": outcome.captured_event,
        "websocket_extensions": outcome.extensions,
        "nproc": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "server_log": str(server.log_path),
    }
    _notes(ctx, outcome, count, stored, load_before)
    deliveries = f"{count}x{AGENTS}"
    return [
        Row(
            f"fanout POST→row on {AGENTS} sockets p50 (vs group_send)", target["p50_ms"], "ms", base["p50_ms"]
        ),
        Row(
            f"fanout POST→row p95 (aim < {AIM_P95_MS:.0f}; vs group_send)",
            target["p95_ms"],
            "ms",
            base["p95_ms"],
        ),
        Row("fanout POST→row max (vs group_send)", target["max_ms"], "ms", base["max_ms"]),
        Row(
            f"fanout POST→last of {AGENTS} sockets p95 (vs group_send)",
            target["all_sockets_p95_ms"],
            "ms",
            base["all_sockets_p95_ms"],
        ),
        Row(f"fanout drops of {deliveries} (aim 0; vs group_send)", target["drops"], "frames", base["drops"]),
        Row("fanout escalation POST answer p95", target["answer_p95_ms"], "ms"),
        Row(
            "fanout daphne CPU per escalation incl. 50 frames (vs per group_send)",
            target["server_cpu_ms_per_send"],
            "ms",
            base["server_cpu_ms_per_send"],
        ),
        Row(
            f"fanout sockets still open after {IDLE_CHECK:.0f} s without a frame (of {AGENTS})",
            AGENTS - len(outcome.closed) - len(outcome.idle_closed),
            "sockets",
            AGENTS,
        ),
    ]


def _notes(ctx: Context, outcome: Outcome, count: int, stored: int, load_before: str) -> None:
    target, base = outcome.target, outcome.baseline
    met = target["p95_ms"] < AIM_P95_MS and target["drops"] == 0
    ctx.notes.append(
        f"aim fanout p95 < {AIM_P95_MS:.0f} ms and 0 drops over {count}x{AGENTS}: p95 "
        f"{target['p95_ms']:.1f} ms, {target['drops']} drop(s) ({'met' if met else 'NOT met'}); "
        f"baseline group_send p95 {base['p95_ms']:.1f} ms, {base['drops']} drop(s)"
    )
    ctx.notes.append(
        "fanout baseline = group_send from the bench process of the server's own captured "
        f"warmline.event ({len(json.dumps(outcome.captured_event))} bytes of JSON) → rendered row frame received: "
        "Redis, daphne's layer receive, the consumer's render per socket and the websocket write"
    )
    ctx.notes.append(
        f"fanout on {os.cpu_count()} core(s), load average before {load_before}, after {_load_average()}; "
        f"server CPU {outcome.server_cpu_pct:.0f}%, bench process CPU {outcome.client_cpu_pct:.0f}% "
        f"(of one core; the 50 sockets' client shares the machine); daphne needs "
        f"{target['server_cpu_ms_per_send'] * RATE / 10:.0f}% of a core at {RATE:.0f} escalations/s, "
        f"{base['server_cpu_ms_per_send'] * RATE / 10:.0f}% for the bare fan-out; POST answers p50 "
        f"{target['answer_p50_ms']:.1f} / p95 {target['answer_p95_ms']:.1f} ms; statuses {target['statuses']}"
    )
    if stored != count + WARMUP:
        ctx.notes.append(
            f"fanout: {stored} queued handoffs stored for {count + WARMUP} escalations: MISMATCH"
        )
    if outcome.lateness_s > 0.02:
        ctx.notes.append(
            f"fanout: a send started up to {outcome.lateness_s * 1000:.0f} ms late (the bench process was busy)"
        )
    if outcome.errors or outcome.closed:
        ctx.notes.append(f"fanout: errors {outcome.errors[:5]}; sockets closed {outcome.closed[:5]}")
    if outcome.idle_closed:
        ctx.notes.append(
            f"fanout: {len(outcome.idle_closed)} socket(s) closed by the server during {IDLE_CHECK:.0f} s "
            f"without traffic, e.g. {outcome.idle_closed[0]}; see the server log (a channel-layer receive "
            "that times out ends the consumer)"
        )
    if outcome.group_size_after != AGENTS:
        ctx.notes.append(
            f"fanout: the group had {outcome.group_size_after} member(s) after the run, not {AGENTS}: "
            "was this Redis db flushed meanwhile (make test uses db 9 too)?"
        )
    if outcome.other_frames:
        ctx.notes.append(f"fanout: {outcome.other_frames} frame(s) that add no row (a row leaving, ...)")
