"""Redis is down while events come in: the tasks they ask for (assistance for the agent, self-model
inference, the recurring-issue inference) cannot be queued. Their asks were recorded in PostgreSQL with the
events (``PendingTask``), so once Redis is back, beat's ``resend_pending_tasks`` sends them again and their
effects appear, once each; another sweep finds nothing left to do.
"""

import re
import uuid

import httpx

from tests.botclient import escalation, event
from tests.faults.harness import wait_until

RESEND_DONE = re.compile(r"Task handoffs\.tasks\.resend_pending_tasks\[[^]]+\] succeeded in [\d.]+s: (\d+)")
CHATTY = "I would really prefer that you email me about this, my account keeps failing"


def test_tasks_asked_for_while_redis_is_down_are_done_once_when_it_is_back(world):
    world.env["WARMLINE_PENDING_TASK_RESEND_SECONDS"] = "1"
    world.start(worker=True)
    bot, db = world.bot, world.database
    customer = {"id": f"u-{uuid.uuid4().hex[:8]}", "name": "Ana Ruiz", "locale": "en"}

    def say(conversation: str, text: str, *, first: bool = False) -> None:
        body = event("turn", conversation, customer=customer if first else None, role="customer", text=text)
        response = bot.post(body)
        assert response.status_code == 200, response.text

    def classify(conversation: str) -> None:
        body = event("classification", conversation, issue_type="billing", complexity="low")
        assert bot.post(body).status_code == 200

    # Before the outage: a handoff an agent is connected to (assistance runs for its customer's turns).
    say("c-live", "My invoice shows a charge I never made.", first=True)
    response = bot.post(escalation("c-live"))
    assert response.status_code == 201, response.text
    handoff_id = response.json()["handoff"]["id"]
    for step in ("claim", "connect"):
        answer = httpx.post(
            f"{world.url}/api/v1/agent/handoffs/{handoff_id}/{step}",
            headers={"Authorization": f"Token {world.seed['token']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    say("c-old", "The same billing problem as last month.", first=True)
    classify("c-old")

    world.redis.stop()

    # During: every event is accepted; none of the work it asks for can be queued.
    say("c-live", "Why was I charged twice for the refund of my invoice?")
    say("c-new", CHATTY, first=True)
    classify("c-new")  # the same customer, the same issue type as c-old: a recurring issue

    def assist_items() -> int:
        return db.scalar(
            "SELECT count(*) FROM handoffs_assistitem a JOIN handoffs_handoff h ON h.id = a.handoff_id "
            "JOIN handoffs_turn t ON t.conversation_id = h.conversation_id "
            "WHERE a.handoff_id = %s::uuid AND t.text LIKE 'Why was I charged twice%%' "
            "AND a.dedupe_key = 'turn:' || t.seq",
            (handoff_id,),
        )

    def inferred(key: str | None = None) -> int:
        sql = (
            "SELECT count(*) FROM handoffs_observation o JOIN handoffs_customer c ON c.id = o.customer_id "
            "JOIN handoffs_conversation v ON v.id = o.conversation_id "
            "WHERE c.external_id = %s AND o.source = 'inferred' AND v.external_id = 'c-new'"
        )
        params: tuple = (customer["id"],)
        if key is not None:
            sql += " AND o.key = %s"
            params += (key,)
        return db.scalar(sql, params)

    def pending() -> int:
        return db.scalar("SELECT count(*) FROM handoffs_pendingtask")

    assert pending() >= 3
    assert assist_items() == 0 and inferred() == 0

    world.redis.start()  # empty: whatever was queued is gone too
    assert world.worker is not None
    # The sweep resends refused asks once they are a resend period (1 s here) old; the last one may be
    # younger than that when Redis is back at once, and no beat runs here to sweep again.
    wait_until(
        lambda: (
            db.scalar(
                "SELECT count(*) FROM handoffs_pendingtask WHERE asked_at > now() - interval '1 second'"
            )
            == 0
        ),
        timeout=10,
        what="the asks to be a resend period old",
    )
    world.send_task("handoffs.tasks.resend_pending_tasks")

    wait_until(lambda: assist_items() > 0, timeout=40, what="assistance for the turn sent during the outage")
    wait_until(lambda: inferred("recurring_issue") == 1, timeout=40, what="the recurring-issue inference")
    wait_until(lambda: inferred() > 1, timeout=40, what="inference from the turn sent during the outage")
    wait_until(lambda: pending() == 0, timeout=40, what="every pending ask to be cleared")
    after = (assist_items(), inferred())

    # Another sweep has nothing left to send, and nothing is done twice.
    world.send_task("handoffs.tasks.resend_pending_tasks")
    wait_until(
        lambda: len(RESEND_DONE.findall(world.worker.run_log())) >= 2,
        timeout=30,
        what="the second sweep",
    )
    assert RESEND_DONE.findall(world.worker.run_log())[-1] == "0"
    assert (assist_items(), inferred()) == after
    assert inferred("recurring_issue") == 1
