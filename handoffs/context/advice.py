"""Should a human take over now? A transparent additive score with named reasons.

Signals push towards a handoff (explicit request, frustration and its trend, repeated failures, a
decision the bot has no authority for, high complexity); progress pulls back (a transfer would throw
away a nearly finished fix), and frustration that is only about waiting counts for less, because a
queue for a human adds more waiting.
"""

from __future__ import annotations

import re

from handoffs.context.reading import customer_turns_backwards

# Advise escalation at or above this score. 0.5 means: one strong signal (an explicit request for a
# person, authority needed plus some frustration) or two moderate ones together.
ESCALATE_THRESHOLD = 0.5

_HUMAN_REQUEST = re.compile(
    r"""
    \b(?:speak|talk|chat)\s+(?:to|with)\s+(?:a|an|the|your|some)?\s*(?:real\s+|actual\s+|live\s+)?
        (?:human|person|agent|representative|rep|manager|supervisor|someone|somebody)\b
    | \b(?:real|actual|live)\s+(?:person|human|agent)\b
    | \b(?:need|want|get\s+me|give\s+me|transfer\s+me\s+to|put\s+me\s+through\s+to)\s+(?:a|an|the|to\s+a)?\s*
        (?:human|person|agent|manager|supervisor|representative)\b
    | \bhablar\s+con\s+(?:una\s+persona|alguien|un\s+humano|un\s+agente|un\s+supervisor|un\s+responsable)\b
    | \b(?:una\s+persona\s+real|un\s+humano|un\s+agente)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_AUTHORITY = re.compile(
    r"""
    \b(?:refund\s+exception|exception|approval|approve[ds]?|authori[sz]ation|authori[sz]e|supervisor|manager|
    override|escalat\w+|compensation|waive\w*|goodwill|aprobaci[oó]n|supervisor|responsable|excepci[oó]n)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_BOT_LIMIT = re.compile(
    r"\b(?:I|we)\s+(?:can'?t|cannot|am\s+not\s+able\s+to|'m\s+not\s+able\s+to|am\s+unable\s+to|'m\s+unable\s+to)\b"
    r"|\bneeds?\s+(?:\w+\s+){0,3}approval\b|\bno\s+(?:puedo|podemos)\b",
    re.IGNORECASE,
)
_WAITING = re.compile(
    r"\b(?:wait(?:ing|ed)?|how\s+(?:much\s+)?long(?:er)?|taking\s+(?:so\s+)?long|where\s+is|still\s+hasn'?t\s+"
    r"(?:arrived|come)|eta|esperando|cu[aá]nto\s+(?:tiempo|falta|tarda))\b",
    re.IGNORECASE,
)
_FRUSTRATION_WEIGHT = {"calm": 0.0, "neutral": 0.0, "concerned": 0.1, "frustrated": 0.25, "angry": 0.35}


def _recent_bot_texts(package: dict, limit: int) -> list[str]:
    texts = []
    for entry in reversed(package.get("transcript") or []):
        if entry.get("role") == "bot":
            texts.append(str(entry.get("text", "")))
            if len(texts) >= limit:
                break
    return texts


def _failures(steps: list[dict]) -> tuple[int, bool]:
    """(failed steps, whether one action failed more than once)."""
    failed = [str(s.get("action", "")).lower() for s in steps if s.get("outcome") == "failed"]
    return len(failed), len(failed) != len(set(failed))


def _nearly_resolved(package: dict) -> bool:
    steps = (package.get("steps_attempted") or [])[-2:]
    trajectory = (package.get("emotion") or {}).get("trajectory") or []
    last_score = trajectory[-1]["score"] if trajectory else 0.0
    return any(s.get("outcome") == "succeeded" for s in steps) and last_score > 0.2


def escalation_advice(package: dict) -> dict:
    score = 0.0
    reasons: list[str] = []
    customer_recent = list(customer_turns_backwards(package, 3))
    customer_text = " ".join(customer_recent)
    emotion = package.get("emotion") or {}

    if _HUMAN_REQUEST.search(customer_text):
        score += 0.55
        reasons.append("customer asked for a person")

    frustration = _FRUSTRATION_WEIGHT.get(str(emotion.get("current")), 0.0)
    if emotion.get("trend") == "deteriorating":
        frustration += 0.15
    waiting_only = bool(frustration) and bool(_WAITING.search(customer_text))
    steps = package.get("steps_attempted") or []
    failed, repeated = _failures(steps)
    bot_text = " ".join(_recent_bot_texts(package, 3))
    authority = bool(_AUTHORITY.search(customer_text) or _BOT_LIMIT.search(bot_text)) or (
        (package.get("escalation") or {}).get("reason_code") == "authority_required"
    )
    if waiting_only and not (failed or authority):
        frustration /= 2
    if frustration:
        score += frustration
        state = f"customer is {emotion.get('current')}"
        if emotion.get("trend") == "deteriorating":
            state += " and getting worse"
        reasons.append(state + (" (about waiting)" if waiting_only and not (failed or authority) else ""))

    if repeated or failed >= 2:
        score += 0.3
        reasons.append(f"{failed} failed steps" + (", the same action failed twice" if repeated else ""))
    elif failed == 1:
        score += 0.1
        reasons.append("a step failed")

    if authority:
        score += 0.3
        reasons.append("needs a decision beyond the bot's authority")

    complexity = (package.get("classification") or {}).get("complexity")
    if complexity == "high":
        score += 0.25
        reasons.append("high complexity")
    elif complexity == "medium":
        score += 0.1

    if _nearly_resolved(package):
        score *= 0.4
        reasons.append("nearly resolved: a transfer now would lose the progress")

    score = round(min(1.0, max(0.0, score)), 2)
    if not reasons:
        reasons.append("no signal for a handoff")
    return {"escalate": score >= ESCALATE_THRESHOLD, "score": score, "reasons": reasons}
