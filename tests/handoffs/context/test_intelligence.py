"""The public API as package.py uses it: on_turn, on_commitment_event, refresh_derived, escalation_advice."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from handoffs.context.intelligence import (
    ESCALATE_THRESHOLD,
    TurnInsights,
    escalation_advice,
    on_commitment_event,
    on_turn,
    refresh_derived,
)
from tests.handoffs.context.replaying import add_turn, empty_package, load_labelled, replay


def _conversation(*turns: tuple[str, str], name: str = "Dana Reyes", locale: str = "en") -> dict:
    package = empty_package({"name": name, "locale": locale})
    for role, text in turns:
        add_turn(package, role, text)
    return package


def test_customer_turn_reports_sentiment_and_slots() -> None:
    # given
    package = empty_package({"name": "Dana Reyes"})
    # when
    insights = add_turn(package, "customer", "My order #KX-48213 never arrived, this is the third time!")
    # then
    assert isinstance(insights, TurnInsights)
    assert insights.sentiment is not None and insights.sentiment < -0.3
    assert insights.new_slots == [{"slot": "order_number", "value": "KX-48213", "seq": 1}]
    assert package["emotion"]["trajectory"] == [
        {"seq": 1, "at": package["transcript"][0]["at"], "score": insights.sentiment}
    ]
    assert insights.new_commitments == []


def test_bot_turn_has_no_sentiment_and_adds_no_trajectory_point() -> None:
    package = _conversation(("customer", "Hi"))
    insights = add_turn(package, "bot", "I'll refund the $12 to your card within 3 business days.")
    assert insights.sentiment is None
    assert len(package["emotion"]["trajectory"]) == 1
    assert [c["kind"] for c in insights.new_commitments] == ["refund"]
    assert package["commitments"] == insights.new_commitments


def test_slots_are_deduplicated_keeping_the_first_seq() -> None:
    package = _conversation(
        ("customer", "Order #FD-20931 is missing a drink."),
        ("bot", "Thanks, I see order FD-20931."),
        ("customer", "Yes, fd-20931, the one from yesterday."),
    )
    orders = [i for i in package["information_provided"] if i["slot"] == "order_number"]
    assert orders == [{"slot": "order_number", "value": "FD-20931", "seq": 1}]


def test_an_offer_conditional_on_the_customer_is_not_a_commitment() -> None:
    package = _conversation(
        ("customer", "I'd like to cancel my subscription."),
        ("bot", "I can offer you a $10 credit if you stay another month."),
    )
    assert package["commitments"] == []


def test_a_declined_offer_is_dropped() -> None:
    package = _conversation(
        ("customer", "I'd like to cancel my subscription."),
        ("bot", "I can offer you a $10 credit on your next bill."),
    )
    assert len(package["commitments"]) == 1
    add_turn(package, "customer", "No thanks, just cancel it.")
    assert package["commitments"] == []


def test_a_decline_only_drops_the_kind_it_names() -> None:
    package = _conversation(
        ("customer", "The parcel never came."),
        ("bot", "I'll send a replacement today. I've also added a $5 credit to your account."),
    )
    add_turn(package, "customer", "I don't want the credit, just the replacement.")
    assert [c["kind"] for c in package["commitments"]] == ["replacement"]


def test_decline_does_not_touch_event_commitments_or_older_turns() -> None:
    package = _conversation(("customer", "Hi"), ("bot", "I've added a $5 credit to your account."))
    package["commitments"].append(
        {"text": "Callback", "kind": "callback", "due": None, "seq": 2, "source": "event", "status": "open"}
    )
    add_turn(package, "bot", "Is there anything else?")
    add_turn(package, "customer", "No thanks.")
    assert len(package["commitments"]) == 2


def test_posted_event_replaces_its_detected_twin() -> None:
    # given a detected credit
    package = _conversation(
        ("customer", "Missing fries."), ("bot", "I've added a credit of $4.50 to your account.")
    )
    # when the bot posts the same credit as an event
    event = {"text": "Credit for missing fries", "kind": "credit", "due": None, "seq": 3, "source": "event",
             "status": "open", "amount": "4.50", "currency": "USD"}  # fmt: skip
    package["commitments"].append(event)
    on_commitment_event(package, event)
    # then one commitment remains, the event's
    assert package["commitments"] == [event]


def test_posted_event_keeps_unrelated_detected_commitments() -> None:
    package = _conversation(("customer", "Late again."), ("bot", "An agent will call you tomorrow."))
    event = {"text": "Refund delivery fee", "kind": "refund", "due": None, "seq": 3, "source": "event", "status": "open",
             "amount": "2.99"}  # fmt: skip
    package["commitments"].append(event)
    on_commitment_event(package, event)
    assert [c["source"] for c in package["commitments"]] == ["detected", "event"]


def test_detected_twin_of_an_earlier_event_is_not_added() -> None:
    package = _conversation(("customer", "Missing fries."))
    package["commitments"].append({"text": "Credit $4.50", "kind": "credit", "due": None, "seq": 1, "source": "event",
                                   "status": "open", "amount": "4.50"})  # fmt: skip
    insights = add_turn(package, "bot", "I've added a credit of $4.50 to your account.")
    assert insights.new_commitments == []
    assert len(package["commitments"]) == 1


def test_refresh_derived_uses_classification_and_steps() -> None:
    package = _conversation(("customer", "My router keeps dropping, account ACC-12345."))
    package["classification"].update({"issue_type": "connectivity_drop", "complexity": "medium"})
    package["steps_attempted"].append(
        {"action": "remote line reset", "outcome": "failed", "detail": "", "at": "x"}
    )
    refresh_derived(package)
    assert package["summary"].startswith("Connectivity drop")
    assert "remote line reset (failed)" in package["summary"]
    assert "connectivity drop" in package["suggested_opening"]
    assert "ACC-12345" in package["suggested_opening"]


def test_opening_never_asks_and_acknowledges_frustration() -> None:
    package = _conversation(
        ("customer", "My card was charged twice, $19.99."),
        ("bot", "What's the email on the account?"),
        ("customer", "dana@example.com. This is the second time this happens, ridiculous."),
    )
    opening = package["suggested_opening"]
    assert opening.startswith("Hi Dana, I'm sorry this has happened again.")
    assert "?" not in opening
    assert "email" not in opening.lower()


def test_opening_in_spanish_for_spanish_speakers_without_locale() -> None:
    package = _conversation(
        ("customer", "Hola, mi pedido 55-1290 no ha llegado todavía."), name="Pablo Ortega", locale=""
    )
    assert package["suggested_opening"].startswith("Hola Pablo")
    assert "55-1290" in package["suggested_opening"]


def test_escalation_advice_for_an_explicit_request_and_frustration() -> None:
    package = _conversation(
        ("customer", "The app crashed again and I lost my work."),
        ("bot", "Please reinstall the app."),
        ("customer", "I did, twice. Still not working. I want to talk to a real person."),
    )
    advice = escalation_advice(package)
    assert advice["escalate"] is True
    assert advice["score"] >= ESCALATE_THRESHOLD
    assert "customer asked for a person" in advice["reasons"]


def test_no_escalation_when_nearly_resolved() -> None:
    package = _conversation(
        ("customer", "I can't log in."),
        ("bot", "I've reset your password, try the link I emailed."),
        ("customer", "That worked, thanks so much!"),
    )
    package["steps_attempted"].append(
        {"action": "password reset", "outcome": "succeeded", "detail": "", "at": "x"}
    )
    package["classification"]["complexity"] = "high"
    advice = escalation_advice(package)
    assert advice["escalate"] is False
    assert any("nearly resolved" in r for r in advice["reasons"])


def test_waiting_only_frustration_counts_for_less() -> None:
    waiting = _conversation(
        ("customer", "Where is my food?? I've been waiting over an hour, this is ridiculous.")
    )
    failing = _conversation(("customer", "The payment failed again, this is ridiculous."))
    failing["steps_attempted"].append(
        {"action": "retry payment", "outcome": "failed", "detail": "", "at": "x"}
    )
    assert escalation_advice(waiting)["score"] < escalation_advice(failing)["score"]
    assert escalation_advice(waiting)["escalate"] is False


def test_repeated_failures_and_authority_escalate() -> None:
    package = _conversation(("customer", "I need a refund exception, the item was faulty."))
    for _ in range(2):
        package["steps_attempted"].append({"action": "refund", "outcome": "failed", "detail": "", "at": "x"})
    advice = escalation_advice(package)
    assert advice["escalate"] is True
    assert any("failed" in r for r in advice["reasons"])
    assert any("authority" in r for r in advice["reasons"])


def test_calm_conversation_is_not_escalated() -> None:
    advice = escalation_advice(_conversation(("customer", "Hi! How do I change my email address?")))
    assert advice == {"escalate": False, "score": 0.0, "reasons": ["no signal for a handoff"]}


def test_engines_are_deterministic() -> None:
    case = load_labelled("dev.json")[0]
    assert replay(copy.deepcopy(case)) == replay(copy.deepcopy(case))


def test_missing_optional_keys_are_tolerated() -> None:
    package = {
        "transcript": [
            {"seq": 1, "role": "customer", "text": "order 123456 is late", "at": "2026-11-20T10:00:00Z"}
        ]
    }
    on_turn(package, seq=1, role="customer", text="order 123456 is late", at="2026-11-20T10:00:00Z")
    assert package["information_provided"][0]["value"] == "123456"
    assert package["suggested_opening"].startswith("Hi,")
    assert escalation_advice(package)["escalate"] is False


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["customer", "bot", "agent", "system"]), st.text(max_size=200)), max_size=8
    )
)
def test_any_conversation_keeps_the_package_well_formed(turns: list[tuple[str, str]]) -> None:
    package = _conversation(*turns)
    emotion = package["emotion"]
    assert emotion["current"] in ("calm", "neutral", "concerned", "frustrated", "angry")
    assert emotion["trend"] in ("improving", "stable", "deteriorating")
    assert all(-1 <= p["score"] <= 1 for p in emotion["trajectory"])
    assert all(
        c["kind"] in ("refund", "credit", "replacement", "callback", "follow_up", "other")
        for c in package["commitments"]
    )
    assert "?" not in package["suggested_opening"].replace("¿", "")
    advice = escalation_advice(package)
    assert 0 <= advice["score"] <= 1 and advice["reasons"]
