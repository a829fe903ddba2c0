"""The local, deterministic engines that keep the live context package current on every event.

package.py (the caller) appends the raw facts (transcript entries, steps, classification, escalation,
posted commitments); these functions derive the rest in place: the emotion state, the details the
customer gave, the commitments the bot made in its own words, the summary and the opening line. Pure
Python, no I/O: they run inside the ingest transaction, so each call must stay well under a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

from handoffs.context import commitments as commitment_rules
from handoffs.context import sentiment, slots
from handoffs.context.advice import ESCALATE_THRESHOLD, escalation_advice
from handoffs.context.opening import build_opening
from handoffs.context.summary import build_summary

__all__ = [
    "ESCALATE_THRESHOLD",
    "TurnInsights",
    "escalation_advice",
    "on_commitment_event",
    "on_turn",
    "refresh_derived",
]

# Slots whose values are identifiers: the same code under two slot names is still one detail.
_IDENTIFIER_SLOTS = frozenset({"order_number", "account_id", "request_id", "tracking_number"})


@dataclass(frozen=True)
class TurnInsights:
    sentiment: float | None
    new_slots: list[dict]
    new_commitments: list[dict]


def on_turn(package: dict, *, seq: int, role: str, text: str, at: str) -> TurnInsights:
    """Derive what one turn (already appended to the transcript) changes in the package."""
    score: float | None = None
    if role == "customer":
        previous = _previous_speaker_text(package, seq)
        reply_to = previous[1] if previous and previous[0] in ("bot", "agent") else ""
        locale = str((package.get("customer") or {}).get("locale") or "")
        score = sentiment.score_text(text, reply_to=reply_to, locale=locale)
        _record_emotion(package, seq=seq, at=at, score=score)
        _drop_declined(package, seq=seq, text=text)
    new_slots = _record_slots(package, seq=seq, role=role, text=text)
    new_commitments = _record_commitments(package, seq=seq, text=text, at=at) if role == "bot" else []
    refresh_derived(package)
    return TurnInsights(sentiment=score, new_slots=new_slots, new_commitments=new_commitments)


def on_commitment_event(package: dict, commitment: dict) -> None:
    """A posted commitment supersedes the detected twin of the same promise (one promise, one entry)."""
    existing = package.setdefault("commitments", [])
    detected = [c for c in existing if c is not commitment and c.get("source") == "detected"]
    twin = commitment_rules.find_twin(commitment, detected)
    if twin is not None:
        existing.remove(twin)
    refresh_derived(package)


def refresh_derived(package: dict) -> None:
    """Recompute the text an agent reads first from the package alone."""
    package["summary"] = build_summary(package)
    package["suggested_opening"] = build_opening(package)


# --- emotion ---------------------------------------------------------------------------------------


def _record_emotion(package: dict, *, seq: int, at: str, score: float) -> None:
    emotion = package.setdefault("emotion", {"current": "neutral", "trend": "stable", "trajectory": []})
    trajectory = emotion.setdefault("trajectory", [])
    trajectory.append({"seq": seq, "at": at, "score": score})
    scores = [point["score"] for point in trajectory]
    emotion["current"] = sentiment.current_state(scores)
    emotion["trend"] = sentiment.trend(scores)


# --- information provided --------------------------------------------------------------------------


def _previous_speaker_text(package: dict, seq: int) -> tuple[str, str] | None:
    """(role, text) of the turn before this one, skipping system notes."""
    for entry in reversed(package.get("transcript") or []):
        if entry.get("seq") == seq or entry.get("role") == "system":
            continue
        return str(entry.get("role")), str(entry.get("text", ""))
    return None


def _record_slots(package: dict, *, seq: int, role: str, text: str) -> list[dict]:
    asked: tuple[str, ...] = ()
    if role == "customer":
        previous = _previous_speaker_text(package, seq)
        if previous and previous[0] in ("bot", "agent"):
            asked = slots.asked_slots(previous[1])
    # A human agent echoing a detail confirms it just as a bot does.
    extract_role = "bot" if role == "agent" else role
    found = slots.extract(text, role=extract_role, asked=asked)
    if not found:
        return []
    provided = package.setdefault("information_provided", [])
    seen = {(item["slot"], slots.normalise(item["slot"], item["value"])) for item in provided}
    seen_ids = {norm for slot, norm in seen if slot in _IDENTIFIER_SLOTS}
    added: list[dict] = []
    for item in found:
        norm = slots.normalise(item.slot, item.value)
        if (item.slot, norm) in seen or (item.slot in _IDENTIFIER_SLOTS and norm in seen_ids):
            continue
        seen.add((item.slot, norm))
        if item.slot in _IDENTIFIER_SLOTS:
            seen_ids.add(norm)
        entry = {"slot": item.slot, "value": item.value, "seq": seq}
        provided.append(entry)
        added.append(entry)
    return added


# --- commitments -----------------------------------------------------------------------------------


def _record_commitments(package: dict, *, seq: int, text: str, at: str) -> list[dict]:
    existing = package.setdefault("commitments", [])
    added: list[dict] = []
    for commitment in commitment_rules.detect(text, seq=seq, at=at):
        # The bot may have posted the same promise as an event before saying it: keep the event.
        events = [c for c in existing if c.get("source") == "event"]
        if commitment_rules.find_twin(commitment, events) is not None:
            continue
        existing.append(commitment)
        added.append(commitment)
    return added


def _drop_declined(package: dict, *, seq: int, text: str) -> None:
    """An offer the customer turns down right away was never a commitment."""
    declined = commitment_rules.declined_kinds(text)
    if declined is None:
        return
    last_bot_seq = next(
        (
            e.get("seq")
            for e in reversed(package.get("transcript") or [])
            if e.get("role") == "bot" and e.get("seq", -1) < seq
        ),
        None,
    )
    if last_bot_seq is None:
        return
    package["commitments"] = [
        c
        for c in package.get("commitments") or []
        if not (
            c.get("source") == "detected"
            and c.get("seq") == last_bot_seq
            and c.get("status", "open") == "open"
            and (not declined or c.get("kind") in declined)
        )
    ]
