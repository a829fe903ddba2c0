"""Queue priority: one documented function, used for queue order and (later) offers.

priority(t) = urgency + emotion + trend + complexity + authority + re-escalation
              + AGING_PER_SECOND × seconds waited

Waiting time ages every handoff upward at the same rate, so a calm low-urgency customer is never
starved: after 15 minutes they outrank a fresh "high" escalation. Because aging is linear and shared,
the order of a queue at any instant is the order of ``base - AGING_PER_SECOND × queued_at``; that static
number is stored as ``Handoff.queue_key`` and indexed.
"""

from dataclasses import dataclass, field
from datetime import datetime

AGING_PER_SECOND = 1 / 30  # one point per 30 s waited

URGENCY = {"low": 0.0, "normal": 10.0, "high": 25.0, "critical": 45.0}
EMOTION = {"calm": 0.0, "neutral": 0.0, "concerned": 4.0, "frustrated": 10.0, "angry": 15.0}
DETERIORATING = 5.0
COMPLEXITY = {"low": 0.0, "medium": 2.0, "high": 5.0}
AUTHORITY_NEEDED = 5.0
RE_ESCALATION = 8.0


@dataclass(frozen=True)
class Priority:
    base: float
    reasons: list[str] = field(default_factory=list)

    def at(self, *, queued_at: datetime, now: datetime) -> float:
        return self.base + AGING_PER_SECOND * max(0.0, (now - queued_at).total_seconds())

    def queue_key(self, *, queued_at: datetime) -> float:
        return self.base - AGING_PER_SECOND * queued_at.timestamp()


def handoff_priority(
    *,
    urgency: str,
    emotion: str,
    trend: str,
    complexity: str,
    reason_code: str,
    re_escalation: bool,
) -> Priority:
    parts: list[tuple[float, str]] = [
        (URGENCY.get(urgency, URGENCY["normal"]), f"urgency {urgency}"),
        (EMOTION.get(emotion, 0.0), f"customer {emotion}"),
        (DETERIORATING if trend == "deteriorating" else 0.0, "mood deteriorating"),
        (COMPLEXITY.get(complexity, 0.0), f"complexity {complexity}"),
        (AUTHORITY_NEEDED if reason_code == "authority_required" else 0.0, "needs authority"),
        (RE_ESCALATION if re_escalation else 0.0, "escalated before"),
    ]
    return Priority(
        base=sum(points for points, _ in parts),
        reasons=[reason for points, reason in parts if points > 0],
    )


# --- shift handover (issue 9) ---------------------------------------------------------------------
# When an agent leaves (end of shift, pulled into an incident) their conversations are transferred in one
# go. What makes one of them *fragile* at that moment is added to the priority it gets in its receiver's
# queue, on top of the transfer's RE_ESCALATION, so the receivers take the most critical first. Mood and
# its trend, urgency and time waited already count above and are not counted twice.
UNANSWERED = 10.0  # the customer's last message has no reply yet
COMMITMENT_OVERDUE = 12.0  # a promise past its due time (still open, or already marked broken)
COMMITMENT_DUE_SOON = 6.0  # a promise due within DUE_SOON_SECONDS
HANDED_AROUND = 5.0  # the conversation was handed over before this handoff
DUE_SOON_SECONDS = 2 * 3600


def handover_fragility(*, unanswered: bool, overdue: int, due_soon: int, earlier_handoffs: int) -> Priority:
    """The extra points (and why) for a conversation's fragility at a handover; ``base`` 0 when it is
    steady. Each signal counts once: two overdue promises are not twice as urgent as one."""
    parts: list[tuple[float, str]] = []
    if unanswered:
        parts.append((UNANSWERED, "customer's last message unanswered"))
    if overdue:
        parts.append((COMMITMENT_OVERDUE, f"{overdue} promise{'s' if overdue > 1 else ''} overdue"))
    if due_soon:
        parts.append((COMMITMENT_DUE_SOON, f"{due_soon} promise{'s' if due_soon > 1 else ''} due soon"))
    if earlier_handoffs:
        parts.append((HANDED_AROUND, f"handed over {earlier_handoffs}× before"))
    return Priority(base=sum(points for points, _ in parts), reasons=[reason for _, reason in parts])
