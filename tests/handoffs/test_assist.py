"""Assistance after the handoff: grounded replies, mood alerts, the commitment tracker, idempotent tasks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs.assist.replies import suggest_replies
from handoffs.models import AssistItem, Commitment, MessageWarning, Turn
from handoffs.services.assist import assist_for_turn, commitments_mark_overdue
from tests.botclient import event, turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(escalate, api_as, agent, bot_client):
    """A handed-off conversation with a promise and a failed step, claimed and connected by ada."""
    bot_client.post(turn("My parcel #KX-48213 is lost and I'm fed up.", conversation="c-9", first=True))
    bot_client.post(event("step", "c-9", action="Reset the tracking link", outcome="failed"))
    bot_client.post(
        event(
            "commitment",
            "c-9",
            text="Refund of $129.99 if the parcel is not found",
            kind="refund",
            due="2026-11-27",
        )
    )
    handoff_id = bot_client.post(
        {
            "type": "escalation",
            "conversation_id": "c-9",
            "data": {"reason": "Lost parcel", "reason_code": "customer_request"},
        }
    ).json()["handoff"]["id"]
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    client.post(f"/handoffs/{handoff_id}/connect")
    return handoff_id, client


def last_turn(role: str) -> Turn:
    return Turn.objects.filter(role=role).order_by("-id").first()


def test_a_customer_turn_brings_grounded_replies_once(connected, bot_client):
    handoff_id, _ = connected
    bot_client.post(turn("Hello?? Is anyone going to help me?", conversation="c-9"))
    customer_turn = last_turn("customer")
    # when the task runs twice (a redelivery)
    first = assist_for_turn(turn_id=customer_turn.pk)
    again = assist_for_turn(turn_id=customer_turn.pk)
    # then
    assert again == []
    replies = AssistItem.objects.get(handoff_id=handoff_id, kind="reply_suggestion").payload["replies"]
    assert 2 <= len(replies) <= 3
    text = " ".join(replies)
    assert "KX-48213" in text  # names a detail the customer gave
    assert "refund" in text.lower()  # follows the open promise
    assert "Reset the tracking link".lower() not in text.lower() or "didn't work" in text
    assert {item.kind for item in first} >= {"reply_suggestion"}


def test_the_agent_api_lists_assist_items_with_their_kind(connected, bot_client):
    handoff_id, client = connected
    bot_client.post(turn("Any news?", conversation="c-9"))
    assist_for_turn(turn_id=last_turn("customer").pk)
    assist = client.get(f"/handoffs/{handoff_id}").json()["assist"]
    assert assist and all("kind" in item for item in assist)


def test_a_souring_mood_after_connect_raises_an_alert_with_the_turns(connected, bot_client):
    handoff_id, _ = connected
    bot_client.post(turn("Ok, thanks for picking this up.", conversation="c-9"))
    assist_for_turn(turn_id=last_turn("customer").pk)
    assert not AssistItem.objects.filter(kind="mood_alert").exists()
    bot_client.post(
        turn(
            "This is ridiculous. I have waited TWO WEEKS and nobody can tell me anything!!",
            conversation="c-9",
        )
    )
    assist_for_turn(turn_id=last_turn("customer").pk)
    alert = AssistItem.objects.get(handoff_id=handoff_id, kind="mood_alert").payload
    assert any("ridiculous" in item["text"] for item in alert["turns"])


def test_no_assistance_for_a_handoff_that_has_ended(connected, bot_client):
    handoff_id, client = connected
    bot_client.post(turn("Hello?", conversation="c-9"))
    customer_turn = last_turn("customer")
    client.post(f"/handoffs/{handoff_id}/resolve", {"resolution": "Refunded"})
    assert assist_for_turn(turn_id=customer_turn.pk) == []
    assert not AssistItem.objects.exists()


def test_an_agent_message_that_fulfils_a_promise_marks_it_kept(connected):
    handoff_id, client = connected
    client.post(
        f"/handoffs/{handoff_id}/messages", {"text": "I've processed your refund of $129.99 just now."}
    )
    assist_for_turn(turn_id=last_turn("agent").pk)
    commitment = Commitment.objects.get(kind="refund")
    assert commitment.status == "kept"
    package = client.get(f"/handoffs/{handoff_id}").json()["context"]
    assert [item["status"] for item in package["commitments"]] == ["kept"]
    assert AssistItem.objects.filter(kind="commitment_update").count() == 1


def test_the_agent_marks_a_promise_from_the_tracker(connected, teammate, api_as):
    handoff_id, client = connected
    commitment = Commitment.objects.get(kind="refund")
    response = client.post(f"/handoffs/{handoff_id}/commitments/{commitment.pk}", {"status": "kept"})
    assert response.status_code == 200 and response.json()["status"] == "kept"
    other = api_as(teammate).post(f"/handoffs/{handoff_id}/commitments/{commitment.pk}", {"status": "broken"})
    assert other.status_code == 409
    assert Commitment.objects.get(pk=commitment.pk).status == "kept"


def test_overdue_promises_become_broken(connected):
    Commitment.objects.update(due_at=timezone.now() - timedelta(hours=1))
    assert commitments_mark_overdue() == 1
    assert Commitment.objects.get().status == "broken"


def test_a_sent_message_that_repeats_a_question_is_recorded(connected):
    handoff_id, client = connected
    # the draft check warns; sending stays the agent's choice, and the warning is kept for the reports
    warnings = client.post(
        f"/handoffs/{handoff_id}/draft-check", {"text": "What's your order number?"}
    ).json()
    assert [warning["kind"] for warning in warnings["warnings"]] == ["repeat_question"]
    client.post(f"/handoffs/{handoff_id}/messages", {"text": "What's your order number?"})
    client.post(f"/handoffs/{handoff_id}/messages", {"text": "Thanks, I'm on it."})
    recorded = MessageWarning.objects.get()
    assert recorded.kind == "repeat_question" and recorded.turn.text == "What's your order number?"
    assert "KX-48213" in str(recorded.evidence)


def test_replies_never_suggest_a_failed_step_as_new_and_speak_spanish():
    package = {
        "customer": {"name": "Lucía Gómez", "locale": "es"},
        "emotion": {"current": "frustrated", "trend": "deteriorating", "trajectory": []},
        "information_provided": [{"slot": "order_number", "value": "55102-B", "seq": 1}],
        "commitments": [],
        "steps_attempted": [{"action": "Reiniciar el router", "outcome": "failed"}],
    }
    replies = suggest_replies(package=package, articles=[])
    assert any("55102-B" in reply and "no tendrá que repetir" in reply for reply in replies)
    assert any("no funcionó" in reply for reply in replies)
