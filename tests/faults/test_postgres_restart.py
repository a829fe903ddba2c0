"""PostgreSQL restarts under the running web process: requests in flight and during the outage get a clear
503 problem document (never a 500, never a hang), and the service recovers by itself once it is back: the
first requests afterwards succeed, even though every pooled connection from before the restart is broken
(without the pool's check, each such connection failed one request)."""

import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.botclient import turn
from tests.faults.harness import wait_until

# daphne's wait for a pooled connection while the database is away (DATABASE_POOL_TIMEOUT, 10 s by default).
POOL_TIMEOUT = 3
# The longest a request may take during the outage: the pool wait plus generous slack for a loaded machine.
ANSWER_WITHIN = POOL_TIMEOUT + 7
# Requests at once, before and after the restart: more than the pool's minimum (2) of connections.
BURST = 8
# Sessions of the web process (and of nobody else: the test's own queries connect and leave).
CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def assert_unavailable(response: httpx.Response, *, json_problem: bool = True) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["Retry-After"]) > 0
    if json_problem:
        assert response.headers["content-type"] == "application/problem+json"
        document = response.json()
        assert document["status"] == 503
        assert document["title"] == "Service unavailable"


def burst(call, count: int) -> list[httpx.Response]:
    """``count`` calls at once, each in its own thread; the answers in order."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def timed(call, *args, **kwargs) -> httpx.Response:
    started = time.monotonic()
    response = call(*args, **kwargs)
    assert time.monotonic() - started < ANSWER_WITHIN, f"took {time.monotonic() - started:.1f} s"
    return response


def test_requests_get_503_while_postgres_restarts_and_succeed_after(world):
    if world.database.server is None:
        pytest.skip(f"needs a private PostgreSQL cluster to restart: {world.database.skip_reason}")
    world.start(DATABASE_POOL_TIMEOUT=str(POOL_TIMEOUT))
    bot = world.bot
    assert bot.post(turn("Hello, anyone there?", conversation="c-pg", first=True)).status_code == 200
    session = world.log_in()
    with httpx.Client(base_url=world.url, headers={"Cookie": f"sessionid={session}"}, timeout=30) as console:
        assert console.get("/").status_code == 200
        # The pool grows past its minimum: all those connections go stale when PostgreSQL restarts.
        grow_pool(world, bot, "c-pg")
        restart_postgres_under(world, console)


def test_a_quick_restart_breaks_no_request(world):
    """A restart between requests (maintenance, a failover) leaves every pooled connection broken: the
    pool must find that out itself, so the first requests afterwards succeed instead of failing once per
    stale connection."""
    if world.database.server is None:
        pytest.skip(f"needs a private PostgreSQL cluster to restart: {world.database.skip_reason}")
    world.start()
    bot = world.bot
    assert bot.post(turn("Hello, anyone there?", conversation="c-quick", first=True)).status_code == 200
    session = world.log_in()
    with httpx.Client(base_url=world.url, headers={"Cookie": f"sessionid={session}"}, timeout=30) as console:
        stale = grow_pool(world, bot, "c-quick")
        world.database.server.stop("fast")
        world.database.server.start()
        assert world.database.scalar(CONNECTIONS) == 0, "the restart should have ended daphne's sessions"
        first = [timed(bot.get, "/conversations/c-quick"), timed(console.get, "/")]
        first += burst(lambda: timed(bot.get, "/conversations/c-quick"), BURST)
        assert_all_ok(first)
        assert bot.post(turn("Still there?", conversation="c-quick")).status_code == 200
        # Every stale connection was replaced by a working one (none is left to fail a later request).
        assert_all_ok(burst(lambda: bot.get("/conversations/c-quick"), stale + 2))
    assert world.turns("c-quick") == 2


def grow_pool(world, bot, conversation: str) -> int:
    """Requests at once so the pool grows past its minimum; how many connections daphne holds then."""
    assert_all_ok(burst(lambda: bot.get(f"/conversations/{conversation}"), BURST))
    held = world.database.scalar(CONNECTIONS)
    assert held > 2, f"the pool did not grow past its minimum ({held} connections)"
    return held


def assert_all_ok(responses: list[httpx.Response]) -> None:
    failed = [
        (response.status_code, response.text[:200]) for response in responses if response.status_code != 200
    ]
    assert not failed, f"{len(failed)} of {len(responses)} requests failed: {failed[:3]}"


def restart_postgres_under(world, console: httpx.Client) -> None:
    pg = world.database.server
    bot = world.bot

    # In flight: the bot's next event waits on the conversation's row lock, which this test holds.
    in_flight_id = f"msg_{uuid.uuid4().hex}"
    answers: list[httpx.Response] = []
    holder = psycopg.connect(world.database.url, autocommit=False, connect_timeout=5)
    try:
        holder.execute(
            "SELECT 1 FROM handoffs_conversation c JOIN handoffs_bot b ON b.id = c.bot_id "
            "WHERE b.bot_id = %s AND c.external_id = 'c-pg' FOR UPDATE OF c",
            (world.seed["bot_id"],),
        )
        request = threading.Thread(
            target=lambda: answers.append(
                bot.post(turn("Sent as the database went down", conversation="c-pg"), webhook_id=in_flight_id)
            )
        )
        request.start()
        wait_until(
            lambda: world.database.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ),
            timeout=10,
            what="the bot's request to wait on the row lock",
        )
        pg.stop("fast")  # ends every session, the waiting one included
    finally:
        with contextlib.suppress(psycopg.Error):
            holder.close()
    request.join(timeout=ANSWER_WITHIN)
    assert not request.is_alive(), "the in-flight request hangs"
    assert_unavailable(answers[0])

    # During the outage: the API, the console and the health check all say 503.
    assert_unavailable(timed(bot.post, turn("Anyone?", conversation="c-pg")))
    assert_unavailable(timed(bot.get, "/conversations/c-pg"))
    page = timed(console.get, "/", headers={"Accept": "text/html"})
    assert_unavailable(page, json_problem=False)
    assert "briefly unavailable" in page.text
    assert_unavailable(timed(httpx.get, f"{world.url}/healthz", timeout=30))

    pg.start()

    # Back: the same daphne recovers by itself at once. A connection is checked as it leaves the pool
    # (console/postgresql), and a broken one has the pool replace every broken one: the very first
    # requests succeed, a burst wider than the pool too. Only the in-flight request above was a 503.
    after = [timed(bot.get, "/conversations/c-pg"), timed(console.get, "/")]
    after += burst(lambda: timed(bot.get, "/conversations/c-pg"), BURST)
    assert_all_ok(after)
    # The bot retries what failed; it is applied once.
    retried = bot.post(turn("Sent as the database went down", conversation="c-pg"), webhook_id=in_flight_id)
    assert retried.status_code == 200, retried.text
    assert world.turns("c-pg", "Sent as the database went down") == 1
    assert world.turns("c-pg", "Anyone?") == 0
