"""GET of a long conversation (200 turns) against a 1-turn one, sequential, on the engines-on server.

Client-side latency on loopback is an upper bound of the server's time. Long and short GETs alternate
so that any drift (autovacuum, a checkpoint) hits both alike.
"""

import random
import time
from typing import Any

import httpx

from bench.load import REQUEST_TIMEOUT, percentile
from bench.registry import Context, register
from bench.report import Row
from bench.workload import ConversationWriter, encode, signed_headers

LONG_TURNS = 200
BATCH = 100
GETS = 300
WARMUP_GETS = 20
AIM_P95_MS = 20.0


class GetError(RuntimeError):
    pass


def _post_turns(client: httpx.Client, ctx: Context, conversation_id: str, turns: int, seed: int) -> None:
    writer = ConversationWriter(random.Random(seed), conversation_id, f"{conversation_id}-u")
    url = f"/api/v1/bots/{ctx.bot_id}/events"
    for start in range(0, turns, BATCH):
        events = [writer.next_turn() for _ in range(min(BATCH, turns - start))]
        body = encode({"events": events} if len(events) > 1 else events[0])
        headers = signed_headers(body, secret=ctx.secret, webhook_id=f"msg_{conversation_id}_{start}")
        response = client.post(url, content=body, headers=headers)
        if response.status_code != 200:
            raise GetError(
                f"posting turns to {conversation_id}: {response.status_code} {response.text[:400]}"
            )


def _get(
    client: httpx.Client, ctx: Context, conversation_id: str, number: int
) -> tuple[float, httpx.Response]:
    # Signed outside the timed part: the figure is the request, not the client's HMAC.
    headers = signed_headers(b"", secret=ctx.secret, webhook_id=f"msg_get_{conversation_id}_{number}")
    del headers["content-type"]
    started = time.perf_counter()
    response = client.get(f"/api/v1/bots/{ctx.bot_id}/conversations/{conversation_id}", headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise GetError(f"GET {conversation_id}: {response.status_code} {response.text[:400]}")
    return elapsed, response


def _transcript_length(response: httpx.Response) -> int | None:
    transcript = response.json().get("context", {}).get("transcript")
    return len(transcript) if isinstance(transcript, list) else None


@register(
    "get_conversation", "sequential signed GETs of a 200-turn conversation vs a 1-turn one (engines on)"
)
def get_conversation(ctx: Context) -> list[Row]:
    server = ctx.start_target("get-engines-on", engines=True)
    long_id, short_id = "bench-get-long", "bench-get-short"
    timings: dict[str, list[float]] = {long_id: [], short_id: []}
    sizes: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            _post_turns(client, ctx, long_id, LONG_TURNS, seed=ctx.options.seed)
            _post_turns(client, ctx, short_id, 1, seed=ctx.options.seed + 1)
            for number in range(WARMUP_GETS + GETS):
                for conversation_id in (long_id, short_id):
                    elapsed, response = _get(client, ctx, conversation_id, number)
                    if number >= WARMUP_GETS:
                        timings[conversation_id].append(elapsed)
                    if number == 0:
                        sizes[conversation_id] = {
                            "bytes": len(response.content),
                            "transcript_turns": _transcript_length(response),
                        }
    finally:
        server.stop()
        ctx.note_server_log(server)  # also when a request failed: the traceback is in there
    long_p50, long_p95 = percentile(timings[long_id], 50), percentile(timings[long_id], 95)
    short_p50, short_p95 = percentile(timings[short_id], 50), percentile(timings[short_id], 95)
    ctx.details["get_conversation"] = {
        "gets": GETS,
        "warmup_gets": WARMUP_GETS,
        "responses": sizes,
        "server_log": str(server.log_path),
        "long": {"p50_ms": long_p50, "p95_ms": long_p95, "max_ms": max(timings[long_id])},
        "short": {"p50_ms": short_p50, "p95_ms": short_p95, "max_ms": max(timings[short_id])},
    }
    verdict = "met" if long_p95 < AIM_P95_MS else "NOT met"
    ctx.notes.append(
        f"aim GET {LONG_TURNS}-turn p95 < {AIM_P95_MS:.0f} ms: {long_p95:.1f} ms ({verdict}); "
        f"responses: {sizes}"
    )
    return [
        Row(f"GET conversation {LONG_TURNS} turns p50 (vs 1 turn)", long_p50, "ms", short_p50),
        Row(f"GET conversation {LONG_TURNS} turns p95 (vs 1 turn)", long_p95, "ms", short_p95),
    ]
