"""Reads shaped for callers. Authorisation by construction: every lookup is scoped to its reader."""

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from handoffs.clock import iso
from handoffs.errors import NotFound
from handoffs.models import Belief, Bot, Conversation, Customer, Handoff
from handoffs.selfmodel import rules


def _external_id(value: str, what: str) -> str:
    # PostgreSQL text cannot hold U+0000; such an id names nothing, so it is simply not found.
    if "\x00" in value:
        raise NotFound(f"No such {what}.")
    return value


def conversation_for_bot(*, bot: Bot, external_id: str) -> Conversation:
    conversation = (
        Conversation.objects.select_related("customer")
        .filter(bot=bot, external_id=_external_id(external_id, "conversation"))
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation for this bot.")
    return conversation


def handoff_for_bot(*, bot: Bot, handoff_id: str) -> Handoff:
    # Another bot's handoff answers exactly like a missing one: existence never leaks.
    try:
        pk = uuid.UUID(handoff_id)
    except ValueError:
        raise NotFound("No such handoff for this bot.") from None
    handoff = (
        Handoff.objects.select_related("team", "agent__agent", "conversation__customer")
        .filter(pk=pk, conversation__bot=bot)
        .first()
    )
    if handoff is None:
        raise NotFound("No such handoff for this bot.")
    return handoff


def customer_for_bot(*, bot: Bot, external_id: str) -> Customer:
    # A bot may read the self-model of customers it has talked to, nobody else's.
    customer = (
        Customer.objects.filter(external_id=_external_id(external_id, "customer"), conversations__bot=bot)
        .distinct()
        .first()
    )
    if customer is None:
        raise NotFound("No such customer for this bot.")
    return customer


def customer_for_agent(*, agent: Any, external_id: str) -> Customer:
    # People reach customers through handoffs routed to their teams; anyone else is "not found".
    customer = (
        Customer.objects.filter(
            external_id=_external_id(external_id, "customer"),
            conversations__handoffs__team__in=agent.teams.all(),
        )
        .distinct()
        .first()
    )
    if customer is None:
        raise NotFound("No such customer among your teams' handoffs.")
    return customer


def beliefs_visible(*, customer: Customer, scopes: Iterable[str]) -> list[dict[str, Any]]:
    """The customer's beliefs in the reader's scopes, confidence decayed to now."""
    now = timezone.now()
    return [
        {
            "key": belief.key,
            "value": belief.value,
            "confidence": round(
                rules.decayed(
                    belief.confidence, age=max(now - belief.updated_at, timedelta(0)), key=belief.key
                ),
                4,
            ),
            "scope": belief.scope,
            "updated_at": iso(belief.updated_at),
            "sources": belief.sources,
        }
        for belief in Belief.objects.filter(customer=customer, scope__in=list(scopes)).order_by("key")
    ]


def conversation_public(*, conversation: Conversation, self_model: list[dict[str, Any]]) -> dict[str, Any]:
    """The conversation with its package; ``self_model`` is what this reader may see, read by the caller
    through ``selfmodel_read`` so that sensitive reads are audited."""
    return {
        "id": str(conversation.id),
        "conversation_id": conversation.external_id,
        "status": conversation.status,
        "customer_id": conversation.customer.external_id,
        "context": conversation.context | {"self_model": self_model},
    }


def queue_for_user(*, user: Any) -> list[Handoff]:
    """Queued handoffs of the user's teams, highest priority first (see handoffs.priority)."""
    profile = getattr(user, "agent", None)
    if profile is None:
        return []
    return list(
        Handoff.objects.filter(team__in=profile.teams.all(), status="queued")
        .select_related("team", "conversation__customer")
        .order_by("-queue_key")[:200]
    )
