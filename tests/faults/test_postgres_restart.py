"""PostgreSQL restarts under the running web process: requests in flight and during the outage get a clear
503 problem document (never a 500, never a hang), and the service recovers by itself once it is back."""

import contextlib
import threading
import time
import uuid

import httpx
import psycopg
import pytest

from tests.botclient import turn
from tests.faults.harness import wait_until

# daphne's wait for a pooled connection while the database is away (DATABASE_POOL_TIMEOUT, 10 s by default).
POOL_TIMEOUT = 3
# The longest a request may take during the outage: the pool wait plus generous slack for a loaded machine.
ANSWER_WITHIN = POOL_TIMEOUT + 7


def assert_unavailable(response: httpx.Response, *, json_problem: bool = True) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["Retry-After"]) > 0
    if json_problem:
        assert response.headers["content-type"] == "application/problem+json"
        document = response.json()
        assert document["status"] == 503
        assert document["title"] == "Service unavailable"


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
        restart_postgres_under(world, console)


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

    # Back: the same daphne recovers by itself. A pooled connection from before the restart may fail
    # once (503); nothing is ever a 500.
    def succeeds() -> bool:
        response = timed(bot.get, "/conversations/c-pg")
        assert response.status_code in (200, 503), (response.status_code, response.text[:500])
        return response.status_code == 200

    wait_until(succeeds, timeout=20, what="the API to answer again", interval=0.2)
    for _ in range(5):
        assert bot.get("/conversations/c-pg").status_code == 200
        assert console.get("/").status_code == 200
    # The bot retries what failed; it is applied once.
    retried = bot.post(turn("Sent as the database went down", conversation="c-pg"), webhook_id=in_flight_id)
    assert retried.status_code == 200, retried.text
    assert world.turns("c-pg", "Sent as the database went down") == 1
    assert world.turns("c-pg", "Anyone?") == 0
