"""A short extractive summary for the agent: issue, details given, what was tried, what is pending, and
what the customer wants. Templates over the package, so it is instant and never invents facts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from handoffs.context.reading import (
    PRIMARY_SLOTS,
    customer_turns_backwards,
    detail_phrase,
    first_customer_text,
    issue_phrase,
    open_commitments,
    strip_greeting,
)

_MAX_CLAUSE = 140

_WANT = re.compile(
    r"""
    (?P<clause>
        \b(?:i\s+(?:want|need|would\s+like|'d\s+like|'m\s+asking)|i'd\s+like|can\s+(?:you|i|someone)|could\s+(?:you|i|someone)|
        let\s+me|please\s+(?!make\s+sure)|quiero|necesito|me\s+gustar[ií]a|puede|podr[ií]a)\b
        [^.!?]{3,}[.!?]?
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SLOT_LABELS = {
    "order_number": "order",
    "account_id": "account",
    "request_id": "ticket",
    "tracking_number": "tracking",
    "product": "product",
    "email": "email",
    "phone": "phone",
    "amount": "amount",
    "date": "date",
    "name": "name",
    "address": "address",
}
_STATE_WORDS = {"concerned": "concerned", "frustrated": "frustrated", "angry": "angry"}


def _clip(text: str, limit: int = _MAX_CLAUSE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _issue(package: dict) -> str:
    phrase = issue_phrase(package)
    if phrase:
        return phrase[0].upper() + phrase[1:]
    for sentence in re.split(r"(?<=[.!?])\s+", first_customer_text(package)):
        sentence = strip_greeting(sentence)
        if len(sentence.split()) >= 3:
            sentence = _clip(sentence).rstrip(".!")
            return sentence[0].upper() + sentence[1:]
    return ""


def _details(package: dict, issue: str) -> str:
    ordered = sorted(
        package.get("information_provided") or [],
        key=lambda i: (
            PRIMARY_SLOTS.index(i["slot"]) if i.get("slot") in PRIMARY_SLOTS else 99,
            i.get("seq", 0),
        ),
    )
    shown = [
        detail_phrase(i["slot"], i["value"])
        if i["slot"] in PRIMARY_SLOTS
        else f"{_SLOT_LABELS[i['slot']]} {i['value']}"
        for i in ordered[:4]
        if i.get("slot") in _SLOT_LABELS and str(i["value"]).lower() not in issue.lower()
    ]
    return ", ".join(shown)


def _tried(package: dict) -> str:
    steps = (package.get("steps_attempted") or [])[-3:]
    return "; ".join(
        f"{s.get('action', '')} ({s.get('outcome', 'pending')})" for s in steps if s.get("action")
    )


def _pending(package: dict) -> str:
    items = []
    for c in open_commitments(package)[-3:]:
        due = f" (due {readable_due(str(c['due']))})" if c.get("due") else ""
        items.append(f"{_clip(str(c.get('text', '')), 90).rstrip('.')}{due}")
    return "; ".join(items)


def _wants(package: dict) -> str:
    for text in customer_turns_backwards(package, 4):
        m = _WANT.search(text)
        if m:
            return _clip(m.group("clause").strip(), 110)
    return ""


def build_summary(package: dict) -> str:
    sentences = []
    issue = _issue(package)
    details = _details(package, issue)
    if issue or details:
        sentences.append(f"{issue or 'Issue'}" + (f" ({details})" if details else ""))
    tried = _tried(package)
    if tried:
        sentences.append(f"Tried: {tried}.")
    pending = _pending(package)
    if pending:
        sentences.append(f"Pending: {pending}")
    wants = _wants(package)
    if wants and wants.rstrip(".!?").lower() not in issue.lower():
        sentences.append(f'Customer asks: "{wants}"')
    emotion = package.get("emotion") or {}
    state = _STATE_WORDS.get(str(emotion.get("current")))
    if state:
        trend = emotion.get("trend")
        suffix = " and getting worse" if trend == "deteriorating" else ""
        sentences.append(f"Customer is {state}{suffix}.")
    return " ".join(s if s.endswith((".", "?", '"', "…")) else s + "." for s in sentences)


def readable_due(due: str) -> str:
    """ "2026-11-21T23:16:49.06+00:00" → "2026-11-21 23:16 UTC"; a date or free text stays as it is."""
    try:
        moment = datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        return due
    if len(due) <= 10:
        return moment.date().isoformat()
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo is not None else "")
