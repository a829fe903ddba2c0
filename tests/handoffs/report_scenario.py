"""The scripted report scenario shared by the report tests (API, CSV) and the dashboard tests (page):
four handoffs with timestamps chosen by hand, and every metric computed by hand from them."""

from datetime import timedelta

from django.utils import timezone

from handoffs.models import Commitment, Conversation, CsatRating, Customer, Handoff, MessageWarning, Turn
from handoffs.services.report_columns import report_columns_refresh
from tests.factories import AgentFactory


def make_supervisor(support_team):
    return AgentFactory(user__username="morgan", teams=[support_team], is_supervisor=True)


def build_scenario(bot, support_team, agent):
    """Four handoffs: two resolved (one re-escalated later), one abandoned; timestamps chosen by hand."""
    t0 = timezone.now() - timedelta(days=2)

    def conversation(name: str) -> Conversation:
        customer = Customer.objects.create(external_id=f"cust-{name}", name=name)
        return Conversation.objects.create(bot=bot, external_id=name, customer=customer, context={})

    def handoff(
        conv: Conversation, queued, claimed=None, connected=None, ended=None, status="queued"
    ) -> Handoff:
        return Handoff.objects.create(
            conversation=conv,
            team=support_team,
            agent=agent.user if claimed else None,
            status=status,
            reason="r",
            reason_code="customer_request",
            queued_at=queued,
            claimed_at=claimed,
            connected_at=connected,
            ended_at=ended,
        )

    def customer_turn(conv: Conversation, seq: int, at, score: float) -> Turn:
        return Turn.objects.create(
            conversation=conv, seq=seq, role="customer", text="…", sentiment=score, occurred_at=at
        )

    one, two, three = conversation("one"), conversation("two"), conversation("three")
    s = timedelta(seconds=1)
    h1 = handoff(one, t0, t0 + 60 * s, t0 + 90 * s, t0 + 390 * s, "resolved")
    h2 = handoff(two, t0, t0 + 120 * s, t0 + 165 * s, t0 + 765 * s, "resolved")
    handoff(three, t0, status="abandoned", ended=t0 + 30 * s)
    handoff(two, t0 + 765 * s + timedelta(hours=1))  # re-escalated within 72 h of h2's resolve
    # sentiment: h1 before -0.6, after 0.2 (delta 0.8); h2 before -0.2 and -0.4 (mean -0.3), after 0.1 (delta 0.4)
    customer_turn(one, 1, t0 - 10 * s, -0.6)
    customer_turn(one, 2, t0 + 100 * s, 0.2)
    customer_turn(two, 1, t0 - 20 * s, -0.2)
    customer_turn(two, 2, t0 - 10 * s, -0.4)
    customer_turn(two, 3, t0 + 200 * s, 0.1)
    asked = Turn.objects.create(
        conversation=one, seq=3, role="agent", text="Order number?", occurred_at=t0 + 120 * s
    )
    MessageWarning.objects.create(turn=asked, handoff=h1, kind="repeat_question", message="m", created_at=t0)
    for handoff_row, bot_score, human_score in ((h1, 2, 5), (h2, 3, 4)):
        CsatRating.objects.create(
            conversation=handoff_row.conversation,
            handoff=handoff_row,
            phase="bot",
            score=bot_score,
            created_at=t0,
        )
        CsatRating.objects.create(
            conversation=handoff_row.conversation,
            handoff=handoff_row,
            phase="human",
            score=human_score,
            created_at=t0,
        )
    Commitment.objects.create(conversation=one, text="refund", source="event", status="kept")
    Commitment.objects.create(
        conversation=two, text="callback", source="event", status="open", due_at=t0
    )  # overdue
    Commitment.objects.create(conversation=three, text="credit", source="event", status="open")
    # The rows above are written directly, so the columns the report reads off each handoff are filled
    # here the way the services fill them (test_report_columns checks the services against the rows).
    report_columns_refresh(Handoff.objects.filter(conversation__in=[one, two, three]))
    return t0


EXPECTED = {
    "handoffs": 4,
    "repeat_question_rate": 0.5,  # 1 of the 2 connected handoffs
    "csat_bot_avg": 2.5,
    "csat_human_avg": 4.5,
    "csat_delta": 2.0,
    "median_wait_seconds": 90.0,  # claims after 60 s and 120 s
    "p90_wait_seconds": 114.0,
    "median_prepare_seconds": 37.5,  # 30 s and 45 s
    "median_resolution_seconds": 450.0,  # 300 s and 600 s
    "re_escalation_rate": 0.5,  # 1 of 2 resolved came back within 72 h
    "abandonment_rate": 0.25,
    "sentiment_delta_avg": 0.6,  # mean of 0.8 and 0.4
    "commitments": {"open": 1, "kept": 1, "broken": 1},
}
