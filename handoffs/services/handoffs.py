"""A handoff's life after escalation: claim → preparation window → connected → resolved, transferred or
returned to the bot. The console and the agent API call these same functions.

Locking: every write locks the conversation row first, then the handoff, then (for a claim) the agent's
profile, always in that order, the same order ingest uses; two agents claiming at once serialise on the
handoff row and the second sees a 409.

Timing: once connected, the holder's first message is due within ``Team.first_reply_seconds`` and an answer
to a customer message within ``Team.answer_seconds`` (``Handoff.reply_due_at``, the earliest unanswered
one). Past it, ``handoff_reassign_due`` (a timer per deadline, a beat sweep behind it) ends the handoff as
transferred and queues the customer again in the same team, keeping their place in line.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.broadcast import (
    broadcast_on_commit,
    conversation_group,
    floor_changed_on_commit,
    team_queue_group,
)
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
    PrivateNote,
    Team,
    Turn,
    TurnRole,
)
from handoffs.priority import RE_ESCALATION, Priority, handoff_priority
from handoffs.scheduling import enqueue_on_commit, run_later
from handoffs.schemas import CallbackCommitment
from handoffs.selectors import chain_start, handoff_id_for_agent, person_name
from handoffs.services.callbacks import callback_enqueue
from handoffs.services.drafts import draft_check
from handoffs.services.escalation import package_entry, queue_position_for
from handoffs.services.report_columns import sentiment_sides_refresh
from handoffs.services.routing import (
    eta_refresh_soon,
    offer_next,
    queued_event,
    takeback_promise,
    takeback_schedule,
)
from handoffs.services.turns import commitment_record, turn_add, turn_event
from handoffs.services.wait import estimate_wait_seconds
from handoffs.tasks import assist_for_turn, handoff_auto_connect, handoff_reply_check

ACTIVE_STATUSES = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
# A timer may fire a hair early (clock skew between web and worker hosts); within this, it is due.
CONNECT_TOLERANCE = timedelta(seconds=1)
# Handoff.end_reason: reassigned for want of a reply; taken back by the bot while waiting.
NO_FIRST_REPLY = "no_first_reply"
REPLY_OVERDUE = "reply_overdue"
TAKEBACK = "takeback"


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
    """Tell whoever watches: the conversation's viewers, the team's supervisors (their floor counts who is
    busy and what is in preparation) and, when it leaves or joins a queue, the team's queue."""
    handoff = locked.handoff
    event = {"type": "handoff.updated", "handoff_id": str(handoff.id), "status": handoff.status}
    broadcast_on_commit(conversation_group(locked.conversation.id), event)
    floor_changed_on_commit([handoff.team_id])
    if also_queue:
        broadcast_on_commit(team_queue_group(handoff.team_id), event)


def _sentiment_refresh(handoff: Handoff) -> None:
    """The handoff's sentiment sides after its queued or connected moment was set (docs/metrics.md)."""
    sentiment_sides_refresh(Handoff.objects.filter(pk=handoff.pk))


def _system_turn(locked: Locked, text: str, at: datetime) -> None:
    turn = turn_add(locked.conversation, role="system", text=text, at=at, handoff=locked.handoff)
    if turn is not None:
        broadcast_on_commit(conversation_group(locked.conversation.id), turn_event(turn))


# --- claim and preparation ------------------------------------------------------------------------


@transaction.atomic
def handoff_claim(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """Take a queued handoff: it leaves every queue and the preparation window starts.

    A warm transfer still in its overlap window is different: the sender is still chatting, so the customer
    hears nothing yet and no preparation timer starts; the receiver reads in until they take over (or the
    window ends, see ``handoff_connect_due``)."""
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.agent_id == agent.user_id and handoff.status in ACTIVE_STATUSES:
        return handoff  # a double click or a retried request: already theirs
    profile = _claimable_by(handoff, agent)
    now = timezone.now()
    handoff.agent = profile.user
    handoff.status = HandoffStatus.PREPARING
    handoff.claimed_at = now
    if handoff.overlap_until is not None:
        handoff.prepare_until = handoff.overlap_until
        handoff.save(update_fields=["agent", "status", "claimed_at", "prepare_until", "updated_at"])
        _changed(locked, also_queue=True)
        return handoff
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


def _claimable_by(handoff: Handoff, agent: AgentProfile) -> AgentProfile:
    """The claimer's profile, locked (capacity is counted under it); Conflict if they may not take it."""
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
    return profile


@transaction.atomic
def handoff_connect(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """The agent ends the preparation window early ("Connect now")."""
    locked = _lock_for_agent(handoff_id, agent)
    if locked.handoff.status == HandoffStatus.CONNECTED and locked.handoff.agent_id == agent.user_id:
        return locked.handoff
    _require_holder(locked.handoff, agent, doing="connect")
    if locked.handoff.overlap_until is not None:
        return _take_over(locked, agent)  # connecting to a warm transfer is taking it over
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
        if handoff.overlap_until is not None:  # a warm transfer's overlap window: it completes by itself
            if handoff.overlap_until > now + CONNECT_TOLERANCE:
                return False
            if handoff.agent_id is None and locked.conversation.customer_left_at is not None:
                _transfer_lapse(locked, now=now)  # nobody took it and the customer is gone: no queue
            else:
                _transfer_complete(locked, now=now)
            return True
        if handoff.status != HandoffStatus.PREPARING or handoff.prepare_until is None:
            return False
        if handoff.prepare_until > now + CONNECT_TOLERANCE:
            return False  # an early timer (the window was extended or re-claimed): the next one will do
        _connect(locked, at=now)
        return True


def handoffs_connect_overdue() -> int:
    """Beat: preparation windows and warm-transfer overlap windows that are over but whose timer was lost."""
    now = timezone.now()
    due = Handoff.objects.filter(
        Q(status=HandoffStatus.PREPARING, prepare_until__lte=now)
        | Q(status__in=[HandoffStatus.QUEUED, HandoffStatus.PREPARING], overlap_until__lte=now)
    ).values_list("id", flat=True)
    return sum(handoff_connect_due(handoff_id=str(pk)) for pk in list(due[:200]))


def _connect(locked: Locked, *, at: datetime, replying: bool = False) -> None:
    """Connected: the agent's first message is due within the team's limit (unless it is being sent now, or
    the customer has left: then the person only wraps up, and nothing may reassign a chat nobody is in)."""
    handoff = locked.handoff
    handoff.status = HandoffStatus.CONNECTED
    handoff.connected_at = at
    locked.conversation.status = ConversationStatus.CONNECTED
    name = person_name(handoff.agent)
    _system_turn(locked, f"{name} joined the conversation.", at)
    limit = handoff.team.first_reply_seconds
    if limit and not replying and locked.conversation.customer_left_at is None:
        handoff.reply_due_at = at + timedelta(seconds=limit)
        run_later(handoff_reply_check, str(handoff.id), delay=limit)
    _save(locked, "status", "connected_at", "reply_due_at")
    _sentiment_refresh(handoff)
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
    _require_taken_over(locked.handoff)  # first: the receiver of a transfer is told what to do
    _require_holder(locked.handoff, agent, doing="message")
    now = timezone.now()
    # Checked against the package as the agent saw it; sending stays their choice, the warning is kept.
    warnings = draft_check(context=locked.conversation.context, text=text)
    if locked.handoff.status == HandoffStatus.PREPARING:
        _connect(locked, at=now, replying=True)
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
    if locked.handoff.reply_due_at is not None:
        locked.handoff.reply_due_at = None  # answered: nothing is due until the customer writes again
        locked.handoff.save(update_fields=["reply_due_at", "updated_at"])
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
    _require_own_chat(handoff)
    resolution = resolution.strip()
    if not resolution:
        raise InvalidInput(
            "Say how it was resolved.", errors=[{"loc": ["body", "resolution"], "msg": "required"}]
        )
    now = timezone.now()
    connects = handoff.connected_at is None  # resolved straight from the preparation window
    if connects:
        handoff.connected_at = now
    _end(locked, HandoffStatus.RESOLVED, now)
    handoff.resolution = resolution
    locked.conversation.status = ConversationStatus.RESOLVED
    _system_turn(locked, f"{agent.name} resolved the conversation.", now)
    _save(locked, "status", "ended_at", "connected_at", "resolution")
    if connects:
        _sentiment_refresh(handoff)
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
    _require_own_chat(handoff)
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
    overlap: bool = False,
    fragility: Priority | None = None,
) -> Handoff:
    """A warm transfer to a team or a named colleague, with a note; returns the new handoff, whose frame
    carries the package and the note.

    Without ``overlap`` (the API's default) it is one step: this handoff ends as ``transferred`` and the
    customer waits for the other team (or only for the named person). With it (the console), and while the
    chat is connected, the sender keeps the customer for the target team's ``overlap_seconds``: the receiver
    observes read-only and exchanges private notes with the sender, then takes over
    (``handoff_take_over``); see ``transfer_begin``.

    ``fragility`` (a shift handover's, see handoffs.priority.handover_fragility) is added to the new
    handoff's priority and reasons."""
    if bool(team) == bool(to_agent):
        raise InvalidInput(
            "Transfer to a team or to an agent (one of them).",
            errors=[{"loc": ["body", "team"], "msg": "give team or agent, not both"}],
        )
    note = _transfer_note(note)
    locked = _lock_for_agent(handoff_id, agent)
    _require_holder(locked.handoff, agent, doing="transfer")
    target_team, target_user = _transfer_target(
        old=locked.handoff, holder=agent, team=team, username=to_agent
    )
    return transfer_begin(
        locked,
        by=agent,
        note=note,
        target_team=target_team,
        target_user=target_user,
        overlap=overlap,
        fragility=fragility,
    )


def _transfer_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise InvalidInput(
            "A warm transfer needs a note for the next person.",
            errors=[{"loc": ["body", "note"], "msg": "required"}],
        )
    return note


def transfer_begin(
    locked: Locked,
    *,
    by: AgentProfile,
    note: str,
    target_team: Team,
    target_user: Any,
    overlap: bool,
    fragility: Priority | None = None,
) -> Handoff:
    """Start a warm transfer of the locked, live handoff (by its holder, or a supervisor reassigning it).

    One step when ``overlap`` is off, the target team's window is 0 or nobody is chatting yet: see
    ``handoff_transfer``. Otherwise the new handoff waits in the target queue with ``overlap_until`` set
    and nothing changes for the customer (no line, no callback, no package entry) until the transfer
    completes: when the receiver takes over, or, at the window's end, by itself (``_transfer_complete``).
    It completes rather than reverts at the end because the sender has decided to let go (often they are
    leaving: a shift handover, a supervisor's reassignment); the window is there for the receiver to read
    in, not to veto. Unclaimed by then, it becomes an ordinary transfer waiting in the queue; the sender can
    still cancel before that (``transfer_cancel``)."""
    old = locked.handoff
    _require_own_chat(old)
    now = timezone.now()
    window = target_team.overlap_seconds if overlap and old.status == HandoffStatus.CONNECTED else 0
    if not window:
        _end(locked, HandoffStatus.TRANSFERRED, now)
        _save(locked, "status", "ended_at")  # frees the one-open-handoff slot before the next one is created
    new = _next_handoff(
        locked,
        by=by,
        note=note,
        target_team=target_team,
        target_user=target_user,
        now=now,
        overlap_until=now + timedelta(seconds=window) if window else None,
        fragility=fragility,
    )
    if window:
        _changed(locked)  # the sender's console shows the pending transfer
        run_later(handoff_auto_connect, str(new.id), delay=window)
        # Offered (an offer team) or shown to the pool, so someone can have it and read in; no take-back
        # timer nor ETA while the customer is still chatting: those start if it completes unclaimed.
        if target_team.routing_mode == Team.RoutingMode.OFFER and target_user is None:
            offer_next(new)  # not back to the sender (``_next_handoff`` recorded them as offered)
        else:
            broadcast_on_commit(team_queue_group(target_team.id), queued_event(new, now=new.queued_at))
    else:
        _announce_transfer(locked, new, now=now)
        _changed(locked)
        _route(new)
    return new


def _route(new: Handoff) -> None:
    """A handoff queued by a transfer or a reassignment is routed like an escalation: offered in an offer
    team (unless it waits for a named person, or an offer made during its overlap window is still running),
    shown to the pool otherwise; its take-back timer starts."""
    offering = new.offer_expires_at is not None and new.offer_expires_at > timezone.now()
    if new.team.routing_mode == Team.RoutingMode.OFFER and new.reserved_for_id is None and not offering:
        offer_next(new)
    else:  # a pool, a named person, or an offer made in the overlap window still running (its timer moves it)
        broadcast_on_commit(team_queue_group(new.team_id), queued_event(new, now=new.queued_at))
    takeback_schedule(new)
    eta_refresh_soon(new.team_id)


def _next_handoff(
    locked: Locked,
    *,
    by: AgentProfile,
    note: str,
    target_team: Team,
    target_user: Any,
    now: datetime,
    overlap_until: datetime | None,
    fragility: Priority | None = None,
    reason: str = "",
) -> Handoff:
    """The next handoff of a conversation (transfers and reassignments): the package and the note in its
    frame, the customer's waiting time and a transfer's weight in its priority. ``reason``: why the system
    reassigned it (``Handoff.end_reason`` of the old one). Neither a reassigned handoff nor a warm transfer in
    its overlap window is offered back to the person who had it; that is stored now, so the window's end
    (which reloads the row) still knows."""
    old = locked.handoff
    context = locked.conversation.context
    # The customer has already waited once: the time since their first escalation keeps counting.
    first_queued_at = chain_start(old)
    priority = transfer_priority(old, locked.conversation)
    extra = fragility or Priority(base=0.0)
    base = priority.base + extra.base
    moved = f"reassigned: {note}" if reason else f"transferred by {by.name}"
    reasons = [*priority.reasons, moved, *extra.reasons]
    queue_key = Priority(base=base).queue_key(queued_at=first_queued_at)
    position = queue_position_for(team_id=target_team.id, queue_key=queue_key)
    holder = person_name(old.agent) if old.agent is not None else by.name
    frame = pkg.frame_of(context)
    frame["transfer"] = {
        "from_handoff": str(old.id),
        "from_agent": holder,
        "from_team": old.team.name,
        "by": by.name,
        "by_supervisor": by.user_id != old.agent_id,
        "note": note,
        "at": iso(now),
        "overlap_until": iso(overlap_until) if overlap_until else None,
    } | ({"reason": reason} if reason else {})
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
        overlap_until=overlap_until,
        frame=frame,
        note=note,
        offered_before=[old.agent_id] if (reason or overlap_until) and old.agent_id else [],
    )
    _sentiment_refresh(new)
    return new


def _announce_transfer(locked: Locked, new: Handoff, *, now: datetime) -> None:
    """Tell the customer (a system line, ``handoff.transferred``) that ``locked.handoff`` went to ``new``."""
    old = locked.handoff
    context = locked.conversation.context
    transfer = new.frame["transfer"]
    person = new.agent or new.reserved_for
    to_whom = person_name(person) if person is not None else f"the {new.team.name} team"
    if transfer.get("reason"):
        _system_turn(locked, f"{transfer['from_agent']} could not continue; {to_whom} will take over.", now)
    elif transfer["by_supervisor"]:
        _system_turn(locked, f"The conversation was transferred to {to_whom}.", now)
    else:
        _system_turn(locked, f"{transfer['from_agent']} transferred the conversation to {to_whom}.", now)
    locked.conversation.status = ConversationStatus.QUEUED
    pkg.record_handoff(context, package_entry(new))
    locked.conversation.save(update_fields=["status", "last_seq", "context", "updated_at"])
    callback_enqueue(
        conversation=locked.conversation,
        handoff=old,
        type="handoff.transferred",
        data={
            "to_handoff_id": str(new.id),
            "team": new.team.name,
            "agent": person_name(person) if person is not None else None,
            "estimated_wait_seconds": 0 if new.agent is not None else new.estimated_wait_seconds,
        }
        | ({"reason": transfer["reason"]} if transfer.get("reason") else {}),
        at=now,
    )


# --- the overlap window of a warm transfer --------------------------------------------------------


def pending_transfer(old: Handoff, *, lock: bool = False) -> Handoff | None:
    """The warm transfer of this handoff still in its overlap window, if any."""
    rows = Handoff.objects.select_related("team", "agent__agent", "reserved_for__agent")
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.filter(
        previous=old, overlap_until__isnull=False, status__in=[HandoffStatus.QUEUED, HandoffStatus.PREPARING]
    ).first()


def _require_own_chat(handoff: Handoff) -> None:
    """Whole-chat actions (send, resolve, return, transfer) belong to whoever the customer is with: not to
    a receiver still reading in, nor to a sender whose transfer is pending (cancel it first)."""
    _require_taken_over(handoff)
    if pending_transfer(handoff) is not None:
        raise Conflict(
            "A transfer of this chat is pending; cancel it first, or let the receiver take over.",
            code="transfer_pending",
        )


def _require_taken_over(handoff: Handoff) -> None:
    if handoff.overlap_until is not None:
        raise Conflict(
            "You are reading in on a warm transfer: take over to write to the customer.",
            code="take_over_first",
        )


def _take_over(locked: Locked, agent: AgentProfile) -> Handoff:
    """The receiver of a warm transfer in its overlap window takes over (claiming it first if need be)."""
    new = locked.handoff
    if new.status == HandoffStatus.QUEUED:
        profile = _claimable_by(new, agent)
        new.agent = profile.user
        new.status = HandoffStatus.PREPARING
        new.claimed_at = timezone.now()
    elif new.agent_id != agent.user_id:
        raise Conflict(f"{person_name(new.agent)} is taking over this transfer.", code="already_claimed")
    _transfer_complete(locked, now=timezone.now())
    return new


def _transfer_complete(locked: Locked, *, now: datetime) -> None:
    """End the overlap window of the locked new handoff: the sender's handoff ends as ``transferred`` and
    the customer is told; a receiver who has it is connected at once, otherwise it waits in the queue as
    an ordinary transfer. The frame is completed here, once: the package as it is now (what was said
    during the overlap included), the transfer note and the private notes the two exchanged."""
    new = locked.handoff
    assert new.previous_id is not None  # an overlap window belongs to a transfer
    old = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team", "agent__agent")
        .get(pk=new.previous_id)
    )
    sender = Locked(conversation=locked.conversation, handoff=old)
    if old.status in ACTIVE_STATUSES:
        _end(sender, HandoffStatus.TRANSFERRED, now)
        _save(sender, "status", "ended_at")
    frame = pkg.frame_of(locked.conversation.context)
    frame["transfer"] = new.frame["transfer"] | {
        "private_notes": [
            {"author": note.author_name, "text": note.text, "at": iso(note.created_at)}
            for note in transfer_notes(new)
        ],
        "overlap_ended_at": iso(now),
        "taken_over": new.agent_id is not None,
    }
    new.frame = frame
    new.overlap_until = None
    if new.agent_id is not None:
        new.prepare_until = now
    new.save(
        update_fields=[
            "frame",
            "overlap_until",
            "agent",
            "status",
            "claimed_at",
            "prepare_until",
            "updated_at",
        ]
    )
    _announce_transfer(sender, new, now=now)
    _changed(sender)
    if new.agent_id is not None:
        _connect(locked, at=now)
        broadcast_on_commit(
            team_queue_group(new.team_id), {"type": "handoff.removed", "handoff_id": str(new.id)}
        )
    else:
        _changed(locked)
        _route(new)  # now an ordinary transfer: offered again, take-back timer, ETA


def _transfer_lapse(locked: Locked, *, now: datetime) -> None:
    """End the overlap window of the locked new handoff when nobody took it and the customer has left: the
    sender's handoff ends as ``transferred`` (they let it go) and the new one as ``abandoned`` (the customer
    left before anyone connected), instead of queueing, offering and announcing a chat nobody is in."""
    new = locked.handoff
    assert new.previous_id is not None  # an overlap window belongs to a transfer
    old = Handoff.objects.select_for_update(of=("self",)).select_related("team").get(pk=new.previous_id)
    sender = Locked(conversation=locked.conversation, handoff=old)
    if old.status in ACTIVE_STATUSES:
        _end(sender, HandoffStatus.TRANSFERRED, now)
    _end(locked, HandoffStatus.ABANDONED, now)
    new.overlap_until = None
    new.offered_to, new.offer_expires_at = None, None
    new.save(
        update_fields=["status", "ended_at", "overlap_until", "offered_to", "offer_expires_at", "updated_at"]
    )
    locked.conversation.status = ConversationStatus.ABANDONED
    _save(sender, "status", "ended_at")
    broadcast_on_commit(team_queue_group(new.team_id), {"type": "handoff.removed", "handoff_id": str(new.id)})
    _changed(sender)
    _changed(locked)


def transfer_take_over_now(locked: Locked, *, by: AgentProfile) -> Handoff:
    """A supervisor takes the locked live chat over at once: the holder's handoff ends as ``transferred``
    and a new one, connected with the supervisor, records who had it (no overlap: they were observing)."""
    _require_own_chat(locked.handoff)
    now = timezone.now()
    _end(locked, HandoffStatus.TRANSFERRED, now)
    _save(locked, "status", "ended_at")
    new = _next_handoff(
        locked,
        by=by,
        note=f"{by.name} (supervisor) took over.",
        target_team=locked.handoff.team,
        target_user=by.user,
        now=now,
        overlap_until=None,
    )
    new.agent = by.user
    new.status = HandoffStatus.PREPARING
    new.claimed_at = now
    new.prepare_until = now
    new.save(update_fields=["agent", "status", "claimed_at", "prepare_until", "updated_at"])
    _announce_transfer(locked, new, now=now)
    _changed(locked)
    _connect(Locked(conversation=locked.conversation, handoff=new), at=now)
    return new


def transfer_notes(new: Handoff) -> list[PrivateNote]:
    """The private notes of a warm transfer: written on the sender's handoff since the transfer began."""
    if new.previous_id is None:
        return []
    return list(
        PrivateNote.objects.filter(
            handoff_id=new.previous_id, kind=PrivateNote.Kind.TRANSFER, created_at__gte=new.queued_at
        ).order_by("created_at", "id")
    )


# --- timing: reassign when the holder does not answer in time -------------------------------------


def handoff_customer_wrote(conversation: Conversation) -> None:
    """A customer message reached a connected person: an answer is due within ``Team.answer_seconds`` (the
    earliest unanswered message counts, so a deadline already running stays). The caller holds the
    conversation's lock; the deadline runs from now, not from the bot's ``occurred_at``."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(conversation=conversation, status=HandoffStatus.CONNECTED)
        .first()
    )
    if handoff is None or handoff.reply_due_at is not None or not handoff.team.answer_seconds:
        return
    handoff.reply_due_at = timezone.now() + timedelta(seconds=handoff.team.answer_seconds)
    handoff.save(update_fields=["reply_due_at", "updated_at"])
    run_later(handoff_reply_check, str(handoff.id), delay=handoff.team.answer_seconds)


def handoff_reassign_due(*, handoff_id: str) -> bool:
    """The connected agent let a reply deadline pass (timer or sweep): the handoff ends as transferred and
    the customer waits again in the same team's queue, keeping their place in line, offered first to
    someone else. The customer hears it through ``handoff.transferred`` (with ``reason``) and a system
    line, the agent's console through the handoff's live state. False when nothing was due (answered,
    ended, early, the customer has left, or a warm transfer of the chat is already under way)."""
    with transaction.atomic():
        try:
            locked = _lock(handoff_id)
        except NotFound:
            return False
        old = locked.handoff
        now = timezone.now()
        if old.status != HandoffStatus.CONNECTED or old.reply_due_at is None:
            return False
        if old.reply_due_at > now + CONNECT_TOLERANCE or pending_transfer(old) is not None:
            return False  # answered and due again later (its own timer will come), or being handed on
        if locked.conversation.customer_left_at is not None:
            # Nobody to answer: the customer left (``customer_left`` clears the deadline; this is for one
            # set by a race). Reassigning would re-queue a customer who is gone.
            old.reply_due_at = None
            old.save(update_fields=["reply_due_at", "updated_at"])
            return False
        assert old.agent is not None  # a connected handoff has its person
        holder = old.agent.agent
        if Turn.objects.filter(handoff=old, role=TurnRole.AGENT).exists():
            reason = REPLY_OVERDUE
            note = (
                f"{holder.name} left the customer's message unanswered for {_span(old.team.answer_seconds)}."
            )
        else:
            reason = NO_FIRST_REPLY
            note = (
                f"{holder.name} did not write to the customer within {_span(old.team.first_reply_seconds)}."
            )
        _end(locked, HandoffStatus.TRANSFERRED, now)
        old.end_reason = reason
        old.reply_due_at = None
        _save(locked, "status", "ended_at", "end_reason", "reply_due_at")
        new = _next_handoff(
            locked,
            by=holder,
            note=note,
            target_team=old.team,
            target_user=None,
            now=now,
            overlap_until=None,
            reason=reason,
        )
        _announce_transfer(locked, new, now=now)
        _changed(locked, also_queue=True)
        _route(new)
        return True


def handoffs_reassign_overdue() -> int:
    """Beat: reassign every connected handoff whose reply deadline passed and whose timer was lost."""
    due = Handoff.objects.filter(
        status=HandoffStatus.CONNECTED, reply_due_at__lte=timezone.now()
    ).values_list("id", flat=True)
    return sum(handoff_reassign_due(handoff_id=str(pk)) for pk in list(due[:200]))


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


# --- the bot takes a waiting customer back -------------------------------------------------------


def handoff_take_back(
    *, conversation: Conversation, note: str, callback: CallbackCommitment | None, at: datetime
) -> Handoff:
    """The bot takes back a customer nobody has claimed yet (a ``takeback`` event, usually answering
    ``handoff.takeback_offered``): the handoff ends as returned to the bot and the callback promise is
    recorded as a commitment, the bot's own or else the one offered, so the tracker shows it kept or
    broken. Ingest holds the conversation's lock; a person who already has it keeps it (409)."""
    open_handoffs = list(
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(conversation=conversation, status__in=[HandoffStatus.QUEUED, *ACTIVE_STATUSES])
    )
    if not open_handoffs:
        raise Conflict(
            "This conversation has no handoff waiting to be taken back.", code="no_waiting_handoff"
        )
    handoff = open_handoffs[0]
    # A person has it, or is handing it on (a warm transfer's window has two open handoffs).
    if len(open_handoffs) > 1 or handoff.status != HandoffStatus.QUEUED or handoff.overlap_until is not None:
        raise Conflict(
            "A person has already taken this conversation; it can no longer be taken back.",
            code="handoff_claimed",
        )
    locked = Locked(conversation=conversation, handoff=handoff)
    offered = takeback_promise(handoff)
    if callback is None and offered is not None:
        callback = CallbackCommitment(text=offered["text"], due=offered["due"])
    commitment = commitment_record(conversation, callback) if callback is not None else None
    _end(locked, HandoffStatus.RETURNED_TO_BOT, at)
    handoff.end_reason = TAKEBACK
    handoff.note = note.strip() or (callback.text if callback is not None else "")
    handoff.offered_to, handoff.offer_expires_at = None, None
    conversation.status = ConversationStatus.RETURNED_TO_BOT
    _system_turn(locked, "The assistant took the conversation back while the customer was waiting.", at)
    _save(locked, "status", "ended_at", "end_reason", "note", "offered_to", "offer_expires_at")
    callback_enqueue(
        conversation=conversation,
        handoff=handoff,
        type="handoff.returned_to_bot",
        data={
            "note": handoff.note,
            "reason": TAKEBACK,
            "commitment": None
            if commitment is None
            else {
                "id": commitment.pk,
                "kind": commitment.kind,
                "text": commitment.text,
                "due": commitment.due or None,
            },
        },
        at=at,
    )
    _changed(locked, also_queue=True)
    eta_refresh_soon(handoff.team_id)  # everyone behind moves up
    return handoff


def _transfer_target(
    *, old: Handoff, holder: AgentProfile, team: str, username: str, among: set[Any] | None = None
) -> tuple[Team, Any]:
    """The team and (for a named colleague) the user a chat goes to. ``among``: the team ids a supervisor
    may route into (their own): another team, or a person in none of them, is not found, as its chats are."""
    if team:
        target = Team.objects.filter(name=team).first()
        if target is not None and among is not None and target.pk not in among:
            raise NotFound("No such team among yours.")
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
    if profile.pk == holder.pk:
        raise InvalidInput(
            "That is you.", errors=[{"loc": ["body", "agent"], "msg": "cannot transfer to yourself"}]
        )
    teams = list(profile.teams.all())
    if among is not None:
        teams = [t for t in teams if t.pk in among]
        if not teams:
            raise NotFound("No such agent among your teams.")
    if not teams:
        raise InvalidInput(
            f"{profile.name} is in no team.", errors=[{"loc": ["body", "agent"], "msg": "agent has no team"}]
        )
    same = next((t for t in teams if t.pk == old.team_id), None)
    return same or teams[0], profile.user
