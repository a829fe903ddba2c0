"""Routing: which team gets a handoff, who in it is offered it, and the customer's estimated wait.

- **Team**: the bot's default team, unless the escalation asks for skills or a language that one of the
  bot's allowed teams covers and the default team does not.
- **Pool** teams: everyone eligible sees the handoff and claims it. A conversation in another language
  than English is shown first to the team's speakers of it; after ``LANGUAGE_FIRST_SECONDS`` everyone sees
  it (a customer is never stuck waiting for a speaker who is not there).
- **Offer** teams: the handoff is offered to the best agent (available, under capacity, matching language
  and skills, least loaded, longest since their last claim) for ``Team.offer_seconds``; unanswered, it moves
  to the next; with nobody left it falls back to the pool. An agent going away or offline loses their
  offers at once.
- **ETA**: on every change in a team's queue each waiting customer's estimate is recomputed, and a
  ``handoff.eta`` callback is sent when it moved by 30 s or a quarter, whichever is more.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, team_queue_group
from handoffs.models import AgentProfile, Bot, Conversation, Handoff, HandoffStatus, Team
from handoffs.scheduling import run_later
from handoffs.selectors import queue_item_public, speaker_first
from handoffs.services.callbacks import callback_enqueue
from handoffs.services.wait import estimate_wait_seconds
from handoffs.tasks import offer_expire, refresh_eta

ETA_MIN_CHANGE_SECONDS = 30
ETA_MIN_CHANGE_SHARE = 0.25
ACTIVE = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)


def _covers(agent: AgentProfile, *, skills: list[str], language: str) -> bool:
    speaks = not language or language.split("-")[0].lower() in {lang.lower() for lang in agent.languages}
    return speaks and set(skills) <= set(agent.skills)


def route_team(*, bot: Bot, skills: list[str], language: str) -> Team:
    """The team for a new escalation (see the module docstring)."""
    default = bot.team
    if not skills and not language:
        return default
    teams = [default, *bot.allowed_teams.exclude(pk=default.pk).order_by("name")]
    for team in teams:
        if any(_covers(agent, skills=skills, language=language) for agent in team.agents.all()):
            return team
    return default


def needs_speaker(handoff: Handoff) -> str:
    """The language a pool handoff is first shown in, or "" when everyone may see it now."""
    return speaker_first(handoff.language, queued_at=handoff.queued_at, now=timezone.now())


# --- offers ---------------------------------------------------------------------------------------


def _candidates(handoff: Handoff) -> list[AgentProfile]:
    stale = timezone.now() - timedelta(seconds=settings.WARMLINE["PRESENCE_STALE_SECONDS"])
    agents = (
        AgentProfile.objects.filter(
            teams=handoff.team, presence=AgentProfile.Presence.AVAILABLE, last_seen_at__gte=stale
        )
        .exclude(user_id__in=handoff.offered_before)
        .select_related("user")
        .annotate(
            load=Count("user__handoffs", filter=Q(user__handoffs__status__in=ACTIVE)),
            last_claim=Max("user__handoffs__claimed_at"),
        )
    )
    eligible = [agent for agent in agents if agent.load < agent.capacity]
    epoch = timezone.now() - timedelta(days=3650)

    def rank(agent: Any) -> tuple[int, int, Any]:
        match = _covers(agent, skills=handoff.skills, language=handoff.language)
        return (0 if match else 1, agent.load, agent.last_claim or epoch)

    return sorted(eligible, key=rank)


def offer_next(handoff: Handoff) -> AgentProfile | None:
    """Offer a queued handoff (its row locked by the caller) to the best agent not yet offered it."""
    candidates = _candidates(handoff)
    now = timezone.now()
    if not candidates:
        handoff.offered_to = None
        handoff.offer_expires_at = None
        handoff.save(update_fields=["offered_to", "offer_expires_at", "updated_at"])
        broadcast_on_commit(team_queue_group(handoff.team_id), queued_event(handoff))  # back to the pool
        return None
    chosen = candidates[0]
    handoff.offered_to = chosen.user
    handoff.offer_expires_at = now + timedelta(seconds=handoff.team.offer_seconds)
    handoff.offered_before = [*handoff.offered_before, chosen.user_id]
    handoff.save(update_fields=["offered_to", "offer_expires_at", "offered_before", "updated_at"])
    broadcast_on_commit(team_queue_group(handoff.team_id), queued_event(handoff))
    run_later(offer_expire, str(handoff.pk), delay=handoff.team.offer_seconds)
    return chosen


def queued_event(handoff: Handoff, *, now: datetime | None = None) -> dict[str, Any]:
    """The live event for a queue row; it carries the row, so 50 consoles render it without a query."""
    return {
        "type": "handoff.queued",
        "handoff_id": str(handoff.pk),
        "item": queue_item_public(
            handoff,
            now=now or timezone.now(),
            emotion=handoff.conversation.context["emotion"]["current"],
        ),
    }


def offer_expire_due(*, handoff_id: str) -> bool:
    """An unanswered offer moves on (timer); False if it was taken or already moved."""
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("team", "conversation__customer")
            .filter(pk=handoff_id)
            .first()
        )
        if handoff is None or handoff.status != HandoffStatus.QUEUED or handoff.offered_to_id is None:
            return False
        if handoff.offer_expires_at and handoff.offer_expires_at > timezone.now() + timedelta(seconds=1):
            return False
        offer_next(handoff)
        return True


def offers_withdraw(*, user_id: int) -> int:
    """The person went away or offline: their pending offers move on at once."""
    count = 0
    for pk in list(
        Handoff.objects.filter(offered_to_id=user_id, status=HandoffStatus.QUEUED).values_list(
            "pk", flat=True
        )
    ):
        with transaction.atomic():
            handoff = (
                Handoff.objects.select_for_update(of=("self",))
                .select_related("team", "conversation__customer")
                .get(pk=pk)
            )
            if handoff.status == HandoffStatus.QUEUED and handoff.offered_to_id == user_id:
                offer_next(handoff)
                count += 1
    return count


# --- ETA ------------------------------------------------------------------------------------------


def eta_refresh(*, team_id: int) -> int:
    """Re-estimate every waiting customer's wait in the team; send ``handoff.eta`` where it moved enough."""
    team = Team.objects.get(pk=team_id)
    sent = 0
    waiting = list(
        Handoff.objects.filter(team=team, status=HandoffStatus.QUEUED)
        .select_related("conversation__bot")
        .order_by("-queue_key")
    )
    now = timezone.now()
    for position, handoff in enumerate(waiting, start=1):
        if handoff.overlap_until is not None:
            continue  # a warm transfer in its overlap window: the customer is still chatting, not waiting
        estimate = estimate_wait_seconds(team=team, position=position)
        previous = (
            handoff.eta_sent_seconds
            if handoff.eta_sent_seconds is not None
            else handoff.estimated_wait_seconds
        )
        threshold = max(ETA_MIN_CHANGE_SECONDS, ETA_MIN_CHANGE_SHARE * previous)
        if abs(estimate - previous) < threshold:
            continue
        with transaction.atomic():
            updated = Handoff.objects.filter(pk=handoff.pk, status=HandoffStatus.QUEUED).update(
                eta_sent_seconds=estimate, estimated_wait_seconds=estimate, updated_at=now
            )
            if updated:
                conversation: Conversation = handoff.conversation
                callback_enqueue(
                    conversation=conversation,
                    handoff=handoff,
                    type="handoff.eta",
                    data={"estimated_wait_seconds": estimate, "queue_position": position},
                    at=now,
                )
                sent += 1
    return sent


def eta_refresh_soon(team_id: int) -> None:
    run_later(refresh_eta, team_id)


def announce_to_all(*, handoff_id: str) -> bool:
    """The language-first window is over: everyone in the team now sees the handoff (timer)."""
    handoff = Handoff.objects.select_related("team", "conversation__customer").filter(pk=handoff_id).first()
    if handoff is None or handoff.status != HandoffStatus.QUEUED:
        return False
    broadcast_on_commit(team_queue_group(handoff.team_id), queued_event(handoff))
    return True
