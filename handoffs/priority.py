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
