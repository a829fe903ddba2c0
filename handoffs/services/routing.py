"""Routing: which team gets a handoff, who in it is offered it, and the customer's estimated wait.

- **Team**: the bot's default team, unless the escalation asks for skills or a language that one of the
  bot's allowed teams covers and the default team does not.
- **Pool** teams: everyone eligible sees the handoff and claims it. A conversation in another language
  than English is shown first to the team's speakers of it; after ``LANGUAGE_FIRST_SECONDS`` everyone sees
  it (a customer is never stuck waiting for a speaker who is not there).
- **Offer** teams: the handoff is offered to the best agent (available, under capacity, matching language
  and skills, least loaded, longest since their last claim) for ``Team.offer_seconds``; unanswered, it moves
  to the next; with nobody left it falls back to the pool. An agent going away or offline loses their
  offers at once. Pending offers count toward an agent's load, so nobody is offered more than their free
  capacity; the chosen agent's row is locked while counting, so concurrent offers cannot overshoot.
- **Take-back**: a handoff still unclaimed after ``Team.takeback_after_seconds`` sends the bot one
  ``handoff.takeback_offered`` callback: it may take the customer back (a ``takeback`` event) with the
  callback promise offered; until then the customer keeps getting ``handoff.eta``.
- **ETA**: on every change in a team's queue each waiting customer's estimate is recomputed, and a
  ``handoff.eta`` callback is sent when it moved by 30 s or a quarter, whichever is more.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, team_queue_group
from handoffs.clock import iso
from handoffs.models import (
    NOT_IN_OVERLAP_WINDOW,
    AgentProfile,
    Bot,
    Conversation,
    Handoff,
    HandoffStatus,
    Team,
)
from handoffs.scheduling import run_later
from handoffs.selectors import (
    LANGUAGE_FIRST_SECONDS,
    agents_present,
    language_base,
    queue_item_public,
    speaker_first,
)
from handoffs.services.callbacks import callback_enqueue
from handoffs.services.wait import estimate_wait_seconds, team_load
from handoffs.tasks import offer_expire, refresh_eta, takeback_offer

ETA_MIN_CHANGE_SECONDS = 30
ETA_MIN_CHANGE_SHARE = 0.25
ACTIVE = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
# A timer may fire a hair early (clock skew between hosts); within this, it is due.
TIMER_TOLERANCE = timedelta(seconds=1)


def _speaks(agent: AgentProfile, language: str) -> bool:
    return language_base(language) in {language_base(lang) for lang in agent.languages}


def _covers(agent: AgentProfile, *, skills: list[str], language: str) -> bool:
    return (not language or _speaks(agent, language)) and set(skills) <= set(agent.skills)


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


def speakers_first_until(*, team: Team, language: str, at: datetime) -> datetime | None:
    """When a new pool handoff's language-first window ends, or None when everyone may see it at once:
    English or no language, an offer team, or no speaker of it present in the team right now (a customer
    never waits for a speaker who is not there)."""
    base = language_base(language)
    if team.routing_mode != Team.RoutingMode.POOL or base in {"", "en"}:
        return None
    present = agents_present().filter(teams=team).only("languages")
    if not any(_speaks(agent, base) for agent in present):
        return None
    return at + timedelta(seconds=LANGUAGE_FIRST_SECONDS)


def needs_speaker(handoff: Handoff) -> str:
    """The language a pool handoff is first shown in, or "" when everyone may see it now."""
    return speaker_first(handoff.language, until=handoff.speakers_first_until, now=timezone.now())


# --- offers ---------------------------------------------------------------------------------------


def _running_offers(handoff: Handoff, now: datetime) -> dict[int, int]:
    """How many other handoffs each person is being offered right now: they hold capacity meanwhile."""
    rows = (
        Handoff.objects.filter(
            status=HandoffStatus.QUEUED, offered_to__isnull=False, offer_expires_at__gt=now
        )
        .exclude(pk=handoff.pk)
        .values("offered_to")
        .annotate(count=Count("pk"))
    )
    return {row["offered_to"]: row["count"] for row in rows}


def _candidates(handoff: Handoff) -> list[AgentProfile]:
    """Who may be offered the handoff, best first: present, under capacity counting their running offers,
    not offered it before; matching language and skills first, then least loaded, then longest idle."""
    now = timezone.now()
    agents = list(
        agents_present(now=now)
        .filter(teams=handoff.team)
        .exclude(user_id__in=handoff.offered_before)
        .select_related("user")
        .annotate(
            active=Count("user__handoffs", filter=Q(user__handoffs__status__in=ACTIVE)),
            last_claim=Max("user__handoffs__claimed_at"),
        )
    )
    offers = _running_offers(handoff, now)
    load = {agent.pk: agent.active + offers.get(agent.user_id, 0) for agent in agents}
    eligible = [agent for agent in agents if load[agent.pk] < agent.capacity]
    epoch = now - timedelta(days=3650)

    def rank(agent: Any) -> tuple[int, int, Any]:
        match = _covers(agent, skills=handoff.skills, language=handoff.language)
        return (0 if match else 1, load[agent.pk], agent.last_claim or epoch)

    return sorted(eligible, key=rank)


def _free_for_offer(agent: AgentProfile, handoff: Handoff, now: datetime) -> bool:
    """Lock the agent's row and count again: concurrent offers to one person serialise here (lock order:
    conversation, handoff, then the agent's profile, as a claim takes them), so none overshoots capacity."""
    profile = AgentProfile.objects.select_for_update().get(pk=agent.pk)
    active = Handoff.objects.filter(agent_id=profile.user_id, status__in=ACTIVE).count()
    offered = (
        Handoff.objects.filter(
            offered_to_id=profile.user_id, status=HandoffStatus.QUEUED, offer_expires_at__gt=now
        )
        .exclude(pk=handoff.pk)
        .count()
    )
    return active + offered < profile.capacity


def offer_next(handoff: Handoff) -> AgentProfile | None:
    """Offer a queued handoff (its row locked by the caller) to the best agent not yet offered it."""
    now = timezone.now()
    chosen = next((agent for agent in _candidates(handoff) if _free_for_offer(agent, handoff, now)), None)
    if chosen is None:
        handoff.offered_to = None
        handoff.offer_expires_at = None
        handoff.save(update_fields=["offered_to", "offer_expires_at", "updated_at"])
        broadcast_on_commit(team_queue_group(handoff.team_id), queued_event(handoff))  # back to the pool
        return None
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
        if handoff.offer_expires_at and handoff.offer_expires_at > timezone.now() + TIMER_TOLERANCE:
            return False
        offer_next(handoff)
        return True


def offers_expire_overdue() -> int:
    """Beat: move on every offer whose time is up and whose timer was lost."""
    due = Handoff.objects.filter(
        status=HandoffStatus.QUEUED, offered_to__isnull=False, offer_expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    return sum(offer_expire_due(handoff_id=str(pk)) for pk in list(due[:200]))


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


# --- take-back -----------------------------------------------------------------------------------


def takeback_schedule(handoff: Handoff) -> None:
    """At queue time: the take-back offer's timer (the beat sweep stands behind it)."""
    if handoff.team.takeback_after_seconds:
        run_later(takeback_offer, str(handoff.pk), delay=handoff.team.takeback_after_seconds)


def takeback_promise(handoff: Handoff) -> dict[str, Any] | None:
    """The callback promise offered to the bot for this handoff (None if none was offered): a callback from
    the team within ``Team.callback_promise_seconds`` of the offer."""
    if handoff.takeback_offered_at is None:
        return None
    due = handoff.takeback_offered_at + timedelta(seconds=handoff.team.callback_promise_seconds)
    return {
        "kind": "callback",
        "text": f"Someone from our {handoff.team.name} team will call you back by {due:%Y-%m-%d %H:%M} UTC.",
        "due": iso(due),
    }


def takeback_offer_due(*, handoff_id: str) -> bool:
    """Nobody has claimed the handoff within the team's limit: offer the bot, once, to take the customer back
    with a callback promise (``handoff.takeback_offered``). The handoff keeps waiting, and its ETA keeps
    being sent, until the bot accepts (a ``takeback`` event) or someone claims it."""
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("team", "conversation__bot")
            .filter(pk=handoff_id)
            .first()
        )
        if handoff is None or handoff.status != HandoffStatus.QUEUED or handoff.takeback_offered_at:
            return False
        if handoff.overlap_until is not None:
            return False  # a warm transfer still in its overlap window: the sender has the customer
        limit = handoff.team.takeback_after_seconds
        now = timezone.now()
        if not limit or handoff.queued_at + timedelta(seconds=limit) > now + TIMER_TOLERANCE:
            return False
        handoff.takeback_offered_at = now
        handoff.save(update_fields=["takeback_offered_at", "updated_at"])
        position = (
            Handoff.objects.filter(
                team_id=handoff.team_id, status=HandoffStatus.QUEUED, queue_key__gt=handoff.queue_key
            ).count()
            + 1
        )
        callback_enqueue(
            conversation=handoff.conversation,
            handoff=handoff,
            type="handoff.takeback_offered",
            data={
                "waited_seconds": int((now - handoff.queued_at).total_seconds()),
                "queue_position": position,
                "estimated_wait_seconds": estimate_wait_seconds(team=handoff.team, position=position),
                "promise": takeback_promise(handoff),
            },
            at=now,
        )
        return True


def takeback_offers_due() -> int:
    """Beat: send the take-back offers whose timers were lost."""
    now = timezone.now()
    sent = 0
    for team in Team.objects.filter(takeback_after_seconds__gt=0):
        due = Handoff.objects.filter(
            NOT_IN_OVERLAP_WINDOW,
            team=team,
            status=HandoffStatus.QUEUED,
            takeback_offered_at__isnull=True,
            queued_at__lte=now - timedelta(seconds=team.takeback_after_seconds),
        ).values_list("pk", flat=True)
        sent += sum(takeback_offer_due(handoff_id=str(pk)) for pk in list(due[:200]))
    return sent


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
    load = team_load(team, now=now) if waiting else None
    for position, handoff in enumerate(waiting, start=1):
        if handoff.overlap_until is not None:
            continue  # a warm transfer in its overlap window: the customer is still chatting, not waiting
        estimate = estimate_wait_seconds(team=team, position=position, load=load)
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
