"""A Celery worker is SIGKILLed in the middle of delivering a callback: a new worker delivers it, and it is
recorded delivered exactly once, with the same webhook-id (the bot may see it twice: at least once)."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.botclient import escalation, turn
from tests.faults.harness import wait_until

SWEEP_DONE = re.compile(r"Task handoffs\.tasks\.deliver_due_callbacks\[[^]]+\] succeeded")


@dataclass
class HeldReceiver:
    """A bot's callback endpoint that keeps the first request waiting (the worker is mid-task while it
    does) until the test releases it; later ones are answered 204 at once."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def held_receiver() -> Iterator[HeldReceiver]:
    receiver = HeldReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            with lock:
                receiver.requests.append({"webhook-id": self.headers["webhook-id"], "body": body})
                first = len(receiver.requests) == 1
            if first:
                receiver.first_arrived.set()
                receiver.release.wait(timeout=30)
            try:
                self.send_response(204)
                self.end_headers()
            except OSError:
                pass  # the sender is gone (killed)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def deliveries(world, conversation: str) -> list[tuple]:
    return world.database.execute(
        "SELECT d.id, d.webhook_id, d.type, d.status, d.attempts, d.leased_until, "
        "(SELECT count(*) FROM handoffs_deliveryattempt a WHERE a.delivery_id = d.id) "
        "FROM handoffs_outbounddelivery d JOIN handoffs_conversation c ON c.id = d.conversation_id "
        "JOIN handoffs_bot b ON b.id = c.bot_id WHERE b.bot_id = %s AND c.external_id = %s ORDER BY d.id",
        (world.seed["bot_id"], conversation),
    )


def test_a_callback_cut_off_by_a_killed_worker_is_delivered_once_by_the_next(world):
    with held_receiver() as receiver:
        world.start(callback_url=receiver.url, worker=True)
        first_worker = world.worker
        bot = world.bot
        assert bot.post(turn("I was charged twice.", conversation="c-kill", first=True)).status_code == 200
        assert bot.post(escalation("c-kill")).status_code == 201

        # The worker is sending the handoff.queued callback, and the bot has not answered yet.
        assert receiver.first_arrived.wait(timeout=20), first_worker.log()
        [(_, webhook_id, kind, status, attempts, leased_until, tries)] = deliveries(world, "c-kill")
        assert (kind, status, attempts, tries) == ("handoff.queued", "pending", 0, 0)
        assert leased_until is not None  # held by the worker that is sending it

        first_worker.kill()  # SIGKILL to the worker and its pool process, mid-request
        receiver.release.set()
        [(_, _, _, status, attempts, _, tries)] = deliveries(world, "c-kill")
        assert (status, attempts, tries) == ("pending", 0, 0)  # nothing recorded: the kill came first

        second_worker = world.add_worker(name="second-worker")
        # The dead worker's lease (60 s) has to run out before anyone may send the delivery again; move it
        # into the past rather than wait, then let beat's sweep for due callbacks run now, not in 30 s.
        world.database.execute(
            "UPDATE handoffs_outbounddelivery SET leased_until = now() - interval '1 second' "
            "WHERE webhook_id = %s",
            (webhook_id,),
        )
        world.send_task("handoffs.tasks.deliver_due_callbacks")

        def delivered() -> bool:
            return deliveries(world, "c-kill")[0][3] == "delivered"

        wait_until(delivered, timeout=20, what="the callback to be delivered by the second worker")
        # Another sweep finds nothing left to send.
        world.send_task("handoffs.tasks.deliver_due_callbacks")
        wait_until(
            lambda: len(SWEEP_DONE.findall(second_worker.run_log())) >= 2,
            timeout=20,
            what="the second sweep to run",
        )

    rows = deliveries(world, "c-kill")
    assert len(rows) == 1  # no duplicate outbox row
    [(_, _, _, status, attempts, leased_until, tries)] = rows
    assert (status, attempts, tries, leased_until) == ("delivered", 1, 1, None)
    # At least once on the wire, with the same webhook-id and body, so the bot can drop the repeat.
    assert len(receiver.requests) == 2
    assert {r["webhook-id"] for r in receiver.requests} == {webhook_id}
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
