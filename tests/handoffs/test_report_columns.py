"""The handoff's stored sentiment sides (docs/metrics.md, ``sentiment_delta_avg``) agree with a
recomputation from the turns themselves, after a conversation driven through the product's own paths:
the bot API (scored customer turns, one of them back-dated, an escalation), the console's services
(claim, connect, a warm transfer, a resolve straight from the preparation window) and customer turns
that keep arriving after each connect and after the end."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs.models import Handoff, Turn
from handoffs.reports import quality_report, report_filter, scope_for
from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_resolve, handoff_transfer
from tests.botclient import escalation, turn
from tests.factories import AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def recomputed(handoff: Handoff) -> tuple[list[float], list[float]]:
    """The definition, read off the turns: the conversation's scored customer turns before the handoff
    was queued, and those from its connect on."""
    scored = Turn.objects.filter(
        conversation_id=handoff.conversation_id, role="customer", sentiment__isnull=False
    )
    before = [t.sentiment for t in scored if t.occurred_at < handoff.queued_at]
    after = [t.sentiment for t in scored if handoff.connected_at and t.occurred_at >= handoff.connected_at]
    return before, after


def assert_stored_sides_agree(handoff: Handoff) -> tuple[list[float], list[float]]:
    handoff.refresh_from_db()
    before, after = recomputed(handoff)
    assert handoff.sentiment_before_count == len(before), handoff
    assert handoff.sentiment_before_sum == pytest.approx(sum(before), abs=1e-9), handoff
    assert handoff.sentiment_after_count == len(after), handoff
    assert handoff.sentiment_after_sum == pytest.approx(sum(after), abs=1e-9), handoff
    return before, after


def say(bot_client, text: str, *, occurred_at: str | None = None, **extra) -> None:
    payload = turn(text, conversation="c-9", **extra)
    if occurred_at:
        payload["occurred_at"] = occurred_at
    response = bot_client.post(payload)
    assert response.status_code in (200, 201, 202), response.content


def test_stored_sides_follow_turns_connects_and_a_transfer(bot_client, agent, support_team, supervisor):
    billing = TeamFactory(name="Billing")
    biller = AgentFactory(user__username="bill", teams=[billing])
    supervisor.teams.add(billing)
    # the bot phase: two angry customer turns, then the escalation
    say(bot_client, "This is the third time my parcel is late, I'm furious.", first=True)
    say(bot_client, "Where is my order?", role="bot")
    say(bot_client, "Terrible service, nobody ever answers me.")
    response = bot_client.post(escalation("c-9"))
    assert response.status_code == 201, response.content
    first = Handoff.objects.get(pk=response.json()["handoff"]["id"])
    before, after = assert_stored_sides_agree(first)
    assert len(before) == 2 and after == []
    # while queued: a turn that counts on neither side, and a back-dated one that counts before
    say(bot_client, "Hello? Is anyone there? This is awful.")
    say(
        bot_client,
        "I already gave you my order number, this is ridiculous.",
        occurred_at=(first.queued_at - timedelta(minutes=5)).isoformat(),
    )
    before, after = assert_stored_sides_agree(first)
    assert len(before) == 3 and after == []
    # the agent claims and connects; the customer keeps writing
    handoff_claim(handoff_id=str(first.pk), agent=agent)
    handoff_connect(handoff_id=str(first.pk), agent=agent)
    say(bot_client, "Thank you so much, that is great news!")
    say(bot_client, "Wonderful, I really appreciate the help.")
    before, after = assert_stored_sides_agree(first)
    assert len(before) == 3 and len(after) == 2
    # a warm transfer: the new handoff's "before" is everything so far, the old one keeps its connect
    second = handoff_transfer(handoff_id=str(first.pk), agent=agent, note="Refund question", team="Billing")
    before, after = assert_stored_sides_agree(second)
    assert len(before) == 6 and after == []
    say(bot_client, "Okay, I will wait for billing, thanks.")
    # a bot whose clock runs a minute ahead: this turn lands after the connect that comes next
    ahead = (timezone.now() + timedelta(minutes=1)).isoformat()
    say(bot_client, "Great, thanks, that is helpful.", occurred_at=ahead)
    # resolved straight from the preparation window: connected at the resolve
    handoff_claim(handoff_id=str(second.pk), agent=biller)
    handoff_resolve(handoff_id=str(second.pk), agent=biller, resolution="Refunded the shipping fee")
    before, after = assert_stored_sides_agree(second)
    assert len(before) == 6 and len(after) == 1
    say(bot_client, "Perfect, thanks a lot, excellent work!")  # after the end: counts after both connects
    first_sides = assert_stored_sides_agree(first)
    second_sides = assert_stored_sides_agree(second)
    assert len(first_sides[1]) == 5 and len(second_sides[1]) == 2

    # and the report's sentiment delta is the mean of the per-handoff deltas recomputed from the turns
    deltas = [sum(a) / len(a) - sum(b) / len(b) for b, a in (first_sides, second_sides)]
    now = timezone.now()
    report = quality_report(
        scope=scope_for(supervisor),
        flt=report_filter(since=now - timedelta(days=1), until=now + timedelta(minutes=1)),
    )
    assert report["handoffs"] == 2
    assert report["sentiment_delta_avg"] == pytest.approx(round(sum(deltas) / len(deltas), 3))


def test_a_handoff_without_customer_turns_on_one_side_is_left_out(bot_client, agent, supervisor):
    say(bot_client, "My parcel is late and I'm upset.", first=True)
    response = bot_client.post(escalation("c-9"))
    handoff_id = response.json()["handoff"]["id"]
    handoff_claim(handoff_id=handoff_id, agent=agent)
    handoff_connect(handoff_id=handoff_id, agent=agent)  # and the customer says nothing more
    handoff = Handoff.objects.get(pk=handoff_id)
    before, after = assert_stored_sides_agree(handoff)
    assert len(before) == 1 and after == []
    now = timezone.now()
    report = quality_report(
        scope=scope_for(supervisor), flt=report_filter(since=now - timedelta(days=1), until=None)
    )
    assert report["handoffs"] == 1 and report["sentiment_delta_avg"] is None


def test_ratings_and_a_re_escalation_are_stored_as_the_report_reads_them(bot_client, agent, supervisor):
    from tests.botclient import event

    say(bot_client, "My parcel is late and I'm upset.", first=True)
    first_id = bot_client.post(escalation("c-9")).json()["handoff"]["id"]
    for phase, score in (("bot", 2), ("bot", 3)):
        assert bot_client.post(event("csat", "c-9", phase=phase, score=score)).status_code in (200, 201, 202)
    handoff_claim(handoff_id=first_id, agent=agent)
    handoff_connect(handoff_id=first_id, agent=agent)
    handoff_resolve(handoff_id=first_id, agent=agent, resolution="Sent a replacement")
    assert bot_client.post(event("csat", "c-9", phase="human", score=5)).status_code in (200, 201, 202)
    first = Handoff.objects.get(pk=first_id)
    assert (first.csat_bot_sum, first.csat_bot_count, first.csat_human_sum, first.csat_human_count) == (
        5,
        2,
        5,
        1,
    )
    assert first.re_escalated is False
    # the customer comes back within 72 h: a new escalation marks the resolved handoff as re-escalated
    say(bot_client, "The replacement is broken too, this is terrible.")
    second_id = bot_client.post(escalation("c-9")).json()["handoff"]["id"]
    first.refresh_from_db()
    assert first.re_escalated is True
    assert Handoff.objects.get(pk=second_id).re_escalated is False  # not resolved (yet)
    now = timezone.now()
    report = quality_report(
        scope=scope_for(supervisor), flt=report_filter(since=now - timedelta(days=1), until=None)
    )
    assert report["re_escalation_rate"] == 1.0  # 1 of the 1 resolved handoffs
    assert report["csat_bot_avg"] == 2.5 and report["csat_human_avg"] == 5.0
