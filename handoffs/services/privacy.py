"""Privacy operations on one customer: export everything held, or erase it while keeping aggregates.

Erasure removes what identifies or describes the person (profile, texts, self-model, provided
details, frames and notes) and keeps what metrics count (handoff timings and statuses, CSAT scores,
turn sentiment scores, commitment statuses). The customer row stays as a pseudonym so those rows
still group together.
"""

import uuid
from typing import Any

from django.db import transaction

from handoffs.models import (
    AuditEvent,
    Belief,
    Commitment,
    Conversation,
    Customer,
    Handoff,
    Observation,
    ProvidedInfo,
    Step,
    Turn,
)


def _rows(queryset: Any, *fields: str) -> list[dict[str, Any]]:
    return [
        {
            key: (str(value) if key in {"id", "conversation_id", "handoff_id"} else value)
            for key, value in row.items()
        }
        for row in queryset.values(*fields)
    ]


def customer_export(*, customer: Customer, actor: str) -> dict[str, Any]:
    conversations = []
    for conversation in (
        Conversation.objects.filter(customer=customer).select_related("bot").order_by("created_at")
    ):
        conversations.append(
            {
                "id": str(conversation.id),
                "bot": conversation.bot.bot_id,
                "conversation_id": conversation.external_id,
                "status": conversation.status,
                "created_at": conversation.created_at,
                "context": conversation.context,
                "turns": _rows(
                    conversation.turns.order_by("seq"), "seq", "role", "text", "sentiment", "occurred_at"
                ),
                "steps": _rows(conversation.steps.all(), "action", "outcome", "detail", "occurred_at"),
                "commitments": _rows(
                    conversation.commitments.all(), "text", "kind", "due", "status", "source"
                ),
                "information_provided": _rows(conversation.provided_info.all(), "slot", "value", "seq"),
                "handoffs": _rows(
                    conversation.handoffs.order_by("queued_at"),
                    "id",
                    "status",
                    "reason",
                    "queued_at",
                    "claimed_at",
                    "connected_at",
                    "ended_at",
                    "frame",
                    "note",
                    "resolution",
                ),
                "csat": _rows(conversation.csat_ratings.all(), "phase", "score", "created_at"),
            }
        )
    export = {
        "customer": {
            "id": customer.external_id,
            "name": customer.name,
            "email": customer.email,
            "locale": customer.locale,
            "created_at": customer.created_at,
        },
        "conversations": conversations,
        "observations": _rows(
            Observation.objects.filter(customer=customer),
            "key",
            "value",
            "confidence",
            "scope",
            "source",
            "source_ref",
            "observed_at",
        ),
        "beliefs": _rows(
            Belief.objects.filter(customer=customer),
            "key",
            "value",
            "confidence",
            "scope",
            "updated_at",
            "sources",
            "history",
        ),
    }
    AuditEvent.objects.create(
        actor_type="operator",
        actor_ref=actor,
        action=AuditEvent.Action.EXPORT,
        customer=customer,
        customer_ref=customer.external_id,
    )
    return export


@transaction.atomic
def customer_erase(*, customer: Customer, actor: str) -> str:
    """Erase the customer's personal data; return the pseudonym their aggregate rows now carry."""
    pseudonym = f"erased-{uuid.uuid4().hex[:12]}"
    conversations = Conversation.objects.filter(customer=customer)
    Turn.objects.filter(conversation__in=conversations).update(text="", external_id="")
    Step.objects.filter(conversation__in=conversations).update(action="(erased)", detail="")
    Commitment.objects.filter(conversation__in=conversations).update(text="(erased)", amount=None)
    ProvidedInfo.objects.filter(conversation__in=conversations).delete()
    Handoff.objects.filter(conversation__in=conversations).update(
        frame={}, note="", resolution="", reason="(erased)", focus=""
    )
    for index, conversation in enumerate(conversations.order_by("created_at")):
        conversation.external_id = f"{pseudonym}-{index}"
        conversation.context = {}
        conversation.save(update_fields=["external_id", "context", "updated_at"])
    Observation.objects.filter(customer=customer).delete()
    Belief.objects.filter(customer=customer).delete()
    customer.external_id, customer.name, customer.email = pseudonym, "", ""
    customer.save(update_fields=["external_id", "name", "email", "updated_at"])
    # The audit trail names the pseudonym only: keeping the erased id would keep the person.
    AuditEvent.objects.filter(customer=customer).update(customer_ref=pseudonym, detail={})
    AuditEvent.objects.create(
        actor_type="operator",
        actor_ref=actor,
        action=AuditEvent.Action.ERASE,
        customer=customer,
        customer_ref=pseudonym,
    )
    return pseudonym
