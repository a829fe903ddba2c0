"""Adding a turn to a conversation: one path for bot, customer, agent and system turns.

The caller holds the conversation's row lock and saves the conversation afterwards (``last_seq`` and the
context package change here).
"""

from datetime import UTC, datetime
from typing import Any

from handoffs.clock import iso
from handoffs.context import package as pkg
from handoffs.models import Commitment, Conversation, Handoff, ProvidedInfo, Turn, TurnRole
from handoffs.selectors import person_name
from handoffs.services.report_columns import sentiment_sides_refresh


def turn_add(
    conversation: Conversation,
    *,
    role: str,
    text: str,
    at: datetime,
    external_id: str = "",
    author: Any = None,
    handoff: Any = None,
) -> Turn | None:
    """Append a turn and update the package incrementally; None when ``external_id`` was seen before."""
    if external_id and Turn.objects.filter(conversation=conversation, external_id=external_id).exists():
        return None  # a re-sent message already delivered
    conversation.last_seq += 1
    seq = conversation.last_seq
    before = commitment_keys(conversation)
    insights = pkg.add_turn(conversation.context, seq=seq, role=role, text=text, at=iso(at))
    forget_dropped_commitments(conversation, before)
    turn = Turn.objects.create(
        conversation=conversation,
        seq=seq,
        role=role,
        text=text,
        sentiment=insights.sentiment,
        external_id=external_id,
        author=author,
        handoff=handoff,
        occurred_at=at,
    )
    if role == TurnRole.CUSTOMER and turn.sentiment is not None:
        # A scored customer turn counts before every later handoff of the conversation and after the
        # connect of every earlier one (transfers and re-escalations included): refresh them all.
        sentiment_sides_refresh(Handoff.objects.filter(conversation_id=conversation.pk))
    if insights.new_slots:
        ProvidedInfo.objects.bulk_create(
            ProvidedInfo(
                conversation=conversation, slot=item["slot"], value=item["value"][:500], seq=item["seq"]
            )
            for item in insights.new_slots
        )
    for item in insights.new_commitments:
        Commitment.objects.create(
            conversation=conversation,
            text=item["text"],
            kind=item.get("kind") or "other",
            due=item.get("due") or "",
            due_at=due_at(item.get("due")),
            seq=seq,
            source=Commitment.Source.DETECTED,
        )
    return turn


def turn_event(turn: Turn) -> dict[str, Any]:
    """The live event for a new turn (consoles watching the conversation append it to the chat)."""
    return {
        "type": "turn.created",
        "conversation": str(turn.conversation_id),
        "seq": turn.seq,
        "role": turn.role,
        "text": turn.text,
        "score": turn.sentiment,
        "at": iso(turn.occurred_at),
        "author": _author_name(turn),
    }


def _author_name(turn: Turn) -> str | None:
    """An agent turn's display name, so live chat lines name the person (the package has no authors)."""
    if turn.author_id is None or turn.author is None:
        return None
    return person_name(turn.author)


def commitment_record(conversation: Conversation, data: Any) -> Commitment:
    """A commitment the bot posted (a ``commitment`` event, or the callback promise of a take-back): a row
    for the tracker and an entry in the package, merged with a detected twin if the engine found one."""
    due = data.due.isoformat() if data.due is not None else None
    seq = conversation.last_seq or None
    commitment = Commitment.objects.create(
        conversation=conversation,
        text=data.text,
        kind=data.kind,
        due=due or "",
        due_at=due_at(due),
        amount=data.amount,
        currency=data.currency or "",
        seq=seq,
        source=Commitment.Source.EVENT,
    )
    before = commitment_keys(conversation)
    pkg.add_commitment(
        conversation.context,
        {
            "text": data.text,
            "kind": data.kind,
            "due": due,
            "seq": seq,
            "source": "event",
            "status": "open",
            "amount": str(data.amount) if data.amount is not None else None,
            "currency": data.currency or None,
        },
    )
    # The engine merges a detected twin into the posted commitment; drop the twin's row too.
    forget_dropped_commitments(conversation, before)
    return commitment


def commitment_keys(conversation: Conversation) -> set[tuple[str, int | None, str]]:
    return {
        (item.get("source", ""), item.get("seq"), item.get("text", ""))
        for item in conversation.context["commitments"]
    }


def forget_dropped_commitments(conversation: Conversation, before: set[tuple[str, int | None, str]]) -> None:
    """Keep Commitment rows in step with the package: the engines drop a detected commitment when a posted
    event duplicates it or the customer declines the offer."""
    for source, seq, text in before - commitment_keys(conversation):
        if source == Commitment.Source.DETECTED:
            Commitment.objects.filter(conversation=conversation, source=source, seq=seq, text=text).delete()


def due_at(due: str | None) -> datetime | None:
    """A due date or date-time as an aware moment; a bare date means the end of that day (UTC)."""
    if not due:
        return None
    try:
        moment = datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        return None
    if len(due) <= 10:  # a date: the promise holds until the day is over
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
