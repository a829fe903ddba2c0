"""The people around a live chat: the overlap window of a warm transfer and a supervisor's live actions.

- **Overlap** (started by ``handoff_transfer(..., overlap=True)``): the receiver observes read-only and
  exchanges private notes with the sender, then takes over (``handoff_take_over``); the sender may cancel
  before that (``transfer_cancel``); at the window's end it completes by itself (``handoff_connect_due``).
- **Supervisors**, on any live chat of their teams: observe (a page), whisper (``private_note_add``),
  reassign as a warm transfer (``supervisor_reassign``) and take over (``handoff_take_over``).

Private notes never reach the customer: they are not turns, not in the package, not in callbacks; they
are pushed only on the conversation's private group, which only console sockets join, and each socket
shows a note only to a person ``private_notes_readable`` allows. The receiver's frame keeps a copy.

Locking is the handoff module's: the conversation first, then the handoff(s).
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, conversation_group, private_group, team_queue_group
from handoffs.errors import Conflict, Forbidden, InvalidInput
from handoffs.models import NOTE_MAX_CHARS, AgentProfile, Handoff, HandoffStatus, PrivateNote
from handoffs.selectors import person_name
from handoffs.services.handoffs import (
    ACTIVE_STATUSES,
    Locked,
    _changed,
    _lock_for_agent,
    _take_over,
    _transfer_note,
    _transfer_target,
    pending_transfer,
    transfer_begin,
    transfer_notes,
    transfer_take_over_now,
)


def is_supervisor_of(profile: AgentProfile, handoff: Handoff) -> bool:
    return profile.is_supervisor and profile.teams.filter(pk=handoff.team_id).exists()


def receiver_of(new: Handoff) -> Any:
    """Who has a transfer in its overlap window: its claimer, else the named colleague, else the person it
    is being offered to right now; None while it waits in a pool for whoever claims it."""
    if new.agent_id is not None:
        return new.agent_id
    if new.reserved_for_id is not None:
        return new.reserved_for_id
    if new.offered_to_id is not None and new.offer_expires_at and new.offer_expires_at > timezone.now():
        return new.offered_to_id
    return None


def private_notes_readable(handoff: Handoff, profile: AgentProfile) -> bool:
    """Whether this person sees the private notes on this handoff's page: whoever holds it (or, for a
    transfer in its overlap window, has it), the sender of a pending transfer, and its team's supervisors.
    Teammates who merely look at the chat do not."""
    user_id = profile.user_id
    if handoff.agent_id == user_id or is_supervisor_of(profile, handoff):
        return True
    if handoff.overlap_until is not None and receiver_of(handoff) == user_id:
        return True
    previous = handoff.previous
    return previous is not None and handoff.overlap_until is not None and previous.agent_id == user_id


def private_notes_for(handoff: Handoff) -> list[PrivateNote]:
    """The notes a page of this handoff shows (to those ``private_notes_readable`` allows): those written on
    it, and for a warm transfer those its sender and receiver exchanged."""
    own = list(PrivateNote.objects.filter(handoff=handoff).order_by("created_at", "id"))
    return sorted([*transfer_notes(handoff), *own], key=lambda note: (note.created_at, note.pk))


def note_shown_on(note: PrivateNote, handoff: Handoff) -> bool:
    """Whether a note belongs on this handoff's page (the live push's counterpart of ``private_notes_for``)."""
    if note.handoff_id == handoff.pk:
        return True
    return (
        note.kind == PrivateNote.Kind.TRANSFER
        and note.handoff_id == handoff.previous_id
        and note.created_at >= handoff.queued_at
    )


@transaction.atomic
def private_note_add(*, handoff_id: str, agent: AgentProfile, text: str) -> PrivateNote:
    """A private note on a live chat: between the sender and the receiver of a warm transfer in its overlap
    window (on either's handoff), or a supervisor's whisper to the agent. Anyone else: 403."""
    text = text.strip()
    if not text:
        raise InvalidInput("Write the note.", errors=[{"loc": ["body", "text"], "msg": "required"}])
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidInput(
            f"A note is at most {NOTE_MAX_CHARS} characters.",
            errors=[{"loc": ["body", "text"], "msg": "too long"}],
        )
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    on, kind = _note_target(handoff, agent)
    note = PrivateNote.objects.create(
        handoff=on, author=agent.user, author_name=agent.name, kind=kind, text=text, created_at=timezone.now()
    )
    broadcast_on_commit(private_group(locked.conversation.id), {"type": "note.created", "note_id": note.pk})
    return note


def _note_target(handoff: Handoff, agent: AgentProfile) -> tuple[Handoff, str]:
    """Which handoff a note hangs on, and its kind (see PrivateNote)."""
    if handoff.overlap_until is not None and receiver_of(handoff) == agent.user_id:
        return _locked(handoff.previous_id), PrivateNote.Kind.TRANSFER
    if handoff.agent_id == agent.user_id and handoff.status in ACTIVE_STATUSES:
        if pending_transfer(handoff) is not None:
            return handoff, PrivateNote.Kind.TRANSFER
        raise Conflict(
            "Private notes are for a warm transfer in progress; there is none on this chat.",
            code="no_transfer_pending",
        )
    if is_supervisor_of(agent, handoff):
        live = handoff
        if handoff.overlap_until is not None:
            live = _locked(handoff.previous_id)  # whisper to whoever the customer is still with
        if not is_supervisor_of(agent, live):  # a transfer into their team from another: not their chat
            raise Forbidden("Only a supervisor of the team whose chat it is whispers to its agent.")
        if live.status not in ACTIVE_STATUSES or live.agent_id is None:
            raise Conflict("Nobody is handling this chat right now to whisper to.", code="not_live")
        return live, PrivateNote.Kind.WHISPER
    raise Forbidden(
        "Only the two people of a warm transfer, or a supervisor of the team, write private notes here."
    )


def _locked(handoff_id: Any) -> Handoff:
    return Handoff.objects.select_for_update(of=("self",)).select_related("agent__agent").get(pk=handoff_id)


@transaction.atomic
def handoff_take_over(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """Take over a chat; returns the handoff the person now holds.

    - On a warm transfer in its overlap window: its receiver (or, in a pool, whoever may claim it) takes
      over; the sender's handoff ends as ``transferred`` and the customer is told and connected.
    - On a colleague's live chat: a supervisor of its team becomes the handling agent at once (their own
      capacity does not stop them: it is an intervention), as a transfer whose frame names who had it.
    A retry returns the same handoff (given either handoff's id: a supervisor's retry names the chat they
    took over, which has ended as ``transferred`` by then)."""
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.overlap_until is not None:
        return _take_over(locked, agent)
    if handoff.agent_id == agent.user_id and handoff.status == HandoffStatus.CONNECTED:
        return handoff  # a retry, or they already hold it
    if handoff.status == HandoffStatus.TRANSFERRED:
        taken = Handoff.objects.filter(
            previous=handoff, agent_id=agent.user_id, status__in=ACTIVE_STATUSES
        ).first()
        if taken is not None:
            return taken  # a supervisor's retry: the chat went to them
    if not is_supervisor_of(agent, handoff):
        raise Forbidden("Only a supervisor of this team can take over a colleague's chat.")
    if handoff.status not in ACTIVE_STATUSES or handoff.agent_id is None:
        raise Conflict(
            f"This handoff is {handoff.status}; nobody is handling it to take over from.", code="not_live"
        )
    return transfer_take_over_now(locked, by=agent)


@transaction.atomic
def transfer_cancel(*, handoff_id: str, agent: AgentProfile) -> Handoff:
    """Withdraw a warm transfer before the receiver takes over (given either handoff's id); the sender keeps
    the chat. The pending handoff is deleted: the customer never heard of it, no callback named it. Its
    private notes stay on the sender's handoff. A transfer a supervisor started, only a supervisor cancels."""
    locked = _lock_for_agent(handoff_id, agent)
    handoff = locked.handoff
    if handoff.overlap_until is not None:
        sender = _locked(handoff.previous_id)
        pending: Handoff | None = Handoff.objects.select_for_update(of=("self",)).get(pk=handoff.pk)
    else:
        sender = handoff
        pending = pending_transfer(handoff, lock=True)
    if pending is None or pending.overlap_until is None:
        raise Conflict("There is no transfer in progress to cancel.", code="no_transfer_pending")
    by_supervisor = bool(pending.frame.get("transfer", {}).get("by_supervisor"))
    supervisor = is_supervisor_of(agent, sender)
    if not supervisor and (sender.agent_id != agent.user_id or by_supervisor):
        raise Forbidden("Only the sender of this transfer, or a supervisor of the team, can cancel it.")
    pending_id, team_id = str(pending.pk), pending.team_id
    receiver = person_name(pending.agent) if pending.agent is not None else ""
    pending.delete()
    event = {"type": "transfer.cancelled", "handoff_id": pending_id, "by": agent.name, "receiver": receiver}
    broadcast_on_commit(conversation_group(locked.conversation.id), event)
    broadcast_on_commit(team_queue_group(team_id), {"type": "handoff.removed", "handoff_id": pending_id})
    _changed(Locked(conversation=locked.conversation, handoff=sender))
    return sender


@transaction.atomic
def supervisor_reassign(
    *, handoff_id: str, supervisor: AgentProfile, note: str, team: str = "", to_agent: str = ""
) -> Handoff:
    """A supervisor moves a live chat of their team to another agent, or back to a team's queue, with a note,
    as a warm transfer: the agent who has it keeps the customer through the overlap window until the new
    person takes over. Returns the new handoff."""
    if bool(team) == bool(to_agent):
        raise InvalidInput(
            "Reassign to a team's queue or to an agent (one of them).",
            errors=[{"loc": ["body", "team"], "msg": "give team or agent, not both"}],
        )
    note = _transfer_note(note)
    locked = _lock_for_agent(handoff_id, supervisor)
    handoff = locked.handoff
    if not is_supervisor_of(supervisor, handoff):
        raise Forbidden("Only a supervisor of this team can reassign its chats.")
    if handoff.status not in ACTIVE_STATUSES or handoff.agent_id is None:
        raise Conflict(f"This handoff is {handoff.status}; there is no chat to reassign.", code="not_live")
    holder = AgentProfile.objects.select_related("user").get(user_id=handoff.agent_id)
    # Supervisors act only on their teams' chats, and route them only into their teams' queues and people.
    mine = set(supervisor.teams.values_list("pk", flat=True))
    target_team, target_user = _transfer_target(
        old=handoff, holder=holder, team=team, username=to_agent, among=mine
    )
    return transfer_begin(
        locked, by=supervisor, note=note, target_team=target_team, target_user=target_user, overlap=True
    )
