"""The live package as bots see it: the engines run on every event posted through the signed API."""

import json

import pytest

from handoffs.models import Commitment, ProvidedInfo, Turn
from tests.botclient import event, turn
from tests.handoffs.context.replaying import SHARED_FIXTURES, allowed_trends, same_value

pytestmark = pytest.mark.django_db

CASES = json.loads(SHARED_FIXTURES.read_text()) if SHARED_FIXTURES.exists() else []


def post_conversation(bot_client, case: dict) -> dict:
    events = [
        event("turn", case["id"], customer=case["customer"] if index == 0 else None, role=role, text=text)
        for index, (role, text) in enumerate(case["turns"])
    ]
    response = bot_client.post({"events": events})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.skipif(not CASES, reason="shared fixtures not present")
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_fixture_conversations_fill_the_package_on_ingest(bot_client, case):
    # when
    answer = post_conversation(bot_client, case)
    context = bot_client.get(f"/conversations/{case['id']}").json()["context"]
    expect = case["expect"]
    # then: every expected detail is known, with the turn it came from, and stored as rows too
    for slot, value in expect["slots"]:
        found = [item for item in context["information_provided"] if item["slot"] == slot]
        assert any(same_value(slot, value, item["value"]) for item in found), (slot, value, found)
    assert ProvidedInfo.objects.count() == len(context["information_provided"])
    # commitments the bot made in its own words, as rows and in the package
    for wanted in expect["commitments"]:
        assert any(
            all(word.lower() in item["text"].lower() for word in wanted["keywords"])
            for item in context["commitments"]
        ), (wanted, context["commitments"])
    assert Commitment.objects.filter(source="detected").count() == len(context["commitments"])
    # emotion: a point per customer turn, trend and current from the trajectory
    customer_turns = sum(1 for role, _ in case["turns"] if role == "customer")
    assert len(context["emotion"]["trajectory"]) == customer_turns
    assert context["emotion"]["trend"] in allowed_trends(expect["trend"])
    negative = context["emotion"]["current"] in {"concerned", "frustrated", "angry"}
    assert negative == expect["current_negative"]
    assert Turn.objects.filter(role="customer", sentiment__isnull=False).count() == customer_turns
    # the reader's first lines
    assert context["summary"]
    assert context["suggested_opening"]
    advice = answer["escalation_advice"]
    assert 0 <= advice["score"] <= 1 and isinstance(advice["escalate"], bool)


def test_a_posted_commitment_merges_its_detected_twin(bot_client):
    bot_client.post(
        {
            "events": [
                turn("My refund never arrived", first=True),
                turn("I've issued a refund of $25.00, you'll see it within 5 business days.", role="bot"),
            ]
        }
    )
    assert Commitment.objects.filter(source="detected").count() == 1
    # when: the bot also posts the same promise as an event
    bot_client.post(
        event("commitment", text="Refund of $25.00", kind="refund", amount="25.00", currency="USD")
    )
    # then: one promise, held as the posted one
    context = bot_client.get("/conversations/c-1").json()["context"]
    assert [(item["source"], item["kind"]) for item in context["commitments"]] == [("event", "refund")]
    assert list(Commitment.objects.values_list("source", flat=True)) == ["event"]


def test_a_declined_offer_is_not_a_commitment(bot_client):
    bot_client.post(
        {
            "events": [
                turn("The headphones I got are scratched", first=True),
                turn("I'm sorry! I can send you a replacement pair by Friday.", role="bot"),
            ]
        }
    )
    assert Commitment.objects.count() == 1
    # when
    bot_client.post(turn("No thanks, I don't want a replacement, I'd rather keep them."))
    # then
    assert bot_client.get("/conversations/c-1").json()["context"]["commitments"] == []
    assert not Commitment.objects.exists()


def test_advice_turns_towards_a_person_when_the_customer_asks_for_one(bot_client):
    calm = bot_client.post(turn("Hi, where can I find my invoice?", first=True)).json()["escalation_advice"]
    bot_client.post(turn("You can download it from Billing > Invoices.", role="bot"))
    bot_client.post(turn("It's not there. This is the third time I'm asking!"))
    bot_client.post(event("step", action="Resend invoice", outcome="failed"))
    upset = bot_client.post(turn("I need a human, NOW. This is ridiculous.")).json()["escalation_advice"]
    assert not calm["escalate"]
    assert upset["escalate"] and upset["score"] > calm["score"] and upset["reasons"]


def test_the_opening_names_a_detail_and_never_asks_for_it(bot_client):
    bot_client.post(
        {
            "events": [
                turn("My order 7730155 hasn't arrived and I'm really annoyed", first=True),
                turn("Sorry about that. Let me check.", role="bot"),
                event("classification", issue_type="late_delivery", complexity="medium"),
            ]
        }
    )
    opening = bot_client.get("/conversations/c-1").json()["context"]["suggested_opening"]
    assert "7730155" in opening
    assert "order number" not in opening.lower() or "?" not in opening
