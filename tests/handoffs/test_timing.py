"""Timing: reassignment when the claimer does not answer in time, and the bot's take-back offer."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from handoffs.models import Bot, Commitment, Conversation, Handoff, OutboundDelivery, Turn
from handoffs.services.assist import commitments_mark_overdue
from handoffs.services.handoffs import handoff_reassign_due, handoff_transfer, handoffs_reassign_overdue
from handoffs.services.routing import (
    eta_refresh,
    offers_expire_overdue,
    takeback_offer_due,
    takeback_offers_due,
)
from handoffs.tasks import sweep_routing_timers
from tests.botclient import event, turn
from tests.handoffs.test_routing import here

pytestmark = pytest.mark.django_db


@pytest.fixture
def callbacks(bot):
    """The bot has a callback URL: callbacks are written to the outbox (delivery is tested elsewhere)."""
    Bot.objects.filter(pk=bot.pk).update(callback_url="http://127.0.0.1:9/cb")

    def of(kind: str) -> list[dict]:
        return [row.payload for row in OutboundDelivery.objects.filter(type=kind).order_by("id")]

    return of


def overdue(handoff_id: str) -> None:
    Handoff.objects.filter(pk=handoff_id).update(reply_due_at=timezone.now() - timedelta(seconds=1))


def connected(escalate, api_as, agent, conversation="c-1") -> str:
    handoff_id = escalate(conversation)
    client = api_as(agent)
    assert client.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    assert client.post(f"/handoffs/{handoff_id}/connect").status_code == 200
    return handoff_id


# --- reassignment ---------------------------------------------------------------------------------


def test_no_first_message_in_time_sends_the_customer_back_to_the_queue(
    callbacks, support_team, escalate, api_as, agent, teammate
):
    # given: ada claimed and connected, and the first-reply limit is two minutes
    here(agent)
    here(teammate)
    handoff_id = connected(escalate, api_as, agent)
    old = Handoff.objects.get(pk=handoff_id)
    assert (old.reply_due_at - old.connected_at).total_seconds() == support_team.first_reply_seconds == 120
    assert handoff_reassign_due(handoff_id=handoff_id) is False  # not due yet
    # when: the deadline passes with no message from her
    overdue(handoff_id)
    assert handoff_reassign_due(handoff_id=handoff_id) is True
    # then: her handoff ends, a new one waits in the same team and keeps the customer's place
    old.refresh_from_db()
    assert (old.status, old.end_reason, old.reply_due_at) == ("transferred", "no_first_reply", None)
    new = Handoff.objects.get(previous=old)
    assert (new.status, new.team, new.agent) == ("queued", support_team, None)
    assert new.frame["transfer"]["reason"] == "no_first_reply"
    assert "did not write to the customer within 2 minutes" in new.note
    assert new.queued_at > old.queued_at and new.queue_key >= old.queue_key  # aging continues, plus a bonus
    conversation = Conversation.objects.get(pk=old.conversation_id)
    assert conversation.status == "queued"
    assert (
        "ada could not continue; the Support team will take over."
        in conversation.turns.filter(role="system").last().text
    )
    # the customer is told through the bot, with the reason
    [transferred] = callbacks("handoff.transferred")
    assert transferred["handoff_id"] == handoff_id
    assert (
        transferred["data"]["to_handoff_id"] == str(new.id)
        and transferred["data"]["reason"] == "no_first_reply"
    )
    # her capacity is free again, and the timeline says why
    assert api_as(agent).get("/queue").json()["handoffs"][0]["id"] == str(new.id)
    steps = api_as(agent).get(f"/handoffs/{handoff_id}").json()["timeline"]
    assert [step["event"] for step in steps] == ["queued", "claimed", "connected", "reassigned"]
    assert steps[-1]["detail"]
    # a second timer (or the sweep) finds nothing left to do
    assert handoff_reassign_due(handoff_id=handoff_id) is False
    assert Handoff.objects.filter(conversation=conversation).count() == 2


def test_an_unanswered_customer_message_sets_a_deadline_that_a_reply_clears(
    bot_client, support_team, escalate, api_as, agent
):
    handoff_id = connected(escalate, api_as, agent)
    client = api_as(agent)
    # the first message clears the first-reply deadline
    assert client.post(f"/handoffs/{handoff_id}/messages", {"text": "Hi Dana, I'm on it."}).status_code == 201
    assert Handoff.objects.get(pk=handoff_id).reply_due_at is None
    # the customer writes twice: the deadline runs from the first unanswered message
    before = timezone.now()
    bot_client.post(turn("Are you there?"))
    due = Handoff.objects.get(pk=handoff_id).reply_due_at
    assert due is not None
    assert (
        before + timedelta(seconds=support_team.answer_seconds)
        <= due
        <= timezone.now() + timedelta(seconds=support_team.answer_seconds)
    )
    bot_client.post(turn("Hello??"))
    assert Handoff.objects.get(pk=handoff_id).reply_due_at == due
    # an answer clears it
    client.post(f"/handoffs/{handoff_id}/messages", {"text": "Yes, checking the courier now."})
    assert Handoff.objects.get(pk=handoff_id).reply_due_at is None
    # left unanswered past the limit, it is reassigned as "reply overdue"
    bot_client.post(turn("Still waiting."))
    overdue(handoff_id)
    assert handoffs_reassign_overdue() == 1  # the beat sweep, for a lost timer
    old = Handoff.objects.get(pk=handoff_id)
    assert (old.status, old.end_reason) == ("transferred", "reply_overdue")
    assert "unanswered for 5 minutes" in Handoff.objects.get(previous=old).note


def test_limits_of_zero_turn_the_rules_off(bot_client, support_team, escalate, api_as, agent):
    support_team.first_reply_seconds = 0
    support_team.answer_seconds = 0
    support_team.save()
    handoff_id = connected(escalate, api_as, agent)
    bot_client.post(turn("Hello?"))
    assert Handoff.objects.get(pk=handoff_id).reply_due_at is None
    assert handoffs_reassign_overdue() == 0


def test_a_reassigned_offer_goes_to_someone_else(support_team, escalate, api_as, agent, teammate):
    # given: an offer team; ada takes the handoff and then says nothing
    support_team.routing_mode = "offer"
    support_team.save()
    here(agent)
    here(teammate, capacity=1)
    handoff_id = escalate()
    holder, other = (
        (agent, teammate)
        if Handoff.objects.get(pk=handoff_id).offered_to == agent.user
        else (teammate, agent)
    )
    api_as(holder).post(f"/handoffs/{handoff_id}/claim")
    api_as(holder).post(f"/handoffs/{handoff_id}/connect")
    overdue(handoff_id)
    # when
    assert handoff_reassign_due(handoff_id=handoff_id) is True
    # then: the new handoff is offered to the other person, never back to the one who let it lapse
    new = Handoff.objects.get(previous_id=handoff_id)
    assert new.offered_to == other.user
    assert holder.user_id in new.offered_before
    Handoff.objects.filter(pk=new.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    assert offers_expire_overdue() == 1  # the beat sweep moves a lapsed offer on when its timer was lost
    assert Handoff.objects.get(pk=new.pk).offered_to is None  # nobody else: the pool


def test_the_agents_console_shows_why_it_left_her(escalate, api_as, agent):
    handoff_id = connected(escalate, api_as, agent)
    browser = Client()
    browser.force_login(agent.user)
    assert "Your reply is due by" in browser.get(f"/handoffs/{handoff_id}/").content.decode()
    overdue(handoff_id)
    handoff_reassign_due(handoff_id=handoff_id)
    # the handoff page (what the socket re-renders on handoff.updated) no longer offers her the chat
    page = browser.get(f"/handoffs/{handoff_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "reassigned</strong> (no first message to the customer in time)" in html
    assert 'id="composer"' not in html and "Your reply is due by" not in html
    assert "could not continue" in html


# --- take-back ------------------------------------------------------------------------------------


def waited(handoff_id: str, seconds: int) -> None:
    Handoff.objects.filter(pk=handoff_id).update(queued_at=timezone.now() - timedelta(seconds=seconds))


def test_nobody_claims_in_time_so_the_bot_is_offered_to_take_the_customer_back(
    callbacks, bot_client, support_team, escalate, api_as, agent
):
    # given: ten minutes is the team's limit
    assert support_team.takeback_after_seconds == 600
    handoff_id = escalate()
    assert takeback_offer_due(handoff_id=handoff_id) is False
    # when: the customer has waited longer, unclaimed
    waited(handoff_id, 601)
    assert takeback_offer_due(handoff_id=handoff_id) is True
    # then: one offer, with how long they waited and the promise
    [offer] = callbacks("handoff.takeback_offered")
    assert offer["handoff_id"] == handoff_id
    assert offer["data"]["waited_seconds"] >= 601
    assert offer["data"]["queue_position"] == 1 and offer["data"]["estimated_wait_seconds"] > 0
    promise = offer["data"]["promise"]
    assert promise["kind"] == "callback" and "Support" in promise["text"]
    offered_at = Handoff.objects.get(pk=handoff_id).takeback_offered_at
    assert promise["due"].startswith((offered_at + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    assert takeback_offer_due(handoff_id=handoff_id) is False
    assert takeback_offers_due() == 0  # the sweep does not offer twice
    # the customer's ETA keeps being updated meanwhile
    here(agent)
    assert eta_refresh(team_id=support_team.pk) == 1
    assert callbacks("handoff.eta")[-1]["handoff_id"] == handoff_id
    # when: the bot accepts, taking the customer back without a promise of its own
    response = bot_client.post(event("takeback"))
    # then
    assert response.status_code == 200, response.content
    assert response.json()["conversation"]["status"] == "returned_to_bot"
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.status, handoff.end_reason) == ("returned_to_bot", "takeback")
    commitment = Commitment.objects.get(conversation=handoff.conversation, kind="callback")
    assert (commitment.status, commitment.source, commitment.text) == ("open", "event", promise["text"])
    assert abs((commitment.due_at - offered_at - timedelta(hours=4)).total_seconds()) < 1
    conversation = handoff.conversation
    conversation.refresh_from_db()
    assert any(
        item["kind"] == "callback" and item["status"] == "open"
        for item in conversation.context["commitments"]
    )
    [returned] = callbacks("handoff.returned_to_bot")
    assert returned["data"]["reason"] == "takeback" and returned["data"]["commitment"]["kind"] == "callback"
    assert api_as(agent).get("/queue").json()["handoffs"] == []
    steps = [step["event"] for step in api_as(agent).get(f"/handoffs/{handoff_id}").json()["timeline"]]
    assert steps == ["queued", "takeback_offered", "taken_back"]
    # a promise nobody keeps is broken when it falls due (the tracker a supervisor reads)
    assert commitments_mark_overdue(now=commitment.due_at + timedelta(seconds=1)) == 1
    assert Commitment.objects.get(pk=commitment.pk).status == "broken"


def test_the_bot_may_take_back_with_its_own_promise_before_any_offer(bot_client, escalate):
    handoff_id = escalate()
    response = bot_client.post(
        event(
            "takeback",
            note="The customer prefers a call.",
            callback={"text": "We'll call you tomorrow morning.", "due": "2026-12-01T09:00:00Z"},
        )
    )
    assert response.status_code == 200, response.content
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.status, handoff.note) == ("returned_to_bot", "The customer prefers a call.")
    commitment = Commitment.objects.get(conversation=handoff.conversation)
    assert (commitment.kind, commitment.text, commitment.due) == (
        "callback",
        "We'll call you tomorrow morning.",
        "2026-12-01T09:00:00+00:00",
    )
    # the bot has the conversation again: its turns are accepted
    assert bot_client.post(turn("Noted, we'll call you.", role="bot")).status_code == 200


def test_a_claimed_handoff_cannot_be_taken_back_and_nothing_of_the_batch_is_applied(
    bot_client, escalate, api_as, agent
):
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    response = bot_client.post(
        {
            "events": [
                event("commitment", text="We'll call you back.", kind="callback"),
                event("takeback"),
            ]
        }
    )
    assert response.status_code == 409
    assert response.json()["code"] == "handoff_claimed"
    assert Commitment.objects.filter(kind="callback").count() == 0
    assert Handoff.objects.get(pk=handoff_id).status == "preparing"


def test_nothing_waiting_is_a_conflict(bot_client):
    bot_client.post(turn("Hello", first=True))
    response = bot_client.post(event("takeback"))
    assert response.status_code == 409 and response.json()["code"] == "no_waiting_handoff"


def test_the_beat_sweep_sends_lost_takeback_offers_and_reassignments(callbacks, escalate, api_as, agent):
    waiting = escalate("c-wait")
    talking = connected(escalate, api_as, agent, conversation="c-talk")
    waited(waiting, 700)
    overdue(talking)
    # when: the beat task runs (no timer fired)
    assert sweep_routing_timers() == 2
    # then
    assert [row["handoff_id"] for row in callbacks("handoff.takeback_offered")] == [waiting]
    assert Handoff.objects.get(pk=talking).status == "transferred"
    assert Turn.objects.filter(role="system", text__contains="could not continue").count() == 1
    assert sweep_routing_timers() == 0


def test_no_takeback_while_a_warm_transfer_is_in_its_overlap_window(
    callbacks, bot_client, escalate, api_as, agent, teammate
):
    # given: ada is handing her live chat to grace, and the overlap window is running
    handoff_id = connected(escalate, api_as, agent)
    new = handoff_transfer(
        handoff_id=handoff_id, agent=agent, note="Over to you.", to_agent="grace", overlap=True
    )
    assert new.overlap_until is not None
    waited(str(new.pk), 700)
    # then: no take-back offer, and the bot cannot take the customer from under them
    assert takeback_offer_due(handoff_id=str(new.pk)) is False
    assert takeback_offers_due() == 0
    response = bot_client.post(event("takeback"))
    assert response.status_code == 409 and response.json()["code"] == "handoff_claimed"
    assert callbacks("handoff.takeback_offered") == []


# --- a customer who left --------------------------------------------------------------------------


def test_a_customer_who_left_is_not_reassigned_and_a_customer_who_writes_again_is(
    callbacks, bot_client, escalate, api_as, agent, teammate
):
    # given: ada is connected and her first message is due
    here(teammate)
    handoff_id = connected(escalate, api_as, agent)
    assert Handoff.objects.get(pk=handoff_id).reply_due_at is not None
    # when: the customer closes the chat
    assert bot_client.post(event("customer_left")).status_code == 200
    # then: the handoff stays with ada to wrap up, and nothing is due any more
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.status, handoff.reply_due_at) == ("connected", None)
    assert handoff.conversation.customer_left_at is not None
    assert handoffs_reassign_overdue() == 0
    # and a deadline set by a race (a timer, the sweep) does not send a gone customer back to the queue
    overdue(handoff_id)
    assert handoff_reassign_due(handoff_id=handoff_id) is False
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reply_due_at) == ("connected", None)
    assert not Handoff.objects.filter(previous_id=handoff_id).exists()
    assert callbacks("handoff.transferred") == []
    # when: the customer comes back and writes, an answer is due again
    bot_client.post(turn("Sorry, my browser closed. Still there?"))
    handoff.refresh_from_db()
    assert handoff.reply_due_at is not None and handoff.conversation.customer_left_at is None
