"""Backtesting the escalation advice: replay conversations turn by turn and compare when the advice would
have fired with when the bot actually escalated.

Verdicts, counted in customer turns (the advice can only change on what the customer says):
- ``on time``: it first fired at the customer turn the bot escalated on, or the one before;
- ``too early``: it fired two or more customer turns before the escalation;
- ``too late``: it fired only on customer turns after the escalation point (the conversation continued);
- ``missed``: it never fired;
- ``false alarm``: it fired in a conversation that was never escalated.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from handoffs.context import package as pkg

AT = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Replay:
    name: str
    # ("customer" | "bot" | "step", text or action, outcome) in order; escalated after index ``escalate_at``
    beats: list[tuple[str, str, str]]
    escalate_at: int | None


@dataclass(frozen=True)
class Outcome:
    name: str
    verdict: str
    fired_at_customer_turn: int | None
    escalated_at_customer_turn: int | None
    reasons: list[str]


def replay(case: Replay) -> Outcome:
    package = pkg.new_package()
    customer_turns = 0
    escalated_at: int | None = None
    fired_at: int | None = None
    reasons: list[str] = []
    seq = 0
    for index, (kind, text, outcome) in enumerate(case.beats):
        if kind == "step":
            pkg.add_step(package, action=text, outcome=outcome or "failed", detail="", at=AT)
        else:
            seq += 1
            pkg.add_turn(package, seq=seq, role=kind, text=text, at=AT)
            if kind == "customer":
                customer_turns += 1
                advice = pkg.escalation_advice(package)
                if advice["escalate"] and fired_at is None:
                    fired_at, reasons = customer_turns, list(advice["reasons"])
        if case.escalate_at is not None and index == case.escalate_at:
            escalated_at = customer_turns
    return Outcome(case.name, _verdict(fired_at, escalated_at), fired_at, escalated_at, reasons)


def _verdict(fired: int | None, escalated: int | None) -> str:
    if escalated is None:
        return "false alarm" if fired is not None else "correctly quiet"
    if fired is None:
        return "missed"
    if fired > escalated:
        return "too late"
    if fired < escalated - 1:
        return "too early"
    return "on time"


def summary(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(outcome.verdict for outcome in outcomes)


def from_fixture(conversation: dict[str, Any]) -> Replay:
    """A conversation in the shared fixtures' shape: ``turns`` [[role, text]], escalated at the end when it
    has an ``escalation``."""
    beats = [(role, text, "") for role, text in conversation["turns"]]
    escalate_at = len(beats) - 1 if conversation.get("escalation") else None
    return Replay(name=conversation.get("id", "?"), beats=beats, escalate_at=escalate_at)


def from_scenario(scenario: Any) -> Replay:
    """A demo/simulator scenario: its script, the escalation, then what the customer says afterwards."""
    beats: list[tuple[str, str, str]] = []
    for event in scenario.script_events("backtest", "backtest"):
        data = event["data"]
        if event["type"] == "turn":
            beats.append((data["role"], data["text"], ""))
        elif event["type"] == "step":
            beats.append(("step", data["action"], data["outcome"]))
    escalate_at = len(beats) - 1
    after = ([scenario.while_waiting] if scenario.while_waiting else []) + list(scenario.follow_ups)
    beats.extend(("customer", text, "") for text in after)
    return Replay(name=scenario.key, beats=beats, escalate_at=escalate_at)
