"""A Celery worker is SIGKILLed in the middle of delivering a callback: another worker (already running, with
beat) delivers it once the dead worker's lease runs out, with the same webhook-id, and the callback queued
behind it only after it; each is recorded delivered exactly once (the bot may see the cut-off one twice: at
least once). Nothing is nudged by hand: the lease expires and beat's sweep finds the line on their own, and
the time from the kill to the redelivery is printed (``-s``) as the recovery time.
"""

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.botclient import escalation, turn
from tests.faults.harness import Worker, wait_until

SWEEP_DONE = re.compile(r"Task handoffs\.tasks\.deliver_due_callbacks\[[^]]+\] succeeded")
RECEIVED = re.compile(r"Task handoffs\.tasks\.deliver_callbacks\[[^]]+\] received")
FINISHED = re.compile(r"Task handoffs\.tasks\.deliver_callbacks\[[^]]+\] (succeeded|raised)")
# Far beyond any lease + sweep period: a generous bound on the wait, not a speed assertion.
RECOVERY_LIMIT_SECONDS = 150


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
                receiver.requests.append(
                    {"webhook-id": self.headers["webhook-id"], "body": body, "at": time.monotonic()}
                )
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


def busy_worker(workers: list[Worker]) -> Worker:
    """The one worker in the middle of a deliver_callbacks task (received, not yet finished)."""

    def unfinished(worker: Worker) -> int:
        log = worker.run_log()
        return len(RECEIVED.findall(log)) - len(FINISHED.findall(log))

    def only_one() -> Worker | None:
        busy = [worker for worker in workers if unfinished(worker) > 0]
        return busy[0] if len(busy) == 1 else None

    return wait_until(only_one, timeout=10, what="one worker to be the one sending")


def test_a_callback_cut_off_by_a_killed_worker_is_delivered_once_by_the_next_in_order(world):
    with held_receiver() as receiver:
        # Two workers and beat, as in production; one of them takes the callback and is killed mid-request.
        world.start(callback_url=receiver.url, worker=True)
        assert world.worker is not None
        workers = [world.worker, world.add_worker(name="second-worker")]
        beat = world.add_beat()
        bot = world.bot
        assert bot.post(turn("I was charged twice.", conversation="c-kill", first=True)).status_code == 200
        response = bot.post(escalation("c-kill"))
        assert response.status_code == 201, response.text
        handoff_id = response.json()["handoff"]["id"]

        # A worker is sending the handoff.queued callback, and the bot has not answered yet.
        assert receiver.first_arrived.wait(timeout=20), world.dump_logs()
        sender = busy_worker(workers)
        sender.kill()  # SIGKILL to the worker and its pool process, mid-request
        killed_at = time.monotonic()
        receiver.release.set()
        [(_, webhook_id, kind, status, attempts, leased_until, tries)] = deliveries(world, "c-kill")
        assert (kind, status, attempts, tries) == ("handoff.queued", "pending", 0, 0)  # the kill came first
        assert leased_until is not None  # still held by the dead worker's lease
        # The agent claims meanwhile: handoff.preparing is queued behind the cut-off one.
        claim = httpx.post(
            f"{world.url}/api/v1/agent/handoffs/{handoff_id}/claim",
            headers={"Authorization": f"Token {world.seed['token']}"},
            timeout=30,
        )
        assert claim.status_code == 200, claim.text

        def all_delivered() -> bool:
            # handoff.connected may follow when the preparation window ends while this waits
            statuses = [r[3] for r in deliveries(world, "c-kill")]
            return len(statuses) >= 2 and set(statuses) == {"delivered"}

        wait_until(all_delivered, timeout=RECOVERY_LIMIT_SECONDS, what="the other worker to deliver both")
        recovery = receiver.requests[1]["at"] - killed_at
        print(f"recovery: the cut-off callback was sent again {recovery:.1f} s after the SIGKILL")
        # Another sweep finds nothing left to send.
        survivor = next(worker for worker in workers if worker is not sender)
        sweeps = len(SWEEP_DONE.findall(survivor.run_log()))
        wait_until(
            lambda: len(SWEEP_DONE.findall(survivor.run_log())) > sweeps,
            timeout=60,
            what=f"another sweep to run ({beat.name})",
        )

    rows = deliveries(world, "c-kill")
    assert [row[2] for row in rows[:2]] == ["handoff.queued", "handoff.preparing"]  # no duplicate row
    # each recorded delivered exactly once, none still leased
    assert {(r[3], r[4], r[5], r[6]) for r in rows} == {("delivered", 1, None, 1)}
    # At least once on the wire, with the same webhook-id and body, so the bot can drop the repeat; and
    # never reordered: handoff.preparing (and anything after it) only after handoff.queued was delivered.
    assert [r["webhook-id"] for r in receiver.requests] == [webhook_id] + [row[1] for row in rows]
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
