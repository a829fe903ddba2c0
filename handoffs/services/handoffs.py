"""A handoff's life after escalation: claim → preparation window → connected → resolved, transferred or
returned to the bot. The console and the agent API call these same functions.

Locking: every write locks the conversation row first, then the handoff, then (for a claim) the agent's
profile, always in that order, the same order ingest uses; two agents claiming at once serialise on the
handoff row and the second sees a 409.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, conversation_group, team_queue_group
from handoffs.clock import iso
from handoffs.context import package as pkg
from handoffs.errors import Conflict, InvalidInput, NotFound
from handoffs.models import (
    AgentProfile,
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffStatus,
    MessageWarning,
    Team,
    Turn,
)
from handoffs.priority import RE_ESCALATION, Priority, handoff_priority
from handoffs.scheduling import enqueue_on_commit, run_later
from handoffs.selectors import chain_start, handoff_id_for_agent, person_name
from handoffs.services.callbacks import callback_enqueue
from handoffs.services.drafts import draft_check
from handoffs.services.escalation import package_entry, queue_position_for
from handoffs.services.routing import eta_refresh_soon, queued_event
from handoffs.services.turns import turn_add, turn_event
from handoffs.services.wait import estimate_wait_seconds
from handoffs.tasks import assist_for_turn, handoff_auto_connect

ACTIVE_STATUSES = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
# A timer may fire a hair early (clock skew between web and worker hosts); within this, it is due.
CONNECT_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Locked:
    conversation: Conversation
    handoff: Handoff


def _lock(handoff_id: Any) -> Locked:
    """Lock the handoff's conversation, then the handoff (see the module docstring for the order)."""
    conversation_id = Handoff.objects.filter(pk=handoff_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        raise NotFound("No such handoff.")
    conversation = (
        # Only the conversation row (not its customer or bot, which select_related would lock too), and
        # FOR NO KEY UPDATE, so inserts that merely reference it (observations, turns) are not blocked:
        # the self-model task holds the customer and inserts observations; locking both here deadlocked.
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("bot", "customer")
        .get(pk=conversation_id)
    )
    handoff = Handoff.objects.select_for_update(of=("self",)).select_related("team").get(pk=handoff_id)
    return Locked(conversation=conversation, handoff=handoff)


def _lock_for_agent(handoff_id: str, agent: AgentProfile) -> Locked:
    return _lock(handoff_id_for_agent(agent=agent, handoff_id=handoff_id))


def _require_holder(handoff: Handoff, agent: AgentProfile, *, doing: str) -> None:
    if handoff.agent_id != agent.user_id:
        raise Conflict(f"Only the person who claimed this handoff can {doing} it.", code="not_your_handoff")
    if handoff.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"This handoff is {handoff.status}; it can no longer be changed.", code="handoff_closed"
        )


def _save(locked: Locked, *handoff_fields: str) -> None:
    locked.handoff.save(update_fields=[*handoff_fields, "updated_at"])
    pkg.record_handoff(locked.conversation.context, package_entry(locked.handoff))
    locked.conversation.save(update_fields=["status", "last_seq", "context", "updated_at"])


def _changed(locked: Locked, *, also_queue: bool = False) -> None:
    """Tell whoever watches: the conversation's viewers, and (when it leaves or joins a queue) the team."""
    handoff = locked.handoff
    event = {"type": "handoff.updated", "handoff_id": str(handoff.id), "status": handoff.status}
    broadcast_on_commit(conversation_group(locked.conversation.id), event)
    if also_queue:
        broadcast_on_commit(team_queue_group(handoff.team_id), event)


def _system_turn(locked: Locked, text: str, at: datetime) -> None:
    turn = turn_add(locked.conversation, role="system", text=text, at=at, handoff=locked.handoff)
    if turn is not None:
        broadcast_on_commit(conversation_group(locked.conversation.id), turn_event(turn))


# --- claim and preparation ------------------------------------------------------------------------


@transaction.atomic
def handoff_claim(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """Take a queued handoff: it leaves every queue and the preparation window starts."""
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.agent_id == agent.user_id and handoff.status in ACTIVE_STATUSES:
        return handoff  # a double click or a retried request: already theirs
    if handoff.status != HandoffStatus.QUEUED:
        who = f" by {person_name(handoff.agent)}" if handoff.agent is not None else ""
        raise Conflict(f"This handoff was already taken{who}.", code="already_claimed")
    if handoff.reserved_for_id not in (None, agent.user_id):
        raise Conflict("This transfer is reserved for a named colleague.", code="reserved")
    if (
        handoff.offered_to_id not in (None, agent.user_id)
        and handoff.offer_expires_at is not None
        and handoff.offer_expires_at > timezone.now()
    ):
        raise Conflict("This handoff is being offered to a colleague right now.", code="offered_elsewhere")
    profile = AgentProfile.objects.select_for_update().get(pk=agent.pk)
    active = Handoff.objects.filter(agent_id=profile.user_id, status__in=ACTIVE_STATUSES).count()
    if active >= profile.capacity:
        raise Conflict(
            f"You already have {active} open handoffs, your capacity; finish one first.", code="at_capacity"
        )
    now = timezone.now()
    handoff.agent = profile.user
    handoff.status = HandoffStatus.PREPARING
    handoff.claimed_at = now
    handoff.prepare_until = now + timedelta(seconds=handoff.team.prepare_seconds)
    locked.conversation.status = ConversationStatus.PREPARING
    _save(locked, "agent", "status", "claimed_at", "prepare_until")
    callback_enqueue(
        conversation=locked.conversation,
        handoff=handoff,
        type="handoff.preparing",
        data={"agent": profile.name, "prepare_until": iso(handoff.prepare_until)},
        at=now,
    )
    _changed(locked, also_queue=True)
    eta_refresh_soon(handoff.team_id)
    run_later(handoff_auto_connect, str(handoff.id), delay=handoff.team.prepare_seconds)
    return handoff


@transaction.atomic
def handoff_connect(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """The agent ends the preparation window early ("Connect now")."""
    locked = _lock_for_agent(handoff_id, agent)
    if locked.handoff.status == HandoffStatus.CONNECTED and locked.handoff.agent_id == agent.user_id:
        return locked.handoff
    _require_holder(locked.handoff, agent, doing="connect")
    _connect(locked, at=timezone.now())
    return locked.handoff


def handoff_connect_due(*, handoff_id: str) -> bool:
    """Connect a handoff whose preparation window is over (timer or sweep); False if nothing was due."""
    with transaction.atomic():
        try:
            locked = _lock(handoff_id)
        except NotFound:
            return False
        handoff = locked.handoff
        now = timezone.now()
        if handoff.status != HandoffStatus.PREPARING or handoff.prepare_until is None:
            return False
        if handoff.prepare_until > now + CONNECT_TOLERANCE:
            return False  # an early timer (the window was extended or re-claimed): the next one will do
        _connect(locked, at=now)
        return True


def handoffs_connect_overdue() -> int:
    due = Handoff.objects.filter(
        status=HandoffStatus.PREPARING, prepare_until__lte=timezone.now()
    ).values_list("id", flat=True)
    return sum(handoff_connect_due(handoff_id=str(pk)) for pk in list(due[:200]))


def _connect(locked: Locked, *, at: datetime) -> None:
    handoff = locked.handoff
    handoff.status = HandoffStatus.CONNECTED
    handoff.connected_at = at
    locked.conversation.status = ConversationStatus.CONNECTED
    name = person_name(handoff.agent)
    _system_turn(locked, f"{name} joined the conversation.", at)
    _save(locked, "status", "connected_at")
    callback_enqueue(
        conversation=locked.conversation,
        handoff=handoff,
        type="handoff.connected",
        data={"agent": name},
        at=at,
    )
    _changed(locked)


# --- chat -----------------------------------------------------------------------------------------


@transaction.atomic
def handoff_message_send(
    *, handoff_id: str, agent: AgentProfile, text: str, idempotency_key: str = ""
) -> tuple[Turn, bool]:
    """A message from the agent to the customer; returns (turn, created). Sending during the preparation
    window connects first: the agent chose to start. A retried key returns the first message."""
    text = text.strip()
    if not text:
        raise InvalidInput("A message needs some text.", errors=[{"loc": ["body", "text"], "msg": "empty"}])
    locked = _lock_for_agent(handoff_id, agent)
    external_id = f"agent:{agent.user_id}:{idempotency_key}" if idempotency_key else ""
    if external_id:
        earlier = Turn.objects.filter(conversation=locked.conversation, external_id=external_id).first()
        if earlier is not None:
            return earlier, False
    _require_holder(locked.handoff, agent, doing="message")
    now = timezone.now()
    # Checked against the package as the agent saw it; sending stays their choice, the warning is kept.
    warnings = draft_check(context=locked.conversation.context, text=text)
    if locked.handoff.status == HandoffStatus.PREPARING:
        _connect(locked, at=now)
    turn = turn_add(
        locked.conversation,
        role="agent",
        text=text,
        at=now,
        external_id=external_id,
        author=agent.user,
        handoff=locked.handoff,
    )
    assert turn is not None  # the external id was checked above, under the conversation lock
    locked.conversation.save(update_fields=["last_seq", "context", "updated_at"])
    callback_enqueue(
        conversation=locked.conversation,
        handoff=locked.handoff,
        type="message.created",
        data={"text": text, "agent": agent.name, "seq": turn.seq},
        at=now,
    )
    MessageWarning.objects.bulk_create(
        MessageWarning(
            turn=turn,
            handoff=locked.handoff,
            kind=warning["kind"],
            message=warning["message"],
            evidence=warning.get("evidence") or {},
            created_at=now,
        )
        for warning in warnings
    )
    broadcast_on_commit(conversation_group(locked.conversation.id), turn_event(turn))
    enqueue_on_commit(assist_for_turn, turn.pk)
    return turn, True


# --- endings --------------------------------------------------------------------------------------


def _end(locked: Locked, status: HandoffStatus, at: datetime) -> None:
    locked.handoff.status = status
    locked.handoff.ended_at = at


@transaction.atomic
def handoff_resolve(*, handoff_id: str, agent: AgentProfile, resolution: str) -> Handoff:
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.status == HandoffStatus.RESOLVED and handoff.agent_id == agent.user_id:
        return handoff  # a retry
    _require_holder(handoff, agent, doing="resolve")
    resolution = resolution.strip()
    if not resolution:
        raise InvalidInput(
            "Say how it was resolved.", errors=[{"loc": ["body", "resolution"], "msg": "required"}]
        )
    now = timezone.now()
    if handoff.connected_at is None:
        handoff.connected_at = now
    _end(locked, HandoffStatus.RESOLVED, now)
    handoff.resolution = resolution
    locked.conversation.status = ConversationStatus.RESOLVED
    _system_turn(locked, f"{agent.name} resolved the conversation.", now)
    _save(locked, "status", "ended_at", "connected_at", "resolution")
    callback_enqueue(
        conversation=locked.conversation,
        handoff=handoff,
        type="handoff.resolved",
        data={"resolution": resolution},
        at=now,
    )
    _changed(locked)
    return handoff


@transaction.atomic
def handoff_return_to_bot(*, handoff_id: str, agent: AgentProfile, note: str) -> Handoff:
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.status == HandoffStatus.RETURNED_TO_BOT and handoff.agent_id == agent.user_id:
        return handoff
    _require_holder(handoff, agent, doing="return")
    now = timezone.now()
    _end(locked, HandoffStatus.RETURNED_TO_BOT, now)
    handoff.note = note.strip()
    locked.conversation.status = ConversationStatus.RETURNED_TO_BOT
    _system_turn(locked, f"{agent.name} handed the conversation back to the assistant.", now)
    _save(locked, "status", "ended_at", "note")
    callback_enqueue(
        conversation=locked.conversation,
        handoff=handoff,
        type="handoff.returned_to_bot",
        data={"note": handoff.note},
        at=now,
    )
    _changed(locked)
    return handoff


def transfer_priority(handoff: Handoff, conversation: Conversation) -> Priority:
    """The priority a conversation starts with in the queue it is transferred to (before aging).

    Scored on the package as it is now, and a transfer weighs like a re-escalation, so the customer, who
    has already waited once, is not sent to the back of another line. A shift handover ranks with this
    too (handoffs.services.handover), so its order is the order the receivers' queues show."""
    context = conversation.context
    priority = handoff_priority(
        urgency=handoff.urgency,
        emotion=context["emotion"]["current"],
        trend=context["emotion"]["trend"],
        complexity=conversation.complexity,
        reason_code=handoff.reason_code,
        re_escalation=False,
    )
    return Priority(base=priority.base + RE_ESCALATION, reasons=priority.reasons)


@transaction.atomic
def handoff_transfer(
    *,
    handoff_id: str,
    agent: AgentProfile,
    note: str,
    team: str = "",
    to_agent: str = "",
    fragility: Priority | None = None,
) -> Handoff:
    """A warm transfer: this handoff ends as ``transferred`` and a new one, whose frame carries the package
    as it is now and the note, waits for the other team (or only for the named person).

    ``fragility`` (a shift handover's, see handoffs.priority.handover_fragility) is added to the new
    handoff's priority and reasons."""
    if bool(team) == bool(to_agent):
        raise InvalidInput(
            "Transfer to a team or to an agent (one of them).",
            errors=[{"loc": ["body", "team"], "msg": "give team or agent, not both"}],
        )
    note = note.strip()
    if not note:
        raise InvalidInput(
            "A warm transfer needs a note for the next person.",
            errors=[{"loc": ["body", "note"], "msg": "required"}],
        )
    locked = _lock_for_agent(handoff_id, agent)
    old = locked.handoff
    _require_holder(old, agent, doing="transfer")
    target_team, target_user = _transfer_target(old=old, agent=agent, team=team, username=to_agent)
    now = timezone.now()
    _end(locked, HandoffStatus.TRANSFERRED, now)
    _save(locked, "status", "ended_at")  # frees the one-open-handoff slot before the next one is created

    context = locked.conversation.context
    # The customer has already waited once: the time since their first escalation keeps counting.
    first_queued_at = chain_start(old)
    priority = transfer_priority(old, locked.conversation)
    extra = fragility or Priority(base=0.0)
    base = priority.base + extra.base
    reasons = [*priority.reasons, f"transferred by {agent.name}", *extra.reasons]
    queue_key = Priority(base=base).queue_key(queued_at=first_queued_at)
    position = queue_position_for(team_id=target_team.id, queue_key=queue_key)
    frame = pkg.frame_of(context)
    frame["transfer"] = {
        "from_handoff": str(old.id),
        "from_agent": agent.name,
        "from_team": old.team.name,
        "note": note,
        "at": iso(now),
    }
    new = Handoff.objects.create(
        conversation=locked.conversation,
        team=target_team,
        previous=old,
        reserved_for=target_user,
        status=HandoffStatus.QUEUED,
        reason=old.reason,
        reason_code=old.reason_code,
        focus=old.focus,
        urgency=old.urgency,
        skills=old.skills,
        language=old.language,
        base_priority=base,
        priority_reasons=reasons,
        queue_key=queue_key,
        queue_position_at_queue=position,
        estimated_wait_seconds=estimate_wait_seconds(team=target_team, position=position),
        queued_at=now,
        frame=frame,
        note=note,
    )
    locked.conversation.status = ConversationStatus.QUEUED
    to_whom = person_name(target_user) if target_user is not None else f"the {target_team.name} team"
    _system_turn(locked, f"{agent.name} transferred the conversation to {to_whom}.", now)
    pkg.record_handoff(context, package_entry(new))
    locked.conversation.save(update_fields=["status", "last_seq", "context", "updated_at"])
    callback_enqueue(
        conversation=locked.conversation,
        handoff=old,
        type="handoff.transferred",
        data={
            "to_handoff_id": str(new.id),
            "team": target_team.name,
            "agent": person_name(target_user) if target_user is not None else None,
            "estimated_wait_seconds": new.estimated_wait_seconds,
        },
        at=now,
    )
    _changed(locked)
    broadcast_on_commit(team_queue_group(target_team.id), queued_event(new, now=new.queued_at))
    return new


def _transfer_target(*, old: Handoff, agent: AgentProfile, team: str, username: str) -> tuple[Team, Any]:
    if team:
        target = Team.objects.filter(name=team).first()
        if target is None:
            raise InvalidInput(
                f"No team named {team!r}.", errors=[{"loc": ["body", "team"], "msg": "unknown team"}]
            )
        return target, None
    profile = (
        AgentProfile.objects.select_related("user")
        .prefetch_related("teams")
        .filter(user__username=username, user__is_active=True)
        .first()
    )
    if profile is None:
        raise InvalidInput(
            f"No agent named {username!r}.", errors=[{"loc": ["body", "agent"], "msg": "unknown agent"}]
        )
    if profile.pk == agent.pk:
        raise InvalidInput(
            "That is you.", errors=[{"loc": ["body", "agent"], "msg": "cannot transfer to yourself"}]
        )
    teams = list(profile.teams.all())
    if not teams:
        raise InvalidInput(
            f"{profile.name} is in no team.", errors=[{"loc": ["body", "agent"], "msg": "agent has no team"}]
        )
    same = next((t for t in teams if t.pk == old.team_id), None)
    return same or teams[0], profile.user
