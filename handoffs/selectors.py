"""Reads shaped for callers. Authorisation by construction: every lookup is scoped to its reader."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils import timezone

from handoffs.clock import iso
from handoffs.errors import NotFound
from handoffs.models import (
    AgentProfile,
    Belief,
    Bot,
    BotSecret,
    Conversation,
    Customer,
    Handoff,
    HandoffStatus,
)
from handoffs.priority import AGING_PER_SECOND, Priority
from handoffs.selfmodel import rules

LANGUAGE_FIRST_SECONDS = 60  # see handoffs.services.routing


def person_name(user: Any) -> str:
    """How a person is named to others (customers, colleagues): their agent display name, else username."""
    profile = getattr(user, "agent", None)
    return profile.name if profile is not None else user.get_username()


def language_base(tag: str) -> str:
    """A language tag's base language, as routing compares them: "es-MX" is "es"."""
    return (tag or "").split("-")[0].lower()


def speaker_first(language: str, *, until: datetime | None, now: datetime) -> str:
    """The language a pool handoff is shown in first (to its speakers), or "" once everyone may see it:
    only while its language-first window (``Handoff.speakers_first_until``, set by routing) runs."""
    if until is None or now >= until:
        return ""
    return language_base(language)


def _external_id(value: str, what: str) -> str:
    # PostgreSQL text cannot hold U+0000; such an id names nothing, so it is simply not found.
    if "\x00" in value:
        raise NotFound(f"No such {what}.")
    return value


def bot_signing_secret(bot_id: str) -> str | None:
    """The newest unexpired secret of an active bot: what the bot itself signs with (the built-in tools
    that play a bot, the reference bot and the simulator, read it here); None if there is none."""
    row = (
        BotSecret.objects.filter(bot__bot_id=bot_id, bot__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .order_by("-created_at")
        .first()
    )
    return row.secret if row else None


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


# --- agents ---------------------------------------------------------------------------------------


def _handoff_pk(handoff_id: Any) -> uuid.UUID:
    try:
        return handoff_id if isinstance(handoff_id, uuid.UUID) else uuid.UUID(str(handoff_id))
    except ValueError:
        raise NotFound("No such handoff among your teams'.") from None


def handoffs_for_agent(agent: AgentProfile) -> QuerySet[Handoff]:
    """Every handoff a person may see: routed to one of their teams (or reserved for them by a transfer)."""
    return Handoff.objects.filter(Q(team__agents=agent) | Q(reserved_for_id=agent.user_id)).distinct()


def handoff_id_for_agent(*, agent: AgentProfile, handoff_id: Any) -> uuid.UUID:
    """The handoff's id if this person may see it; another team's handoff is "not found", like a missing one."""
    pk = _handoff_pk(handoff_id)
    if not handoffs_for_agent(agent).filter(pk=pk).exists():
        raise NotFound("No such handoff among your teams'.")
    return pk


def handoff_for_agent(*, agent: AgentProfile, handoff_id: Any) -> Handoff:
    pk = handoff_id_for_agent(agent=agent, handoff_id=handoff_id)
    return Handoff.objects.select_related(
        "team",
        "agent__agent",
        "reserved_for__agent",
        "conversation__customer",
        "conversation__bot",
        "previous",
    ).get(pk=pk)


def _package_text(*path: str) -> KeyTextTransform:
    """A text value inside the conversation's package, read in SQL (the package itself is not loaded)."""
    node: str | KeyTransform = "conversation__context"
    for key in path[:-1]:
        node = KeyTransform(key, node)
    return KeyTextTransform(path[-1], node)


def _language_first_for(agent: AgentProfile, now: datetime) -> Q:
    """Handoffs in a language this person does not speak, still inside their language-first window."""
    spoken = {language_base(lang) for lang in agent.languages}
    # By base language, as speaker_first compares: "es-MX" is Spanish.
    understood = Q(language="")
    for base in sorted(spoken):
        understood |= Q(language__iexact=base) | Q(language__istartswith=f"{base}-")
    return Q(speakers_first_until__gt=now) & ~understood


def queue_for_agent(*, agent: AgentProfile, limit: int = 200) -> list[Handoff]:
    """Queued handoffs this person may take, highest priority first (see handoffs.priority).

    Transfers reserved for a colleague are left out; live mood and issue type come from the package with
    JSON key lookups, so the (large) package itself is never loaded for a queue.
    """
    now = timezone.now()
    rows = (
        Handoff.objects.filter(team__agents=agent, status=HandoffStatus.QUEUED)
        .filter(Q(reserved_for__isnull=True) | Q(reserved_for_id=agent.user_id))
        # an offer to a colleague that is still running, and (see routing) a language-first window
        .exclude(Q(offered_to__isnull=False) & ~Q(offered_to_id=agent.user_id) & Q(offer_expires_at__gt=now))
        .exclude(_language_first_for(agent, now))
        .select_related("team", "conversation__customer", "reserved_for")
        .defer("frame", "conversation__context")
        .annotate(
            emotion=_package_text("emotion", "current"),
            trend=_package_text("emotion", "trend"),
            summary=_package_text("summary"),
        )
        .order_by("-queue_key")[:limit]
    )
    return list(rows)


def waiting_seconds(handoff: Handoff, *, now: datetime | None = None) -> int:
    return max(0, int(((now or timezone.now()) - handoff.queued_at).total_seconds()))


def priority_now(handoff: Handoff, *, now: datetime | None = None) -> float:
    return round(
        Priority(base=handoff.base_priority).at(queued_at=chain_start(handoff), now=now or timezone.now()), 1
    )


def chain_start(handoff: Handoff) -> datetime:
    """When the customer started waiting for a person: the first escalation of a chain of transfers.

    queue_key = base − aging × (chain start), so it is recovered without walking the chain."""
    return datetime.fromtimestamp((handoff.base_priority - handoff.queue_key) / AGING_PER_SECOND, tz=UTC)


def active_handoffs_for_agent(*, agent: AgentProfile) -> list[Handoff]:
    """The person's own handoffs in preparation or chat, oldest first."""
    return list(
        Handoff.objects.filter(agent_id=agent.user_id, status__in=["preparing", "connected"])
        .select_related("team", "conversation__customer")
        .defer("frame", "conversation__context")
        .annotate(emotion=_package_text("emotion", "current"))
        .order_by("claimed_at")
    )


# Endings the status alone does not explain (Handoff.end_reason): the timeline's event and its detail.
END_REASONS = {
    "no_first_reply": ("reassigned", "no first message to the customer in time"),
    "reply_overdue": ("reassigned", "a customer message went unanswered too long"),
    "takeback": ("taken_back", "the assistant took the customer back with a callback promise"),
}


def handoff_ending(handoff: Handoff) -> tuple[str, str]:
    """How the handoff ended, as the timeline names it: (event, detail)."""
    return END_REASONS.get(handoff.end_reason, (str(handoff.status), ""))


def handoff_timeline(handoff: Handoff) -> list[dict[str, Any]]:
    """Queued, claimed, connected, a take-back offer and the ending, with timestamps (those that happened)."""
    steps: list[tuple[str, datetime | None, str]] = [
        ("queued", handoff.queued_at, ""),
        ("takeback_offered", handoff.takeback_offered_at, ""),
        ("claimed", handoff.claimed_at, ""),
        ("connected", handoff.connected_at, ""),
    ]
    if handoff.ended_at is not None:
        event, detail = handoff_ending(handoff)
        steps.append((event, handoff.ended_at, detail))
    happened = sorted(
        ((name, at, detail) for name, at, detail in steps if at is not None), key=lambda s: s[1]
    )
    return [{"event": name, "at": iso(at), "detail": detail} for name, at, detail in happened]


def handoff_for_agent_public(
    handoff: Handoff, *, self_model: list[dict[str, Any]], assist: list[dict[str, Any]]
) -> dict[str, Any]:
    conversation = handoff.conversation
    return {
        "id": str(handoff.id),
        "status": handoff.status,
        "conversation_id": conversation.external_id,
        "customer_id": conversation.customer.external_id,
        "team": handoff.team.name,
        "agent": handoff.agent.get_username() if handoff.agent else None,
        "reason": handoff.reason,
        "reason_code": handoff.reason_code,
        "focus": handoff.focus,
        "urgency": handoff.urgency,
        "priority": priority_now(handoff),
        "priority_reasons": handoff.priority_reasons,
        "waiting_seconds": waiting_seconds(handoff),
        "queued_at": iso(handoff.queued_at),
        "claimed_at": iso(handoff.claimed_at) if handoff.claimed_at else None,
        "prepare_until": iso(handoff.prepare_until) if handoff.prepare_until else None,
        "connected_at": iso(handoff.connected_at) if handoff.connected_at else None,
        "ended_at": iso(handoff.ended_at) if handoff.ended_at else None,
        "note": handoff.note,
        "resolution": handoff.resolution,
        "previous_handoff_id": str(handoff.previous_id) if handoff.previous_id else None,
        "timeline": handoff_timeline(handoff),
        "context": conversation.context | {"self_model": self_model},
        "assist": assist,
    }


def queue_item_public(handoff: Handoff, *, now: datetime, emotion: str | None = None) -> dict[str, Any]:
    """A queue row, for the API and the console (list and live push alike)."""
    return {
        "id": str(handoff.id),
        "status": handoff.status,
        "conversation_id": handoff.conversation.external_id,
        "customer_id": handoff.conversation.customer.external_id,
        "customer_name": handoff.conversation.customer.name,
        "team": handoff.team.name,
        "reason": handoff.reason,
        "reason_code": handoff.reason_code,
        "urgency": handoff.urgency,
        "emotion": emotion or getattr(handoff, "emotion", None) or "",
        "issue_type": handoff.conversation.issue_type,
        "priority": priority_now(handoff, now=now),
        "queue_key": handoff.queue_key,
        "priority_reasons": handoff.priority_reasons,
        "waiting_seconds": waiting_seconds(handoff, now=now),
        "queued_at": iso(handoff.queued_at),
        "reserved_for": handoff.reserved_for.get_username() if handoff.reserved_for else None,
        "offered_to": handoff.offered_to.get_username()
        if handoff.offered_to_id and handoff.offered_to
        else None,
        "language": handoff.language,
        # a warm transfer whose sender is still chatting (handoffs.services.transfers): take over, not claim
        "overlap_until": iso(handoff.overlap_until) if handoff.overlap_until else None,
        "speakers_first_until": iso(handoff.speakers_first_until) if handoff.speakers_first_until else None,
    }


def agent_loads(user_ids: Iterable[int]) -> dict[int, int]:
    """How many conversations each person holds (preparing or connected) or has waiting for them by name
    (a transfer reserved for them): what counts against their capacity when work is routed to them."""
    ids = list(user_ids)
    loads = dict.fromkeys(ids, 0)
    held = Handoff.objects.filter(agent_id__in=ids, status__in=["preparing", "connected"])
    reserved = Handoff.objects.filter(reserved_for_id__in=ids, status=HandoffStatus.QUEUED)
    for user_id in [
        *held.values_list("agent_id", flat=True),
        *reserved.values_list("reserved_for_id", flat=True),
    ]:
        loads[user_id] += 1
    return loads


@dataclass(frozen=True)
class Colleague:
    """A teammate work can be routed to by name, with what counts against their capacity."""

    profile: AgentProfile
    load: int
    room: int  # capacity left, never negative

    @property
    def username(self) -> str:
        return self.profile.user.get_username()

    @property
    def name(self) -> str:
        return self.profile.name


def presence_seen_since(now: datetime | None = None) -> datetime:
    """A person whose console was last seen before this reads as offline, whatever they said."""
    return (now or timezone.now()) - timedelta(seconds=settings.WARMLINE["PRESENCE_STALE_SECONDS"])


def agents_present(*, now: datetime | None = None) -> QuerySet[AgentProfile]:
    """People who are available now: they said so, and a console of theirs was seen within
    ``PRESENCE_STALE_SECONDS`` (a closed laptop does not keep anyone "available"). The one rule for it."""
    return AgentProfile.objects.filter(
        presence=AgentProfile.Presence.AVAILABLE, last_seen_at__gte=presence_seen_since(now)
    )


def colleagues_available(*, agent: AgentProfile) -> list[Colleague]:
    """The person's teammates who are available now (``agents_present``), most room first."""
    people = list(
        agents_present()
        .filter(teams__in=agent.teams.all(), user__is_active=True)
        .exclude(pk=agent.pk)
        .select_related("user")
        .distinct()
    )
    loads = agent_loads(person.user_id for person in people)
    found = [
        Colleague(
            profile=person,
            load=loads[person.user_id],
            room=max(0, person.capacity - loads[person.user_id]),
        )
        for person in people
    ]
    return sorted(found, key=lambda c: (-c.room, c.name.lower()))
