"""Shift handover (issue 9): an agent who leaves hands over every active handoff at once.

``handover_plan`` ranks the agent's handoffs in preparation or chat, most critical first, and drafts a
snapshot of each from its live package (state, what is pending, what to watch for, commitments due):
plain text assembled from the data, no model, so the same package always drafts the same words. The agent
edits the snapshots and picks, per handoff, a colleague or a team queue; ``handover_apply`` transfers them
all in one transaction through ``handoff_transfer`` (so each becomes a warm transfer with its own frame,
whose note is the snapshot), then sets the agent away (their pending offers are withdrawn after the commit).
Every conversation and handoff of the handover is locked first, then the profiles (see ``_lock_all``), the
house order. Any invalid target or a colleague without room rolls the whole handover back; a retry with the
same key returns the first result.

The rank is the priority each conversation will have in its receiver's queue (handoffs.priority):
``transfer_priority`` (urgency, mood and trend now, complexity, authority, the transfer itself) plus
``handover_fragility`` (customer waiting for a reply, promises overdue or due soon, handed around before)
plus aging since the customer first escalated. The transfer queues each new handoff with that same base
and chain start, so every receiver's queue lists the handed-over conversations in the plan's order.
"""

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs.context.reading import PRIMARY_SLOTS, detail_phrase, first_customer_text
from handoffs.context.summary import readable_due
from handoffs.errors import Conflict, InvalidInput
from handoffs.models import NOTE_MAX_CHARS, AgentProfile, Conversation, Handoff, HandoffStatus, Handover, Team
from handoffs.priority import DUE_SOON_SECONDS, Priority, handover_fragility
from handoffs.selectors import (
    Colleague,
    agent_loads,
    chain_start,
    colleagues_available,
    handoff_id_for_agent,
    person_name,
)
from handoffs.services.agents import agent_presence_set
from handoffs.services.handoffs import (
    ACTIVE_STATUSES,
    handoff_transfer,
    pending_transfer,
    transfer_priority,
)
from handoffs.services.turns import due_at

QUOTE_LIMIT = 160
LONG_WAIT = timedelta(minutes=10)
UPSET = ("concerned", "frustrated", "angry")


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the next person needs first, in four parts; ``text`` is the editable draft."""

    state: list[str]
    pending: list[str]
    watch_for: list[str]
    commitments_due: list[str]

    def text(self) -> str:
        parts = [
            ("State", self.state, ""),
            ("Pending", self.pending, "nothing open"),
            ("Watch for", self.watch_for, "nothing in particular"),
            ("Commitments due", self.commitments_due, "none"),
        ]
        lines: list[str] = []
        for title, items, empty in parts:
            if title == "State":
                lines.append(f"State: {items[0]}")
                lines.extend(items[1:])
            elif items:
                lines.append(f"{title}:")
                lines.extend(f"- {item}" for item in items)
            else:
                lines.append(f"{title}: {empty}.")
        text = "\n".join(lines)
        return text if len(text) <= NOTE_MAX_CHARS else text[: NOTE_MAX_CHARS - 1] + "…"


@dataclass(frozen=True)
class PlanItem:
    handoff: Handoff
    rank: int
    priority: float  # what it will have in the receiver's queue right now
    reasons: list[str]  # why it is where it is
    fragility: Priority
    snapshot: Snapshot
    default_target: str = field(default="")  # "team:<name>": its own team's queue


def handover_plan(*, agent: AgentProfile, now: datetime | None = None) -> list[PlanItem]:
    """The agent's handoffs in preparation or chat, most critical first, each with a drafted snapshot."""
    now = now or timezone.now()
    handoffs = handing_over(agent)
    scored = []
    for handoff in handoffs:
        base = transfer_priority(handoff, handoff.conversation)
        fragility = _fragility(handoff, now=now)
        waited = max(0.0, (now - chain_start(handoff)).total_seconds())
        reasons = [*fragility.reasons, *base.reasons]
        if waited >= LONG_WAIT.total_seconds():
            reasons.append(f"first asked for a person {int(waited // 60)} min ago")
        score = Priority(base=base.base + fragility.base).at(queued_at=chain_start(handoff), now=now)
        scored.append((score, handoff, reasons, fragility))
    # Ties (same score to the hundredth) keep the oldest claim first: it has been with this agent longest.
    scored.sort(key=lambda row: (-round(row[0], 2), row[1].claimed_at or now))
    return [
        PlanItem(
            handoff=handoff,
            rank=rank,
            priority=round(score, 1),
            reasons=reasons,
            fragility=fragility,
            snapshot=snapshot_draft(handoff, now=now),
            default_target=f"team:{handoff.team.name}",
        )
        for rank, (score, handoff, reasons, fragility) in enumerate(scored, start=1)
    ]


def handing_over(agent: AgentProfile) -> list[Handoff]:
    """The agent's handoffs in preparation or chat, except those already on their way to someone in a warm
    transfer's overlap window: that transfer completes by itself when the window ends, agent or not."""
    held = Handoff.objects.filter(agent_id=agent.user_id, status__in=ACTIVE_STATUSES).select_related(
        "team", "conversation__customer"
    )
    return [handoff for handoff in held if pending_transfer(handoff) is None]


def _fragility(handoff: Handoff, *, now: datetime) -> Priority:
    package = handoff.conversation.context
    overdue, due_soon = _commitments_by_urgency(package, now=now)
    return handover_fragility(
        unanswered=_unanswered_since(package) is not None,
        overdue=len(overdue),
        due_soon=len(due_soon),
        earlier_handoffs=_earlier_handoffs(handoff),
    )


def _unanswered_since(package: dict[str, Any]) -> datetime | None:
    """When the customer's last message was sent, if nobody (bot or person) has answered it since."""
    for entry in reversed(package.get("transcript") or []):
        if entry.get("role") == "system":
            continue
        if entry.get("role") != "customer":
            return None
        return due_at(str(entry.get("at") or ""))
    return None


def _last_customer_text(package: dict[str, Any]) -> str:
    for entry in reversed(package.get("transcript") or []):
        if entry.get("role") == "customer":
            return str(entry.get("text") or "")
    return ""


def _commitments_by_urgency(
    package: dict[str, Any], *, now: datetime
) -> tuple[list[tuple[dict[str, Any], datetime]], list[tuple[dict[str, Any], datetime]]]:
    """(overdue, due soon) promises with their due moments: overdue is open past its due time or already
    marked broken by the overdue sweep; due soon is open and due within DUE_SOON_SECONDS."""
    overdue, soon = [], []
    for commitment in package.get("commitments") or []:
        moment = due_at(str(commitment.get("due") or ""))
        status = commitment.get("status", "open")
        if moment is None or status not in ("open", "broken"):
            continue
        if moment <= now:
            overdue.append((commitment, moment))
        elif status == "open" and (moment - now).total_seconds() <= DUE_SOON_SECONDS:
            soon.append((commitment, moment))
    return overdue, soon


def _earlier_handoffs(handoff: Handoff) -> int:
    """Handoffs of this conversation before this one (escalations and transfers)."""
    entries = handoff.conversation.context.get("handoffs") or []
    return sum(1 for entry in entries if entry.get("id") != str(handoff.id))


# --- the snapshot ---------------------------------------------------------------------------------


def snapshot_draft(handoff: Handoff, *, now: datetime) -> Snapshot:
    """State, pending, watch for and commitments due, drawn from the handoff's live package only."""
    package = handoff.conversation.context
    return Snapshot(
        state=_state(handoff, package, now=now),
        pending=_pending(package, now=now),
        watch_for=_watch_for(handoff, package, now=now),
        commitments_due=_commitments_due(package, now=now),
    )


def _state(handoff: Handoff, package: dict[str, Any], *, now: datetime) -> list[str]:
    """Two lines: where the chat stands (with whom, since when, their mood), and why they are here."""
    customer = handoff.conversation.customer
    who = customer.name or customer.external_id
    if handoff.status == HandoffStatus.CONNECTED and handoff.connected_at is not None:
        where = f"Connected with {who} for {_ago(now - handoff.connected_at)}"
    else:
        where = f"Claimed, not yet connected with {who} (preparation window)"
    emotion = package.get("emotion") or {}
    mood = str(emotion.get("current") or "neutral")
    trend = {"deteriorating": "getting worse", "improving": "getting better"}.get(emotion.get("trend") or "")
    escalation = package.get("escalation") or {}
    reason = str(escalation.get("reason") or handoff.reason)
    focus = str(escalation.get("focus") or handoff.focus)
    why = f"Why: {_clip(reason).rstrip('.')}." + (f" Focus: {_clip(focus).rstrip('.')}." if focus else "")
    opening = first_customer_text(package)
    if opening:
        why += f" In their words: “{_clip(opening, QUOTE_LIMIT)}”"
    return [f"{where}; {mood}{f' and {trend}' if trend else ''}; urgency {handoff.urgency}.", why]


def _pending(package: dict[str, Any], *, now: datetime) -> list[str]:
    items = []
    since = _unanswered_since(package)
    if since is not None:
        quote = _clip(_last_customer_text(package), QUOTE_LIMIT)
        items.append(f"Their last message has had no reply for {_ago(now - since)}: “{quote}”")
    for step in package.get("steps_attempted") or []:
        if step.get("outcome") == "pending":
            items.append(f"Step still pending: {_clip(str(step.get('action') or ''))}.")
    for commitment in package.get("commitments") or []:
        if commitment.get("status", "open") == "open" and not commitment.get("due"):
            items.append(f"Promised, no due time: {_clip(str(commitment.get('text') or ''))}")
    return items


def _watch_for(handoff: Handoff, package: dict[str, Any], *, now: datetime) -> list[str]:
    items = []
    emotion = package.get("emotion") or {}
    if emotion.get("trend") == "deteriorating":
        items.append(f"Mood is getting worse (now {emotion.get('current') or 'neutral'}).")
    elif emotion.get("current") in UPSET:
        items.append(f"The customer is {emotion['current']}.")
    given = _given(package)
    if given:
        items.append(f"Already given, don't ask again: {', '.join(given)}.")
    failed = [
        str(s.get("action") or "")
        for s in package.get("steps_attempted") or []
        if s.get("outcome") == "failed"
    ]
    if failed:
        items.append(f"Already tried and failed: {'; '.join(_clip(a, 80) for a in failed[-3:])}.")
    for commitment in package.get("commitments") or []:
        if commitment.get("status") == "broken":
            items.append(f"A promise was broken: {_clip(str(commitment.get('text') or ''))}")
    earlier = _earlier_handoffs(handoff)
    if earlier:
        items.append(f"Handed over {earlier}× before; they should not have to repeat anything.")
    waited = now - chain_start(handoff)
    if waited >= LONG_WAIT:
        items.append(f"They first asked for a person {_ago(waited)} ago.")
    return items


def _given(package: dict[str, Any]) -> list[str]:
    shown = []
    for item in (package.get("information_provided") or [])[:8]:
        slot, value = str(item.get("slot") or ""), str(item.get("value") or "")
        if slot in PRIMARY_SLOTS:
            shown.append(detail_phrase(slot, value))
        else:
            shown.append(f"{slot.replace('_', ' ')} {value}")
    return [_clip(text, 60) for text in shown]


def _commitments_due(package: dict[str, Any], *, now: datetime) -> list[str]:
    rows = []
    for commitment in package.get("commitments") or []:
        moment = due_at(str(commitment.get("due") or ""))
        if moment is None or commitment.get("status", "open") != "open":
            continue
        when = readable_due(str(commitment["due"]))
        late = f"overdue by {_ago(now - moment)}" if moment <= now else f"in {_ago(moment - now)}"
        rows.append((moment, f"{_clip(str(commitment.get('text') or '')).rstrip('.')} (due {when}, {late})."))
    return [text for _, text in sorted(rows, key=lambda row: row[0])]


def _ago(delta: timedelta) -> str:
    minutes = int(max(delta.total_seconds(), 0) // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _clip(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# --- targets --------------------------------------------------------------------------------------


def handover_colleagues(*, agent: AgentProfile) -> list[Colleague]:
    """Teammates a handoff may be routed to by name: available now, with ``room`` (capacity left)."""
    return colleagues_available(agent=agent)


# --- applying it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoverChoice:
    """One handoff as the agent sends it: the (edited) snapshot and exactly one of a team or a colleague."""

    handoff_id: str
    snapshot: str
    team: str = ""
    agent: str = ""  # a username


def _digest(choices: list[HandoverChoice], away: bool) -> str:
    body = [[c.handoff_id, c.snapshot.strip(), c.team, c.agent] for c in choices]
    return hashlib.sha256(json.dumps([body, away]).encode()).hexdigest()


@transaction.atomic
def handover_apply(
    *, agent: AgentProfile, items: list[HandoverChoice], key: str, away: bool = True
) -> tuple[Handover, bool]:
    """Transfer every listed handoff to its target, all or nothing; returns (handover, created).

    ``key`` identifies the request: the same key again returns the first handover without transferring
    anything (a different request under a used key is a 409). The items must be exactly the agent's
    active handoffs: one claimed since the page was drawn would otherwise be left behind when they go."""
    key = key.strip()[:100]
    if not key:
        raise InvalidInput(
            "A handover needs an idempotency key (the Idempotency-Key header).",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "required"}],
        )
    digest = _digest(items, away)
    try:
        with transaction.atomic():  # a concurrent retry waits on the unique key here, then finds the first
            handover = Handover.objects.create(agent=agent, key=key, request_sha256=digest, went_away=away)
    except IntegrityError:
        earlier = Handover.objects.get(agent=agent, key=key)
        if earlier.request_sha256 != digest:
            raise Conflict(
                "This idempotency key was used for a different handover.", code="idempotency_key_reused"
            ) from None
        return earlier, False

    items = _checked_items(agent, items)
    _lock_all([choice.handoff_id for choice in items])
    teams = {team.name: team for team in agent.teams.all()}
    colleagues = {person.username: person.profile for person in handover_colleagues(agent=agent)}
    for index, choice in enumerate(items):
        _check_target(choice, index, teams=teams, colleagues=colleagues)

    now = timezone.now()
    plan = {str(item.handoff.id): item for item in handover_plan(agent=agent, now=now)}
    # Most critical first, so the system turns and callbacks go out in the order receivers should act.
    ordered = sorted(items, key=lambda c: plan[c.handoff_id].rank)
    results = []
    for choice in ordered:
        item = plan[choice.handoff_id]
        # One step, no overlap window: the sender is leaving now, so nobody would be there to answer the
        # receiver's private notes, and the customer must not stay with someone who has gone.
        new = handoff_transfer(
            handoff_id=choice.handoff_id,
            agent=agent,
            note=choice.snapshot,
            team=choice.team,
            to_agent=choice.agent,
            overlap=False,
            fragility=item.fragility,
        )
        results.append(
            {
                "rank": item.rank,
                "handoff_id": choice.handoff_id,
                "next_handoff_id": str(new.id),
                "team": new.team.name,
                "agent": choice.agent or None,
            }
        )
    _check_room(items, colleagues)
    handover.items = results
    handover.save(update_fields=["items"])
    if away:
        # Away with the handover, all or nothing; the agent's pending offers are withdrawn once this commits
        # (agent_presence_set defers it): withdrawing locks handoffs, and this transaction holds profiles.
        agent_presence_set(agent=agent, presence=AgentProfile.Presence.AWAY)
    return handover, True


def _lock_all(handoff_ids: list[str]) -> None:
    """Lock every conversation, then every handoff, of the handover before anything else (in pk order).

    House order is conversation, handoff, then agent profile; between its transfers a handover locks
    profiles (offering a transferred handoff, then the room check), so the next transfer's conversation and
    handoff would come after a profile: taken here first, the transfers re-lock rows already held."""
    conversation_ids = sorted(
        Handoff.objects.filter(pk__in=handoff_ids).values_list("conversation_id", flat=True).distinct()
    )
    list(
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=conversation_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    list(
        Handoff.objects.select_for_update(of=("self",))
        .filter(pk__in=handoff_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _checked_items(agent: AgentProfile, items: list[HandoverChoice]) -> list[HandoverChoice]:
    """The items with canonical handoff ids, once they are exactly the agent's active handoffs."""
    if not items:
        raise InvalidInput(
            "You have no conversations to hand over.", errors=[{"loc": ["body", "items"], "msg": "empty"}]
        )
    seen: set[str] = set()
    canonical = []
    for index, choice in enumerate(items):
        # Another team's handoff is "not found", exactly like a missing one.
        pk = str(handoff_id_for_agent(agent=agent, handoff_id=choice.handoff_id))
        if pk in seen:
            raise InvalidInput(
                "The same conversation is listed twice.",
                errors=[{"loc": ["body", "items", index, "handoff_id"], "msg": "duplicate"}],
            )
        seen.add(pk)
        canonical.append(replace(choice, handoff_id=pk))
        if len(choice.snapshot.strip()) > NOTE_MAX_CHARS:
            raise InvalidInput(
                f"A snapshot is at most {NOTE_MAX_CHARS} characters.",
                errors=[{"loc": ["body", "items", index, "snapshot"], "msg": "too long"}],
            )
    active = {str(handoff.pk) for handoff in handing_over(agent)}
    if seen - active:
        raise Conflict(
            "One of these conversations is no longer yours to hand over; reload the page.",
            code="handover_stale",
        )
    if active - seen:
        raise Conflict(
            f"You took {len(active - seen)} more conversation(s) since this list was drawn; reload the page "
            "so that every one of them is handed over.",
            code="handover_incomplete",
        )
    return canonical


def _check_target(
    choice: HandoverChoice, index: int, *, teams: dict[str, Team], colleagues: dict[str, AgentProfile]
) -> None:
    where = ["body", "items", index]
    if bool(choice.team) == bool(choice.agent):
        raise InvalidInput(
            "Hand each conversation to a colleague or to a team queue (one of them).",
            errors=[{"loc": [*where, "team"], "msg": "give team or agent, not both"}],
        )
    if choice.team and choice.team not in teams:
        raise InvalidInput(
            f"{choice.team!r} is not one of your teams.",
            errors=[{"loc": [*where, "team"], "msg": "not your team"}],
        )
    if choice.agent and choice.agent not in colleagues:
        raise InvalidInput(
            f"{choice.agent!r} is not an available colleague in your teams right now; choose someone "
            "else or the team queue.",
            errors=[{"loc": [*where, "agent"], "msg": "not an available colleague"}],
        )
    if not choice.snapshot.strip():
        raise InvalidInput(
            "Each conversation needs a snapshot for the next person.",
            errors=[{"loc": [*where, "snapshot"], "msg": "required"}],
        )


def _check_room(items: list[HandoverChoice], colleagues: dict[str, AgentProfile]) -> None:
    """No colleague is sent more than their capacity: the transfers reserved for them are counted with
    what they already hold, under a lock on their profiles (taken after the conversations, in the usual
    order) so that two handovers to the same person cannot both squeeze in."""
    names = sorted({choice.agent for choice in items if choice.agent})
    if not names:
        return
    people = list(
        AgentProfile.objects.select_for_update(of=("self",))
        .filter(pk__in=[colleagues[name].pk for name in names])
        .order_by("pk")
        .select_related("user")
    )
    loads = agent_loads(person.user_id for person in people)
    for person in people:
        if loads[person.user_id] > person.capacity:
            sent = sum(1 for choice in items if choice.agent == person.user.get_username())
            room = max(0, person.capacity - (loads[person.user_id] - sent))
            raise InvalidInput(
                f"{person_name(person.user)} has room for {room} more conversation"
                f"{'' if room == 1 else 's'}; you routed {sent} to them.",
                errors=[{"loc": ["body", "items"], "msg": f"over capacity: {person.user.get_username()}"}],
            )
