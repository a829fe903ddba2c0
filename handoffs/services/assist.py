"""AI assistance after the handoff: articles, suggested replies, mood alerts and the commitment tracker.

Celery runs ``assist_for_turn`` after each customer turn or agent message of a handed-off conversation
(see handoffs.tasks). Each item is written once per handoff, kind and triggering message (a unique
constraint), so a task that runs twice, or is killed and redelivered, pushes nothing new. Results for a
handoff that has ended are dropped.
"""

import re
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs import knowledge
from handoffs.assist import replies
from handoffs.broadcast import broadcast_on_commit, conversation_group
from handoffs.clock import iso
from handoffs.errors import Conflict, InvalidInput, NotFound
from handoffs.models import (
    NOT_IN_OVERLAP_WINDOW,
    AgentProfile,
    AssistItem,
    Commitment,
    Conversation,
    Handoff,
    HandoffStatus,
    Turn,
)
from handoffs.selectors import handoff_id_for_agent

# After the handoff, a customer whose last score fell this far below their first one since connecting
# (and is negative) is worth an alert; so is a package trend of "deteriorating" with a clearly negative turn.
MOOD_DROP = 0.35
KB_CITE_SCORE = 0.1
MOOD_NEGATIVE = -0.25


def _open_handoff(conversation_id: Any) -> Handoff | None:
    return (
        Handoff.objects.select_related("conversation__customer")
        .filter(
            NOT_IN_OVERLAP_WINDOW,  # a receiver still reading in is not the one answering yet
            conversation_id=conversation_id,
            status__in=[HandoffStatus.PREPARING, HandoffStatus.CONNECTED],
        )
        .first()
    )


def assist_for_turn(*, turn_id: int) -> list[AssistItem]:
    """Compute and push what one new message calls for; [] when the handoff has ended or nothing is new."""
    turn = Turn.objects.select_related("conversation").filter(pk=turn_id).first()
    if turn is None:
        return []
    handoff = _open_handoff(turn.conversation_id)
    if handoff is None:
        return []  # ended (resolved, transferred, returned) since the message arrived: nobody needs it
    package = handoff.conversation.context
    proposals: list[tuple[str, str, dict[str, Any]]] = []
    if turn.role == "customer":
        articles = knowledge.kb_search(
            query=_query(turn.text, package), language=_language(handoff.conversation), limit=3
        )
        if articles:
            proposals.append(
                (AssistItem.Kind.KB_ARTICLE, f"turn:{turn.seq}", {"articles": articles, "seq": turn.seq})
            )
        # A reply cites an article only when it clearly matches; the panel still lists the weaker ones.
        strong = [article for article in articles if article["score"] >= KB_CITE_SCORE]
        suggestions = replies.suggest_replies(package=package, articles=strong, last_customer_text=turn.text)
        if suggestions:
            proposals.append(
                (
                    AssistItem.Kind.REPLY_SUGGESTION,
                    f"turn:{turn.seq}",
                    {"replies": suggestions, "seq": turn.seq},
                )
            )
        alert = _mood_alert(handoff, package)
        if alert is not None:
            proposals.append((AssistItem.Kind.MOOD_ALERT, f"turn:{turn.seq}", alert))
    elif turn.role == "agent":
        for commitment in _fulfilled_by(turn, handoff.conversation):
            update = _set_commitment_status(commitment, Commitment.Status.KEPT, by="detected", seq=turn.seq)
            proposals.append((AssistItem.Kind.COMMITMENT_UPDATE, f"turn:{turn.seq}:{commitment.pk}", update))
    return _record(handoff, proposals)


def _record(handoff: Handoff, proposals: list[tuple[str, str, dict[str, Any]]]) -> list[AssistItem]:
    created: list[AssistItem] = []
    for kind, key, payload in proposals:
        try:
            with transaction.atomic():
                item, was_created = AssistItem.objects.get_or_create(
                    handoff=handoff, kind=kind, dedupe_key=key, defaults={"payload": payload}
                )
        except IntegrityError:  # a twin task won the race between get and create
            continue
        if was_created:
            created.append(item)
            broadcast_on_commit(
                conversation_group(handoff.conversation_id),
                {"type": "assist.created", "handoff_id": str(handoff.id), "item_id": item.pk},
            )
    return created


def _query(text: str, package: dict[str, Any]) -> str:
    issue = package["classification"].get("issue_type") or ""
    return f"{text} {issue.replace('_', ' ')}".strip()


def _language(conversation: Conversation) -> str:
    locale = conversation.context.get("customer", {}).get("locale") or conversation.customer.locale or "en"
    return locale[:2].lower()


def _mood_alert(handoff: Handoff, package: dict[str, Any]) -> dict[str, Any] | None:
    """An alert when the customer's mood has fallen since the person connected, with the turns that show it."""
    if handoff.connected_at is None:
        return None
    since = iso(handoff.connected_at)
    points = [point for point in package["emotion"]["trajectory"] if point["at"] >= since]
    if len(points) < 2:
        return None
    first, last = points[0]["score"], points[-1]["score"]
    falling = last <= first - MOOD_DROP and last < MOOD_NEGATIVE
    souring = package["emotion"]["trend"] == "deteriorating" and last < MOOD_NEGATIVE
    if not (falling or souring):
        return None
    texts = {turn["seq"]: turn["text"] for turn in package["transcript"]}
    return {
        "message": "The customer's mood is getting worse since you connected.",
        "current": package["emotion"]["current"],
        "turns": [
            {
                "seq": point["seq"],
                "score": round(point["score"], 2),
                "text": texts.get(point["seq"], "")[:300],
            }
            for point in points[-3:]
        ],
    }


# --- the commitment tracker -----------------------------------------------------------------------

_DONE = re.compile(
    r"\b(i(?:'ve| have)|we(?:'ve| have)|has been|have been|it's been|is now|are now|he|hemos|ya)\s+"
    r"(?:\w+\s+){0,2}?"
    r"(processed|issued|sent|refunded|credited|applied|arranged|booked|scheduled|shipped|dispatched|"
    r"procesado|emitido|enviado|reembolsado|abonado|programado|aplicado)\b",
    re.IGNORECASE,
)
_KIND_WORDS = {
    "refund": r"refund|reembols|money back",
    "credit": r"credit|crédito|abono|voucher",
    "replacement": r"replace|replacement|new one|reship|reenv|sustitu",
    "callback": r"call(?:back| you)|llamad|llamar",
    "follow_up": r"follow|email|e-mail|correo|update",
}


def _fulfilled_by(turn: Turn, conversation: Conversation) -> list[Commitment]:
    """Open commitments an agent's message says are done ("I've processed your refund")."""
    if not _DONE.search(turn.text):
        return []
    open_ones = Commitment.objects.filter(conversation=conversation, status=Commitment.Status.OPEN)
    return [
        commitment
        for commitment in open_ones
        if (words := _KIND_WORDS.get(commitment.kind)) and re.search(words, turn.text, re.IGNORECASE)
    ]


def _set_commitment_status(
    commitment: Commitment, status: str, *, by: str, seq: int | None = None
) -> dict[str, Any]:
    """Change a commitment's status on its row and in the package (matched by source, seq and text)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(no_key=True).get(pk=commitment.conversation_id)
        commitment.status = status
        commitment.save(update_fields=["status", "updated_at"])
        for item in conversation.context["commitments"]:
            if (item.get("source"), item.get("seq"), item.get("text")) == (
                commitment.source,
                commitment.seq,
                commitment.text,
            ):
                item["status"] = status
        conversation.save(update_fields=["context", "updated_at"])
    return {"commitment_id": commitment.pk, "text": commitment.text, "status": status, "by": by, "seq": seq}


def commitment_mark(
    *, handoff_id: str, agent: AgentProfile, commitment_id: int, status: str
) -> dict[str, Any]:
    """The agent marks a commitment kept (or broken) from the tracker."""
    if status not in (Commitment.Status.KEPT, Commitment.Status.BROKEN, Commitment.Status.OPEN):
        raise InvalidInput(
            "A commitment is open, kept or broken.", errors=[{"loc": ["body", "status"], "msg": "invalid"}]
        )
    pk = handoff_id_for_agent(agent=agent, handoff_id=handoff_id)
    handoff = Handoff.objects.get(pk=pk)
    if handoff.agent_id != agent.user_id:
        raise Conflict(
            "Only the person who claimed this handoff can update its commitments.", code="not_your_handoff"
        )
    commitment = Commitment.objects.filter(pk=commitment_id, conversation_id=handoff.conversation_id).first()
    if commitment is None:
        raise NotFound("No such commitment in this conversation.")
    update = _set_commitment_status(commitment, status, by=agent.user.get_username())
    _record(
        handoff,
        [
            (
                AssistItem.Kind.COMMITMENT_UPDATE,
                f"manual:{commitment.pk}:{status}:{timezone.now().timestamp()}",
                update,
            )
        ],
    )
    return update


def commitments_mark_overdue(*, now: datetime | None = None) -> int:
    """Open commitments past their due time are broken (beat task); the package follows."""
    overdue = Commitment.objects.filter(status=Commitment.Status.OPEN, due_at__lt=now or timezone.now())
    count = 0
    for commitment in overdue[:500]:
        _set_commitment_status(commitment, Commitment.Status.BROKEN, by="overdue")
        count += 1
    return count


def assist_items_for(handoff: Handoff, *, limit: int = 30) -> list[dict[str, Any]]:
    """The handoff's assist items, newest first, as the agent API and the panel show them."""
    return [
        {"id": item.pk, "kind": item.kind, "created_at": iso(item.created_at), **item.payload}
        for item in handoff.assist_items.filter(dismissed=False)[:limit]
    ]
