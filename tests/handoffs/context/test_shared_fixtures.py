"""The shared sample conversations (../shared/fixtures/conversations.json) replayed through the engines."""

from __future__ import annotations

import json

import pytest

from tests.handoffs.context.replaying import (
    SHARED_FIXTURES,
    allowed_trends,
    bot_turn_seqs,
    replay,
    same_value,
)

CASES = json.loads(SHARED_FIXTURES.read_text()) if SHARED_FIXTURES.exists() else []
pytestmark = pytest.mark.skipif(not CASES, reason=f"shared fixtures not found at {SHARED_FIXTURES}")


def _ids(cases: list[dict]) -> list[str]:
    return [case["id"] for case in cases]


@pytest.fixture(scope="module")
def packages() -> dict[str, dict]:
    return {case["id"]: replay(case) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_required_slots_are_found(case: dict, packages: dict[str, dict]) -> None:
    found = [(i["slot"], i["value"]) for i in packages[case["id"]]["information_provided"]]
    for slot, value in case["expect"].get("slots", []):
        assert any(s == slot and same_value(slot, value, v) for s, v in found), (slot, value, found)
    any_of = case["expect"].get("slots_any", [])
    if any_of:
        assert any(any(s == slot and same_value(slot, value, v) for s, v in found) for slot, value in any_of)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_values_keep_their_natural_form(case: dict, packages: dict[str, dict]) -> None:
    found = {(i["slot"], i["value"]) for i in packages[case["id"]]["information_provided"]}
    for slot, value in case["expect"].get("slots", []):
        assert (slot, value) in found


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_expected_commitments_and_no_others(case: dict, packages: dict[str, dict]) -> None:
    detected = [c for c in packages[case["id"]]["commitments"] if c["source"] == "detected"]
    expected = case["expect"].get("commitments", [])
    assert len(detected) == len(expected), [c["text"] for c in detected]
    for spec in expected:
        assert any(all(k.lower() in c["text"].lower() for k in spec["keywords"]) for c in detected), spec


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_bot_turns_without_commitments(case: dict, packages: dict[str, dict]) -> None:
    seqs = bot_turn_seqs(case)
    committed = {c["seq"] for c in packages[case["id"]]["commitments"]}
    for index in case["expect"].get("no_commitment_bot_turns", []):
        assert seqs[index] not in committed


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_emotion_trend_and_current(case: dict, packages: dict[str, dict]) -> None:
    emotion = packages[case["id"]]["emotion"]
    assert emotion["trend"] in allowed_trends(case["expect"]["trend"])
    negative = emotion["current"] in ("concerned", "frustrated", "angry")
    assert negative == case["expect"]["current_negative"], emotion["current"]
    customer_turns = sum(1 for role, _ in case["turns"] if role == "customer")
    assert len(emotion["trajectory"]) == customer_turns


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_opening_is_specific_and_asks_nothing(case: dict, packages: dict[str, dict]) -> None:
    package = packages[case["id"]]
    opening = package["suggested_opening"]
    assert "?" not in opening
    assert case["customer"]["name"].split()[0] in opening
    primary = [v for s, v in case["expect"].get("slots", []) if s in ("order_number", "account_id")]
    for value in primary:
        assert value in opening


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_opening_language_follows_the_customer(case: dict, packages: dict[str, dict]) -> None:
    opening = packages[case["id"]]["suggested_opening"]
    if case["customer"].get("locale") == "es":
        assert opening.startswith("Hola")
    else:
        assert opening.startswith("Hi")


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_summary_names_the_given_details(case: dict, packages: dict[str, dict]) -> None:
    summary = packages[case["id"]]["summary"]
    assert summary
    for slot, value in case["expect"].get("slots", []):
        assert value in summary, (slot, value, summary)
