"""The package's structure and the updates that come straight from posted events.

Every function mutates the package dict in place and is O(1) in the transcript's length except the
append itself: ingest must never recompute the whole conversation.
"""

import copy
import os
from typing import Any

from handoffs.context import intelligence
from handoffs.context.intelligence import TurnInsights

Package = dict[str, Any]

# Off only to measure what the engines cost on ingest (make bench); the package then holds only posted facts.
ENGINES_ON = os.environ.get("WARMLINE_CONTEXT_ENGINES", "1") != "0"
NO_INSIGHTS = TurnInsights(sentiment=None, new_slots=[], new_commitments=[])


def new_package(*, customer_name: str = "", locale: str = "") -> Package:
    return {
        "escalation": {
            "reason": "",
            "reason_code": "",
            "focus": "",
            "urgency": "",
            "skills": [],
            "escalated_at": None,
        },
        "classification": {"issue_type": "", "complexity": "", "intent": "", "confidence": None},
        "summary": "",
        "emotion": {"current": "neutral", "trend": "stable", "trajectory": []},
        "information_provided": [],
        "commitments": [],
        "steps_attempted": [],
        "self_model": [],
        "suggested_opening": "",
        "transcript": [],
        "handoffs": [],
        "customer": {"name": customer_name, "locale": locale},
    }


def set_customer(package: Package, *, name: str, locale: str) -> None:
    package["customer"] = {"name": name, "locale": locale}


def add_turn(package: Package, *, seq: int, role: str, text: str, at: str) -> TurnInsights:
    package["transcript"].append({"seq": seq, "role": role, "text": text, "at": at})
    if not ENGINES_ON:
        return NO_INSIGHTS
    return intelligence.on_turn(package, seq=seq, role=role, text=text, at=at)


def add_step(package: Package, *, action: str, outcome: str, detail: str, at: str) -> None:
    package["steps_attempted"].append({"action": action, "outcome": outcome, "detail": detail, "at": at})
    intelligence.refresh_derived(package)


def add_commitment(package: Package, commitment: dict[str, Any]) -> None:
    package["commitments"].append(commitment)
    intelligence.on_commitment_event(package, commitment)


def set_classification(
    package: Package, *, issue_type: str, complexity: str, intent: str, confidence: float | None
) -> None:
    package["classification"] = {
        "issue_type": issue_type,
        "complexity": complexity,
        "intent": intent,
        "confidence": confidence,
    }
    intelligence.refresh_derived(package)


def set_escalation(
    package: Package, *, reason: str, reason_code: str, focus: str, urgency: str, skills: list[str], at: str
) -> None:
    package["escalation"] = {
        "reason": reason,
        "reason_code": reason_code,
        "focus": focus,
        "urgency": urgency,
        "skills": skills,
        "escalated_at": at,
    }
    intelligence.refresh_derived(package)


def record_handoff(package: Package, entry: dict[str, Any]) -> None:
    """Add or update this conversation's handoff record (matched by id)."""
    for existing in package["handoffs"]:
        if existing["id"] == entry["id"]:
            existing.update(entry)
            return
    package["handoffs"].append(entry)


def escalation_advice(package: Package) -> dict[str, Any]:
    return intelligence.escalation_advice(package)


def frame_of(package: Package) -> Package:
    """The package as frozen into a handoff's frame (a deep copy, so later events cannot alter it)."""
    return copy.deepcopy(package)
