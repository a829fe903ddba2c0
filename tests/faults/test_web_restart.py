"""The web process dies (SIGKILL) and comes back: console sockets reconnect, the first frame after
connecting is the authoritative state, and no message posted around the restart is lost or doubled."""

import threading
import uuid

import httpx
import psycopg
import pytest

from tests.botclient import escalation, turn
from tests.faults.harness import console_socket, wait_until


def test_sockets_resync_after_daphne_is_killed_and_no_message_is_lost(world):
    world.start()
    bot = world.bot
    assert bot.post(turn("My card was charged twice.", conversation="c-web", first=True)).status_code == 200
    response = bot.post(escalation("c-web"))
    assert response.status_code == 201, response.text
    handoff_id = response.json()["handoff"]["id"]
    session = world.log_in()
    chat_path = f"/ws/console/handoffs/{handoff_id}/"
    chat = console_socket(world.url, chat_path, session)
    assert "My card was charged twice." in (chat.recv() or "")
    queue = console_socket(world.url, "/ws/console/queue/", session)
    assert handoff_id in (queue.recv() or "")
    assert bot.post(turn("Before the restart", conversation="c-web")).status_code == 200
    chat.recv_until(lambda frame: "Before the restart" in frame)

    # One event is in flight when the process dies: it waits on the conversation's row lock (this test
    # holds it), so the server has it but has not committed it.
    cut_id = f"msg_{uuid.uuid4().hex}"
    cut = turn("In flight when the server died", conversation="c-web")
    outcome: list[BaseException | httpx.Response] = []

    def post_cut() -> None:
        try:
            outcome.append(bot.post(cut, webhook_id=cut_id))
        except httpx.HTTPError as error:
            outcome.append(error)

    holder = psycopg.connect(world.database.url, autocommit=False, connect_timeout=5)
    try:
        holder.execute(
            "SELECT 1 FROM handoffs_conversation c JOIN handoffs_bot b ON b.id = c.bot_id "
            "WHERE b.bot_id = %s AND c.external_id = 'c-web' FOR UPDATE OF c",
            (world.seed["bot_id"],),
        )
        in_flight = threading.Thread(target=post_cut)
        in_flight.start()
        wait_until(
            lambda: world.database.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ),
            timeout=10,
            what="the event to wait on the row lock",
        )
        assert world.daphne is not None
        world.daphne.kill()
    finally:
        holder.close()  # rolls back; the dead process's transaction is gone with its connection
    in_flight.join(timeout=30)
    assert isinstance(outcome[0], httpx.HTTPError), outcome  # the bot got no answer, so it will retry
    assert chat.recv() is None and queue.recv() is None  # both sockets see the server go

    # While it is down the bot cannot deliver; it keeps the event and its webhook-id, and retries.
    kept_id = f"msg_{uuid.uuid4().hex}"
    kept = turn("Sent while the server was down", conversation="c-web")
    with pytest.raises(httpx.ConnectError):
        bot.post(kept, webhook_id=kept_id)

    world.daphne.start()  # the same port, as a supervisor would restart it

    for payload, webhook_id in ((cut, cut_id), (kept, kept_id)):
        retried = bot.post(payload, webhook_id=webhook_id)
        assert retried.status_code == 200, retried.text
    assert bot.post(turn("Before the browser reconnects", conversation="c-web")).status_code == 200
    response = bot.post(turn("A new customer arrives.", conversation="c-web-2", first=True))
    assert response.status_code == 200, response.text
    response = bot.post(escalation("c-web-2"))
    assert response.status_code == 201, response.text
    second_handoff = response.json()["handoff"]["id"]

    # Reconnected, the first frame is the whole state: everything posted while the sockets were away.
    chat = console_socket(world.url, chat_path, session)
    resync = chat.recv() or ""
    for text in (
        "My card was charged twice.",
        "Before the restart",
        "In flight when the server died",
        "Sent while the server was down",
        "Before the browser reconnects",
    ):
        assert text in resync, text
        assert world.turns("c-web", text) == 1, text
    queue = console_socket(world.url, "/ws/console/queue/", session)
    rows = queue.recv() or ""
    assert handoff_id in rows and second_handoff in rows

    # And the live push works again on the new process.
    assert bot.post(turn("Live again", conversation="c-web")).status_code == 200
    chat.recv_until(lambda frame: "Live again" in frame)
    chat.close()
    queue.close()
