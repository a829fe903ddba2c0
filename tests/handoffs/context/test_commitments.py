"""Commitment detection in bot turns, deadlines, declined offers and event/detected twins."""

from __future__ import annotations

import pytest

from handoffs.context.commitments import declined_kinds, detect, same_commitment
from handoffs.context.due import resolve_due

AT = "2026-11-20T10:00:00Z"  # a Friday


def _detected(text: str) -> list[dict]:
    return detect(text, seq=7, at=AT)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I'll refund the $23.75 to your card today.", "refund"),
        ("I've added a credit of $4.50 to your account for the missing item.", "credit"),
        ("We'll send a replacement kettle by Friday.", "replacement"),
        ("An adjuster will call you by the end of tomorrow.", "callback"),
        ("I'll email you an update as soon as I hear from the warehouse.", "follow_up"),
        ("I've updated your travel notice; it takes effect within 2 hours.", "other"),
        ("A technician will visit on 2026-11-22 between 8am and 12pm.", "other"),
        ("You'll receive a prepaid label by email within the hour.", "follow_up"),
        ("Le enviaremos una tarjeta nueva en 5-7 días hábiles.", "replacement"),
        ("Un técnico le llamará mañana entre las 9:00 y las 12:00.", "callback"),
    ],
)
def test_promises_are_detected_with_their_kind(text: str, kind: str) -> None:
    found = _detected(text)
    assert len(found) == 1
    assert found[0]["kind"] == kind
    assert found[0] | {"text": text} == found[0]
    assert (found[0]["source"], found[0]["status"], found[0]["seq"]) == ("detected", "open", 7)


@pytest.mark.parametrize(
    "text",
    [
        "What's the order number?",
        "Could you confirm the phone number on your account?",
        "Please restart your router and wait two minutes.",
        "Refunds usually take 5-7 business days.",
        "Our policy allows returns within 30 days.",
        "A refund needs approval from a supervisor.",
        "I can't promise a refund, sorry.",
        "If approved, we could offer a partial refund.",
        "I'll connect you with a Spanish-speaking colleague.",
        "Changing the licence holder needs our sales team, so I'll hand you over.",
        "Let me get a colleague to look at this.",
        "Your license allows 2 activations and both are in use. I've deactivated the oldest device.",
        "I can rebook you on the 18:40 flight or offer a full refund.",
        "The refund was issued yesterday.",
        "El cambio de tarifa le costará 5 € más al mes.",
    ],
)
def test_things_that_are_not_commitments(text: str) -> None:
    assert _detected(text) == []


@pytest.mark.parametrize(
    ("text", "promise", "kind"),
    [
        # A condition or refusal blocks only its own clause.
        (
            "I've issued the credit, but the replacement only ships if you return the old one.",
            "I've issued the credit.",
            "credit",
        ),
        (
            "I can't waive the fee, but I've added a $10 credit to your account.",
            "I've added a $10 credit to your account.",
            "credit",
        ),
        (
            "I've refunded the $40 for the lamp, but I can't refund the delivery charge.",
            "I've refunded the $40 for the lamp.",
            "refund",
        ),
        (
            "We're not able to reopen the claim; however, an adjuster will call you on Monday.",
            "An adjuster will call you on Monday.",
            "callback",
        ),
        (
            "Our courier can't do Sundays, so we'll deliver on Monday instead.",
            "We'll deliver on Monday instead.",
            "other",
        ),
        (
            "I'll call you tomorrow morning, and if the fault is on our side we may waive the fee.",
            "I'll call you tomorrow morning.",
            "callback",
        ),
        (
            "Plan changes usually take a day, but I'll email you as soon as yours is live.",
            "I'll email you as soon as yours is live.",
            "follow_up",
        ),
        (
            "No podemos reembolsar el envío, pero le enviaremos la talla correcta mañana.",
            "Le enviaremos la talla correcta mañana.",
            "replacement",
        ),
        (
            "Le he aplicado un descuento de 10 €, aunque el cambio de tarifa necesita aprobación.",
            "Le he aplicado un descuento de 10 €.",
            "credit",
        ),
        # A clause that only elaborates the promise stays with it.
        (
            "I've processed your return, and the refund of $40 goes back to your card within 5 days.",
            "I've processed your return, and the refund of $40 goes back to your card within 5 days.",
            "refund",
        ),
    ],
)
def test_judgement_is_per_clause(text: str, promise: str, kind: str) -> None:
    (found,) = _detected(text)
    assert (found["text"], found["kind"]) == (promise, kind)


@pytest.mark.parametrize(
    "text",
    [
        # "but only if …" restricts the clause before it.
        "I'll refund you, but only if you send the item back.",
        "We'll replace the router, but only once the engineer has confirmed the fault.",
        "Le enviaremos un cargador nuevo, pero solo si nos devuelve el defectuoso.",
        "I'll extend your trial by 14 days, provided you don't upgrade first.",
        # Nothing left once the blocked clauses are gone.
        "The technician might come on Monday, but I can't guarantee it.",
        "I've raised a dispute for the $200; we'll refund it within 10 business days if the bank confirms the error.",
        "I've opened a complaint, and a manager will review it if needed.",
        "I'll send a replacement today, unless you'd rather have a refund?",
    ],
)
def test_restrictions_and_refusals_keep_their_clause_from_committing(text: str) -> None:
    assert _detected(text) == []


def test_a_question_after_a_promise_does_not_undo_it() -> None:
    (found,) = _detected("I'll send a replacement today, but could you confirm the delivery address?")
    assert found["text"] == "I'll send a replacement today." and found["due"] == "2026-11-20"


def test_due_and_amount_come_from_the_committing_clause() -> None:
    (found,) = _detected("I'll call you tomorrow, but the refund of $80 may take 10 days.")
    assert (found["kind"], found["due"], found.get("amount")) == ("callback", "2026-11-21", None)


def test_each_committing_sentence_counts_once() -> None:
    found = _detected("Thanks. I've refunded $10. A courier will collect the box tomorrow. Anything else?")
    assert [c["kind"] for c in found] == ["refund", "other"]


def test_money_is_recorded_with_currency() -> None:
    (credit,) = _detected("I've applied a goodwill credit of £24.60 to your next bill.")
    assert (credit["amount"], credit["currency"]) == ("24.60", "GBP")
    (refund,) = _detected("Le hemos reembolsado 18,90 € a su tarjeta.")
    assert (refund["amount"], refund["currency"]) == ("18.90", "EUR")


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("it takes effect within 2 hours", "2026-11-20T12:00:00Z"),
        ("we will call you by the end of tomorrow", "2026-11-21"),
        ("in 3-5 business days", "2026-11-27"),
        ("within 24h", "2026-11-21T10:00:00Z"),
        ("by 5pm tomorrow", "2026-11-21T17:00:00Z"),
        ("by Friday", "2026-11-27"),
        ("on December 3", "2026-12-03"),
        ("within the hour", "2026-11-20T11:00:00Z"),
        ("en 5-7 días hábiles", "2026-12-01"),
        ("as soon as possible", None),
    ],
)
def test_deadlines_resolve_to_their_latest_bound(text: str, due: str | None) -> None:
    assert resolve_due(text, AT) == due


def test_deadline_without_a_valid_clock_is_none() -> None:
    assert resolve_due("within 2 hours", "not a time") is None


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("No thanks, just cancel it please.", set()),
        ("no, thank you", set()),
        ("I don't want a credit, I want my money back.", {"credit"}),
        ("No gracias.", set()),
        ("Yes please, go ahead.", None),
        ("No, it still hasn't arrived.", None),
    ],
)
def test_declines(text: str, kinds: set[str] | None) -> None:
    assert declined_kinds(text) == kinds


def test_twins_by_amount_kind_or_wording() -> None:
    detected = {"text": "I've added a credit of $4.50 to your account.", "kind": "credit", "due": None}
    assert same_commitment(
        {"text": "Credit for missing garlic bread", "kind": "credit", "amount": "4.50"}, detected
    )
    assert not same_commitment({"text": "Goodwill credit", "kind": "credit", "amount": "10.00"}, detected)
    assert not same_commitment({"text": "Callback from an adjuster", "kind": "callback"}, detected)
    callback = {
        "text": "An adjuster will call you by the end of tomorrow.",
        "kind": "callback",
        "due": "2026-11-21",
    }
    assert same_commitment({"text": "Adjuster callback", "kind": "other", "due": "2026-11-21"}, callback)
